import { createHash } from "node:crypto";
import type { ChatTurn, Feedback } from "./feedback-store.js";

/** One thing to teach the model: a prompt in chat format and the answer the user wants to it. */
export interface TrainingExample {
  /** sha256 (hex, 16 chars) of the normalised messages + answer: stable across runs, used to dedupe and to split. */
  id: string;
  /** The prompt side in chat format: prior messages (from feedback.messages when present) ending with the user turn (feedback.prompt). */
  messages: ChatTurn[];
  /** What the model should answer: the correction for a down-vote with a correction (also an up-vote with a correction), else the answer of an up-vote. */
  answer: string;
  kind: "positive" | "correction";
  /** Every rating that taught this example, oldest first. */
  feedbackIds: number[];
  /** Of the newest of those ratings, Unix ms. */
  createdAt: number;
}

/**
 * Why a rating taught nothing. `duplicate`: the rating's example was replaced by a later correction to the same
 * prompt. `over_limit`: a valid example left out by `maxExamples` (the oldest go first).
 */
export type DropReason =
  "other_user" | "negative_without_correction" | "guard" | "duplicate" | "empty" | "over_limit";

export interface DroppedFeedback {
  feedbackId: number;
  reason: DropReason;
}

export interface BuildTrainingSetOptions {
  /** Whose ratings to learn from; every other user's are dropped (`other_user`), never mixed in. */
  userId: string;
  /** True when a text is a prompt-injection attack: the rating is dropped (`guard`). */
  screen: (text: string) => boolean;
  /** Keep at most this many examples, the newest. Default: all. */
  maxExamples?: number;
}

export interface TrainingSet {
  /** By `createdAt`, then the newest feedback id. */
  examples: TrainingExample[];
  /** By the rating's `createdAt`, then id. */
  dropped: DroppedFeedback[];
}

/**
 * A user's ratings as training examples. Every rating ends up either in one example's `feedbackIds` or in
 * `dropped`, once (a rating given twice in `feedback` is read once).
 *
 * - Only `userId`'s ratings count; a thumbs down without a correction teaches nothing.
 * - The prompt side is `feedback.messages` (blank turns left out) then the user's `prompt`; the answer is the
 *   correction when there is one, else the up-voted answer.
 * - `screen` reads every text that goes into the example (each message, the prompt, the answer taught; not an
 *   answer a correction replaces) and a hit drops the rating.
 * - Ratings teaching the same messages and answer (trimmed, whitespace collapsed, case-folded) are one example;
 *   the newest gives its text, kind and time.
 * - A correction replaces the examples taught earlier for the same prompt (the user changed their mind); an
 *   up-vote after it adds a second accepted answer.
 * - Texts of any length are kept as they are: the trainer, which knows the model's context, decides what fits.
 */
export function buildTrainingSet(
  feedback: readonly Feedback[],
  options: BuildTrainingSetOptions,
): TrainingSet {
  const { maxExamples } = options;
  if (maxExamples !== undefined && !(Number.isInteger(maxExamples) && maxExamples >= 0))
    throw new RangeError(`maxExamples must be an integer ≥ 0, got ${maxExamples}`);
  const dropped: DroppedFeedback[] = [];
  // Live examples by id, and the ids taught for each prompt (normalised messages).
  const examples = new Map<string, TrainingExample>();
  const byPrompt = new Map<string, Set<string>>();

  const seen = new Set<number>();
  const ordered = [...feedback].sort(byTimeThenId).filter((item) => !seen.has(item.id) && seen.add(item.id));
  for (const item of ordered) {
    const drop = (reason: DropReason) => dropped.push({ feedbackId: item.id, reason });
    if (item.userId !== options.userId) {
      drop("other_user");
      continue;
    }
    const correction = item.correction?.trim() ?? "";
    if (item.rating === "down" && correction === "") {
      drop("negative_without_correction");
      continue;
    }
    const answer = correction === "" ? item.answer.trim() : correction;
    const prompt = item.prompt.trim();
    if (prompt === "" || answer === "") {
      drop("empty");
      continue;
    }
    const messages = promptMessages(item.messages ?? [], prompt);
    if (messages.some((turn) => options.screen(turn.content)) || options.screen(answer)) {
      drop("guard");
      continue;
    }

    const kind = correction === "" ? "positive" : "correction";
    const promptKey = normalisedKey(messages);
    const id = hashId(normalisedKey(messages, answer));
    const previous = examples.get(id);
    const taught = byPrompt.get(promptKey) ?? new Set<string>();
    byPrompt.set(promptKey, taught);
    if (kind === "correction") {
      for (const otherId of taught) {
        if (otherId === id) continue;
        for (const feedbackId of examples.get(otherId)?.feedbackIds ?? [])
          dropped.push({ feedbackId, reason: "duplicate" });
        examples.delete(otherId);
        taught.delete(otherId);
      }
    }
    // The newest wins: re-inserting moves the example to the end of the map.
    examples.delete(id);
    examples.set(id, {
      id,
      messages,
      answer,
      kind,
      feedbackIds: [...(previous?.feedbackIds ?? []), item.id],
      createdAt: item.createdAt,
    });
    taught.add(id);
  }

  // Read in time order, so the map is already by createdAt then newest id (a merge moved its example last).
  const all = [...examples.values()];
  const cut = maxExamples === undefined ? 0 : Math.max(0, all.length - maxExamples);
  for (const example of all.slice(0, cut)) {
    for (const feedbackId of example.feedbackIds) dropped.push({ feedbackId, reason: "over_limit" });
  }
  const position = new Map(ordered.map((item, index) => [item.id, index]));
  dropped.sort((a, b) => (position.get(a.feedbackId) ?? 0) - (position.get(b.feedbackId) ?? 0));
  return { examples: all.slice(cut), dropped };
}

export interface SplitOptions {
  /** The share of examples held out for evaluation, between 0 and 1 (both excluded). */
  heldOutFraction: number;
  /** Changes which examples are held out. Default: `""`. */
  seed?: string;
}

export interface SplitExamples {
  train: TrainingExample[];
  heldOut: TrainingExample[];
}

/**
 * Train and held-out sets, each in the input's order. An example is held out when the hash of the seed and its id
 * falls under `heldOutFraction`, so it keeps its side as more feedback arrives. With two examples or more and none
 * held out that way, the one whose hash is nearest the boundary is held out: as examples are added it can only go
 * back to train (it was never trained on), never the other way.
 */
export function splitExamples(examples: readonly TrainingExample[], options: SplitOptions): SplitExamples {
  const { heldOutFraction } = options;
  if (!(heldOutFraction > 0 && heldOutFraction < 1))
    throw new RangeError(`heldOutFraction must be between 0 and 1 (excluded), got ${heldOutFraction}`);
  const seed = options.seed ?? "";
  const points = examples.map((example) => splitPoint(seed, example.id));
  const heldOut = new Set<number>();
  points.forEach((point, index) => {
    if (point < heldOutFraction) heldOut.add(index);
  });
  if (examples.length >= 2 && heldOut.size === 0) heldOut.add(indexOfLowest(points));
  return {
    train: examples.filter((_, index) => !heldOut.has(index)),
    heldOut: examples.filter((_, index) => heldOut.has(index)),
  };
}

/**
 * The examples in the OpenAI fine-tuning chat format: one `{"messages": [..., {"role": "assistant", "content":
 * answer}]}` per line, each line ended by a newline; `""` for none.
 */
export function toChatJsonl(examples: readonly TrainingExample[]): string {
  return examples
    .map(
      (example) =>
        `${JSON.stringify({ messages: [...example.messages, { role: "assistant", content: example.answer }] })}\n`,
    )
    .join("");
}

const byTimeThenId = (a: Feedback, b: Feedback) => a.createdAt - b.createdAt || a.id - b.id;

/** The history without blank turns, then the prompt as the user's turn (unless the history already ends with it). */
function promptMessages(history: readonly ChatTurn[], prompt: string): ChatTurn[] {
  const turns = history
    .map((turn) => ({ role: turn.role, content: turn.content.trim() }))
    .filter((turn) => turn.content !== "");
  const last = turns[turns.length - 1];
  if (last?.role === "user" && normalise(last.content) === normalise(prompt)) turns.pop();
  return [...turns, { role: "user", content: prompt }];
}

function normalise(text: string): string {
  return text.normalize("NFC").trim().replace(/\s+/gu, " ").toLowerCase();
}

function normalisedKey(messages: readonly ChatTurn[], answer?: string): string {
  const turns = messages.map((turn) => [turn.role, normalise(turn.content)]);
  return JSON.stringify(answer === undefined ? turns : [turns, normalise(answer)]);
}

function hashId(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

/** A point in [0, 1) from the seed and the id, uniform over ids. */
function splitPoint(seed: string, id: string): number {
  const digest = createHash("sha256").update(`${seed}\u0000${id}`).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

function indexOfLowest(points: readonly number[]): number {
  let lowest = 0;
  points.forEach((point, index) => {
    if (point < (points[lowest] ?? point)) lowest = index;
  });
  return lowest;
}
