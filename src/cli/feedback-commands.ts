import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { createGuardChecker } from "../assemble.js";
import type { LoadedConfig } from "../config/index.js";
import {
  buildTrainingSet,
  FeedbackStore,
  toChatJsonl,
  type DropReason,
  type Feedback,
  type Rating,
} from "../learning/index.js";
import { UsageError } from "./usage-error.js";

const defaultUser = "anonymous";
const formats = ["chat", "raw"] as const;
type ExportFormat = (typeof formats)[number];

/** How many rows one read of the database takes while exporting. */
const exportPage = 10_000;

/**
 * `sarai feedback list|export`: the users' ratings straight from the feedback database (`learning.database`), and
 * the training set the learning loop would build from them. Neither creates the database when it is missing.
 */
export function registerFeedbackCommands(program: Command, loadConfigured: () => LoadedConfig): void {
  const feedback = program
    .command("feedback")
    .description("the users' thumbs up/down and corrections (the learning loop's input): list, export");

  feedback
    .command("list")
    .description("a user's ratings, newest first")
    .option("-u, --user <id>", "whose ratings", defaultUser)
    .option("--rating <rating>", "only up or only down")
    .option("--limit <n>", "at most this many, 1–1000", "20")
    .option("--json", "print JSON (the shape GET /v1/feedback answers)")
    .action((flags: { user: string; rating?: string; limit: string; json?: boolean }) => {
      const rating = flags.rating === undefined ? undefined : parseRating(flags.rating);
      const limit = parseCount("--limit", flags.limit, 1, 1000);
      const found =
        withStore(loadConfigured(), (store) =>
          store.list(flags.user, { limit, ...(rating === undefined ? {} : { rating }) }),
        ) ?? [];
      if (flags.json === true) process.stdout.write(`${JSON.stringify(found.map(toJson), null, 2)}\n`);
      else if (found.length === 0) process.stdout.write(`no feedback from ${flags.user}\n`);
      else for (const item of found) process.stdout.write(formatLine(item));
    });

  feedback
    .command("export")
    .description(
      "a user's ratings as training JSONL (chat: the examples the learning loop trains on) or as stored (raw)",
    )
    .option("-u, --user <id>", "whose ratings", defaultUser)
    .option("-o, --out <file>", "write to this file (created owner-only) instead of stdout")
    .option(
      "--format <format>",
      "chat (OpenAI fine-tuning chat format) or raw (one stored rating per line)",
      "chat",
    )
    .action(async (flags: { user: string; out?: string; format: string }) => {
      const format = parseFormat(flags.format);
      const loaded = loadConfigured();
      const rows = withStore(loaded, (store) => readAll(store, flags.user)) ?? [];
      let text: string;
      let summary: string;
      if (format === "raw") {
        text = rows.map((item) => `${JSON.stringify(toJson(item))}\n`).join("");
        summary = `${plural(rows.length, "rating")} from ${flags.user}`;
      } else {
        const checker = createGuardChecker(loaded.config);
        const set = buildTrainingSet(rows, {
          userId: flags.user,
          screen: (input) => checker.check(input).verdict === "attack",
        });
        text = toChatJsonl(set.examples);
        summary = `${plural(set.examples.length, "example")} from ${plural(rows.length, "rating")} of ${flags.user}${formatDropped(set.dropped.map((d) => d.reason))}`;
      }
      if (flags.out === undefined) process.stdout.write(text);
      else {
        try {
          await writeFile(flags.out, text, { mode: 0o600 });
        } catch (error) {
          throw new UsageError(
            `--out: cannot write ${flags.out}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
          );
        }
      }
      process.stderr.write(
        `sarai: exported ${summary}${flags.out === undefined ? "" : ` to ${flags.out}`}\n`,
      );
    });
}

/** `fn` on the feedback database; undefined without opening anything when the file does not exist yet. */
function withStore<T>(loaded: LoadedConfig, fn: (store: FeedbackStore) => T): T | undefined {
  const file = loaded.config.learning.database;
  if (!existsSync(file)) return undefined;
  const store = FeedbackStore.open({ file });
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

/** Every rating of the user, oldest first. */
function readAll(store: FeedbackStore, userId: string): Feedback[] {
  const rows: Feedback[] = [];
  for (;;) {
    const page = store.since(rows[rows.length - 1]?.id ?? 0, exportPage, { userId });
    rows.push(...page);
    if (page.length < exportPage) return rows;
  }
}

/** The wire shape of `GET /v1/feedback`. */
function toJson(item: Feedback) {
  return {
    id: item.id,
    object: "feedback",
    user: item.userId,
    rating: item.rating,
    prompt: item.prompt,
    answer: item.answer,
    correction: item.correction,
    comment: item.comment,
    response_id: item.responseId,
    model: item.model,
    messages: item.messages,
    conversation_id: item.conversationId,
    adapter: item.adapter,
    created_at: new Date(item.createdAt).toISOString(),
  };
}

function formatLine(item: Feedback): string {
  const when = new Date(item.createdAt).toISOString().replace("T", " ").slice(0, 16);
  const fix = item.correction === null ? "" : `  → ${clip(item.correction)}`;
  const adapter = item.adapter === null ? "" : `  [${item.adapter}]`;
  return `#${item.id}  ${when}  ${item.rating.padEnd(4)}  ${clip(item.prompt)}  ⇒ ${clip(item.answer)}${fix}${adapter}\n`;
}

/** One line of at most 60 characters. */
function clip(text: string): string {
  const line = text.replace(/\s+/gu, " ").trim();
  return line.length <= 60 ? line : `${line.slice(0, 59)}…`;
}

function formatDropped(reasons: readonly DropReason[]): string {
  if (reasons.length === 0) return "";
  const counts = new Map<DropReason, number>();
  for (const reason of reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  const parts = [...counts].map(([reason, n]) => `${n} ${reason.replaceAll("_", " ")}`);
  return `; left out: ${parts.join(", ")}`;
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

function parseRating(value: string): Rating {
  if (value === "up" || value === "down") return value;
  throw new UsageError(`--rating must be up or down, got "${value}"`);
}

function parseFormat(value: string): ExportFormat {
  const found = formats.find((format) => format === value);
  if (found === undefined) throw new UsageError(`--format must be chat or raw, got "${value}"`);
  return found;
}

function parseCount(name: string, value: string, min: number, max: number): number {
  const n = /^\d{1,15}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max))
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}
