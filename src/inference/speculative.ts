import type {
  ControlledEvaluateIndexOutput,
  ControlledEvaluateInputItem,
  LlamaContextSequence,
  LlamaModel,
  Token,
} from "node-llama-cpp";
import { AbortedError, AppError, createRandom } from "../shared/index.js";

/**
 * Speculative decoding on node-llama-cpp's lower-level evaluation API: a small draft model proposes k tokens,
 * the main model checks all of them in one batch (`controlledEvaluate`, one output per position), and the
 * longest agreeing prefix plus the main model's own next token are kept. Rejected positions are erased from
 * both KV caches. Greedy output is the main model's, token for token; with sampling, standard speculative
 * sampling (accept with min(1, p/q), else resample from max(0, p − q)) keeps the main model's distribution.
 *
 * node-llama-cpp's own `DraftSequenceTokenPredictor` accepts at most one drafted token per batch in 3.22.1
 * and can stall; this loop does not use it (docs/spikes/speculative/FINDINGS.md).
 */

export interface SpeculativeSettings {
  /** Fewest tokens drafted per round (1–16). */
  minDraftTokens: number;
  /** Most tokens drafted per round (1–16); the context's batch must hold this plus one. */
  maxDraftTokens: number;
  /** Below this acceptance over the last `windowTokens` drafted tokens, the request goes on plain. */
  acceptanceFloor: number;
  /** Drafted tokens the acceptance window spans. */
  windowTokens: number;
  /** A model evaluation that takes longer than this is a stall: the generation fails instead of hanging. */
  stallTimeoutMs: number;
  /** Every this many rounds one plain step is timed as the speed baseline; 0 never. */
  baselineEvery: number;
}

export const defaultSpeculativeSettings: Readonly<SpeculativeSettings> = Object.freeze({
  minDraftTokens: 1,
  maxDraftTokens: 8,
  acceptanceFloor: 0.6,
  windowTokens: 32,
  stallTimeoutMs: 30_000,
  baselineEvery: 32,
});

export interface DecodeSampling {
  /** 0 is greedy. */
  temperature: number;
  topK: number;
  topP: number;
  seed?: number | undefined;
}

/** One model and the sequence it decodes in. */
export interface DecodeSide {
  model: LlamaModel;
  sequence: LlamaContextSequence;
}

export interface SpeculativeInput {
  target: DecodeSide;
  /** The draft model; without one every step is a plain main-model step (own decode loop, token probabilities). */
  draft?: DecodeSide | undefined;
  promptTokens: readonly Token[];
  maxTokens: number;
  sampling: DecodeSampling;
  /** Tokens that end the generation besides the model's end-of-generation tokens; never part of the text. */
  stopTokens: ReadonlySet<Token>;
  /** Texts that end the generation; the text ends before the first one found. */
  stopTexts: readonly string[];
  /** Apply node-llama-cpp's default repeat penalty (1.1 over the last 64 generated tokens, newlines spared). */
  repeatPenalty: boolean;
  onText?: ((text: string) => void) | undefined;
  /** Called once, when the first token is known. */
  onFirstToken?: (() => void) | undefined;
  /** Also report the main model's probability of each token when greedy (sampling always has them). */
  tokenProbabilities?: boolean | undefined;
  signal: AbortSignal;
  settings: SpeculativeSettings;
  /** Draft length of the first round (from the pair's last request). */
  initialDraftTokens?: number | undefined;
}

export interface SpeculativeStats {
  /** Tokens the draft proposed. */
  drafted: number;
  /** Proposed tokens the main model kept. */
  accepted: number;
  /** Verification batches run on the main model. */
  rounds: number;
  /** Whether the request went on plain because acceptance fell below the floor. */
  fellBack: boolean;
  /** Draft length at the end (adaptive). */
  finalDraftTokens: number;
  /** Time and tokens of speculative rounds. */
  speculativeMs: number;
  speculativeTokens: number;
  /** Time and tokens of plain steps (after a fallback, and the timed baseline steps). */
  plainMs: number;
  plainTokens: number;
}

export interface SpeculativeResult {
  text: string;
  tokens: Token[];
  /**
   * The main model's probability of each generated token, in order (under the request's sampling options:
   * the untempered softmax when greedy, the sampled distribution otherwise).
   */
  probabilities: number[];
  finishReason: "stop" | "length";
  stats: SpeculativeStats;
}

/** node-llama-cpp's defaults for LlamaChat and LlamaCompletion: penalty 1.1 over the last 64 tokens. */
const repeatPenaltyLastTokens = 64;

/** A model evaluation that did not finish within the stall timeout. */
export class SpeculativeStallError extends AppError {
  constructor(what: string, ms: number) {
    super(
      "INFERENCE_FAILED",
      `speculative decoding stalled: ${what} did not finish within ${ms} ms (inference.speculative.stallTimeoutMs)`,
    );
    this.name = "SpeculativeStallError";
  }
}

/**
 * Rejects when `promise` has not settled within `ms`. The timer also keeps Node's event loop alive: a native
 * evaluation that never settles with nothing else pending would otherwise let the process exit with code 0.
 */
export function withWatchdog<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SpeculativeStallError(what, ms)), ms);
  });
  return Promise.race([promise, stalled]).finally(() => clearTimeout(timer));
}

function sampleFrom(distribution: ReadonlyMap<Token, number>, random: () => number): Token {
  let u = random();
  let last: Token | undefined;
  for (const [token, p] of distribution) {
    last = token;
    u -= p;
    if (u <= 0) return token;
  }
  if (last === undefined) throw new AppError("INFERENCE_FAILED", "the model returned an empty distribution");
  return last;
}

/** The main model's choice at a rejected position: max(0, p − q) normalised, or p when that is empty. */
function sampleResidual(
  p: ReadonlyMap<Token, number>,
  q: ReadonlyMap<Token, number>,
  random: () => number,
): Token {
  const residual = new Map<Token, number>();
  let total = 0;
  for (const [token, pv] of p) {
    const r = pv - (q.get(token) ?? 0);
    if (r > 0) {
      residual.set(token, r);
      total += r;
    }
  }
  if (total <= 0) return sampleFrom(p, random);
  for (const [token, r] of residual) residual.set(token, r / total);
  return sampleFrom(residual, random);
}

/**
 * Generates with the draft proposing and the target deciding. Both sequences must be empty and have room for
 * the prompt, `maxTokens` and `maxDraftTokens + 1` more tokens.
 */
export async function generateSpeculative(input: SpeculativeInput): Promise<SpeculativeResult> {
  return new SpeculativeRun(input).run();
}

class SpeculativeRun {
  readonly #in: SpeculativeInput;
  readonly #greedy: boolean;
  /**
   * Without a draft, sampling needs no full distributions (speculative sampling does): llama.cpp's sampler
   * picks each token, seeded per step from this run's PRNG, and reports the picked token's probability.
   */
  readonly #nativeSampling: boolean;
  readonly #random: () => number;
  readonly #stats: SpeculativeStats;
  readonly #generated: Token[] = [];
  readonly #probabilities: number[] = [];
  /** Drafted/accepted counts of recent rounds, newest last, spanning about `windowTokens` drafted tokens. */
  readonly #window: { drafted: number; accepted: number }[] = [];
  readonly #nl: Token | null;
  #k: number;
  #text = "";
  #emitted = 0;
  #finish: "stop" | "length" | undefined;
  /** The newest token: chosen by the target, evaluated by neither model yet. */
  #last: Token = 0 as Token;
  /** Tokens the draft has not evaluated yet (it drafts after them). */
  #draftPending: Token[] = [];

  constructor(input: SpeculativeInput) {
    this.#in = input;
    this.#greedy = input.sampling.temperature <= 0;
    this.#nativeSampling = !this.#greedy && input.draft === undefined;
    this.#random = createRandom(input.sampling.seed ?? Math.floor(Math.random() * 2 ** 32));
    const { minDraftTokens, maxDraftTokens } = input.settings;
    this.#k = clamp(input.initialDraftTokens ?? Math.min(4, maxDraftTokens), minDraftTokens, maxDraftTokens);
    this.#nl = input.target.model.tokens.nl;
    this.#stats = {
      drafted: 0,
      accepted: 0,
      rounds: 0,
      fellBack: false,
      finalDraftTokens: this.#k,
      speculativeMs: 0,
      speculativeTokens: 0,
      plainMs: 0,
      plainTokens: 0,
    };
  }

  async run(): Promise<SpeculativeResult> {
    const { target, draft, promptTokens, maxTokens } = this.#in;
    if (promptTokens.length === 0) throw new AppError("INVALID_REQUEST", "the prompt is empty");
    // Both models read the prompt; the target's choice after it is the first token.
    const [outputs] = await Promise.all([
      this.#guard(
        target.sequence.controlledEvaluate(
          promptTokens.map((token, i) =>
            i === promptTokens.length - 1 ? this.#item(token, this.#generated) : token,
          ),
        ),
        "the main model reading the prompt",
      ),
      draft === undefined
        ? undefined
        : this.#guard(
            draft.sequence.evaluateWithoutGeneratingNewTokens([...promptTokens]),
            "the draft model reading the prompt",
          ),
    ]);
    const [first, probability] = this.#choose(outputs.at(-1));
    this.#in.onFirstToken?.();
    this.#draftPending = [first];
    this.#last = first;
    if (!this.#push(first, probability)) return this.#result();

    let round = 0;
    while (this.#finish === undefined) {
      if (this.#in.signal.aborted) throw new AbortedError();
      round++;
      const baseline = this.#in.settings.baselineEvery > 0 && round % this.#in.settings.baselineEvery === 0;
      if (draft === undefined || this.#stats.fellBack || baseline) await this.#plainStep();
      else await this.#speculativeRound(maxTokens - this.#generated.length);
      this.#flushText(false);
    }
    return this.#result();
  }

  /** One main-model step without the draft: the fallback, and the timed baseline. */
  async #plainStep(): Promise<void> {
    const started = performance.now();
    const outputs = await this.#guard(
      this.#in.target.sequence.controlledEvaluate([this.#item(this.#last, this.#generated)]),
      "the main model",
    );
    const [next, probability] = this.#choose(outputs[0]);
    this.#stats.plainMs += performance.now() - started;
    this.#stats.plainTokens++;
    if (!this.#stats.fellBack && this.#in.draft !== undefined) this.#draftPending.push(next);
    this.#last = next;
    this.#push(next, probability);
  }

  async #speculativeRound(remaining: number): Promise<void> {
    const { target } = this.#in;
    const draft = this.#in.draft as DecodeSide;
    const started = performance.now();
    const k = Math.max(1, Math.min(this.#k, remaining));

    // 1. Draft k tokens, one evaluation each; the draft's cache then holds everything but the last draft.
    const drafted: Token[] = [];
    const draftDistributions: ReadonlyMap<Token, number>[] = [];
    let pending: Token[] = this.#draftPending;
    while (drafted.length < k) {
      const history = [...this.#generated, ...drafted];
      const outputs = await this.#guard(
        draft.sequence.controlledEvaluate(
          pending.map((token, i) => (i === pending.length - 1 ? this.#item(token, history) : token)),
        ),
        "the draft model",
      );
      const next = outputs.at(-1)?.next;
      let token: Token;
      if (this.#greedy) {
        token = requireToken(next?.token);
      } else {
        const q = requireDistribution(next?.probabilities);
        draftDistributions.push(q);
        token = sampleFrom(q, this.#random);
      }
      drafted.push(token);
      pending = [token];
    }

    // 2. Verify [last, d1..dk] in one batch: the target's choice after each position.
    const verifyItems = [this.#last, ...drafted].map((token, i) =>
      this.#item(token, [...this.#generated, ...drafted.slice(0, i)]),
    );
    const outputs = await this.#guard(target.sequence.controlledEvaluate(verifyItems), "the main model");

    // 3. Keep the agreeing prefix, then the target's own token.
    let accepted = 0;
    let next: Token | undefined;
    // The main model's probability of each kept token: positions 0..accepted-1 are the drafts, then `next`.
    const kept: number[] = [];
    if (this.#greedy) {
      const choices = outputs.map((output) => requireToken(output?.next.token));
      while (accepted < k && choices[accepted] === drafted[accepted]) accepted++;
      next = choices[accepted];
      for (let i = 0; i <= accepted; i++) kept.push(outputs[i]?.next.confidence ?? Number.NaN);
    } else {
      for (; accepted < k; accepted++) {
        const p = requireDistribution(outputs[accepted]?.next.probabilities);
        const q = draftDistributions[accepted] as ReadonlyMap<Token, number>;
        const token = drafted[accepted] as Token;
        const ratio = (p.get(token) ?? 0) / (q.get(token) ?? 1);
        kept.push(p.get(token) ?? 0);
        if (this.#random() < Math.min(1, ratio)) continue;
        kept.pop();
        next = sampleResidual(p, q, this.#random);
        kept.push(p.get(next) ?? 0);
        break;
      }
      if (next === undefined) {
        const p = requireDistribution(outputs[k]?.next.probabilities);
        next = sampleFrom(p, this.#random);
        kept.push(p.get(next) ?? 0);
      }
    }
    if (next === undefined) throw new AppError("INFERENCE_FAILED", "the main model chose no token");

    // 4. Erase what was rejected: the target evaluated last + k drafts, the draft its pending + k − 1.
    const targetRejected = k - accepted;
    const draftRejected = k - 1 - Math.min(accepted, k - 1);
    await Promise.all([
      targetRejected > 0 ? eraseTail(target.sequence, targetRejected) : undefined,
      draftRejected > 0 ? eraseTail(draft.sequence, draftRejected) : undefined,
    ]);
    this.#draftPending = accepted === k ? [drafted[k - 1] as Token, next] : [next];
    this.#last = next;

    this.#stats.rounds++;
    this.#stats.drafted += k;
    this.#stats.accepted += accepted;
    this.#adapt(k, accepted);
    let pushed = 0;
    for (const [i, token] of [...drafted.slice(0, accepted), next].entries()) {
      pushed++;
      if (!this.#push(token, kept[i] ?? Number.NaN)) break;
    }
    this.#stats.speculativeMs += performance.now() - started;
    this.#stats.speculativeTokens += pushed;
  }

  /** Adaptive draft length, and the fallback when the window's acceptance is under the floor. */
  #adapt(k: number, accepted: number): void {
    const { minDraftTokens, maxDraftTokens, acceptanceFloor, windowTokens } = this.#in.settings;
    this.#k = accepted === k ? Math.min(maxDraftTokens, this.#k + 2) : accepted + 1;
    this.#k = clamp(this.#k, minDraftTokens, maxDraftTokens);
    this.#stats.finalDraftTokens = this.#k;
    this.#window.push({ drafted: k, accepted });
    let drafted = 0;
    let kept = 0;
    for (const round of this.#window) {
      drafted += round.drafted;
      kept += round.accepted;
    }
    while (this.#window.length > 1 && drafted - (this.#window[0]?.drafted ?? 0) >= windowTokens) {
      const oldest = this.#window.shift();
      drafted -= oldest?.drafted ?? 0;
      kept -= oldest?.accepted ?? 0;
    }
    if (drafted >= windowTokens && kept / drafted < acceptanceFloor) this.#stats.fellBack = true;
  }

  /** Adds a token the target chose; false when the generation ends with it (it is then not added). */
  #push(token: Token, probability: number): boolean {
    if (this.#finish !== undefined) return false;
    const model = this.#in.target.model;
    if (model.isEogToken(token) || this.#in.stopTokens.has(token)) {
      this.#finish = "stop";
      return false;
    }
    this.#generated.push(token);
    this.#probabilities.push(probability);
    if (this.#generated.length >= this.#in.maxTokens) this.#finish = "length";
    return this.#finish === undefined;
  }

  /** Renders the text so far, ends it at a stop text, and streams what can no longer change. */
  #flushText(final: boolean): void {
    this.#text = this.#in.target.model.detokenize(this.#generated);
    const from = Math.max(0, this.#emitted - longest(this.#in.stopTexts));
    let cut = -1;
    for (const stop of this.#in.stopTexts) {
      const at = this.#text.indexOf(stop, from);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.#text = this.#text.slice(0, cut);
      this.#finish = "stop";
      final = true;
    }
    if (this.#finish !== undefined) final = true;
    let end = this.#text.length;
    if (!final) {
      // Hold back a partial UTF-8 character and a tail that may be the start of a stop text.
      if (this.#text.endsWith("\uFFFD")) end--;
      end -= heldBackForStops(this.#text.slice(0, end), this.#in.stopTexts);
    }
    if (end > this.#emitted) {
      this.#in.onText?.(this.#text.slice(this.#emitted, end));
      this.#emitted = end;
    }
  }

  #result(): SpeculativeResult {
    this.#finish ??= "stop";
    this.#flushText(true);
    return {
      text: this.#text,
      tokens: this.#generated,
      // A stop text may have cut the text inside the last tokens; their probabilities still describe the answer.
      probabilities: this.#probabilities,
      finishReason: this.#finish,
      stats: this.#stats,
    };
  }

  /** An evaluation item that asks for the next token (greedy) or its distribution (sampling). */
  #item(token: Token, history: readonly Token[]): ControlledEvaluateInputItem {
    const { temperature, topK, topP } = this.#in.sampling;
    const options = {
      temperature,
      topK,
      topP,
      ...(this.#in.repeatPenalty ? { repeatPenalty: { punishTokens: this.#penaltyTokens(history) } } : {}),
    };
    const confidence = this.#in.tokenProbabilities === true;
    if (this.#nativeSampling) {
      const seed = Math.floor(this.#random() * 2 ** 32);
      return [token, { generateNext: { token: true, confidence, options: { ...options, seed } } }];
    }
    return [
      token,
      {
        generateNext: this.#greedy ? { token: true, confidence, options } : { probabilities: true, options },
      },
    ];
  }

  /** The tokens node-llama-cpp's LlamaChat and LlamaCompletion punish: the last 64 generated, newlines spared. */
  #penaltyTokens(history: readonly Token[]): Token[] {
    const last = history.slice(-repeatPenaltyLastTokens);
    return this.#nl === null ? last : last.filter((token) => token !== this.#nl);
  }

  /** The target's next token and its probability. */
  #choose(output: ControlledEvaluateIndexOutput | undefined): [Token, number] {
    if (this.#greedy || this.#nativeSampling)
      return [requireToken(output?.next.token), output?.next.confidence ?? Number.NaN];
    const distribution = requireDistribution(output?.next.probabilities);
    const token = sampleFrom(distribution, this.#random);
    return [token, distribution.get(token) ?? 0];
  }

  #guard<T>(promise: Promise<T>, what: string): Promise<T> {
    // The watchdog guards the draft pair's evaluations; plain decoding (no draft) has none, as LlamaChat has
    // none: a long prompt on a slow CPU is not a stall.
    if (this.#in.draft === undefined) return promise;
    return withWatchdog(promise, this.#in.settings.stallTimeoutMs, what);
  }
}

function eraseTail(sequence: LlamaContextSequence, count: number): Promise<void> {
  const end = sequence.nextTokenIndex;
  return sequence.eraseContextTokenRanges([{ start: end - count, end }]);
}

function requireToken(token: Token | null | undefined): Token {
  if (token === undefined || token === null) {
    throw new AppError("INFERENCE_FAILED", "the model returned no token for a position it was asked about");
  }
  return token;
}

function requireDistribution(map: Map<Token, number> | undefined): ReadonlyMap<Token, number> {
  if (map === undefined || map.size === 0) {
    throw new AppError("INFERENCE_FAILED", "the model returned no probabilities for a sampled position");
  }
  return map;
}

function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, value));
}

function longest(texts: readonly string[]): number {
  let max = 0;
  for (const text of texts) max = Math.max(max, text.length);
  return max;
}

/** Length of the longest tail of `text` that is a proper prefix of some stop text. */
function heldBackForStops(text: string, stops: readonly string[]): number {
  let held = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, text.length); n > held; n--) {
      if (text.endsWith(stop.slice(0, n))) {
        held = n;
        break;
      }
    }
  }
  return held;
}
