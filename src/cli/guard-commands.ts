import { Option, type Command } from "commander";
import { createGuardChecker } from "../assemble.js";
import type { LoadedConfig } from "../config/index.js";
import { guardSources, type GuardSource, type InjectionGuard } from "../security/index.js";
import { UsageError } from "./usage-error.js";

interface CheckFlags {
  json?: boolean;
  jsonl?: boolean;
  source: GuardSource;
}

/** `sarai guard check`: the injection guard on its own, for one text or a JSON-lines batch on stdin. */
export function registerGuardCommands(program: Command, loadConfigured: () => LoadedConfig): void {
  const guard = program.command("guard").description("the prompt-injection guard, without a model");
  guard
    .command("check")
    .description('classify a text as "attack" or "benign" (score 0-1, the techniques named by the rules)')
    .argument("[text]", "the text; - reads stdin (not with --jsonl)")
    .option("--json", "print the whole verdict as JSON: rules, normaliser signals, the source's action")
    .option("--jsonl", 'batch: one {"text": ...} per stdin line in, one verdict per line out, in order')
    .addOption(
      new Option("--source <source>", "where the text comes from (picks the action)")
        .choices(guardSources)
        .default("user"),
    )
    .action(async (text: string | undefined, flags: CheckFlags) => {
      const checker = createGuardChecker(loadConfigured().config);
      if (flags.jsonl === true) {
        if (text !== undefined)
          throw new UsageError("--jsonl reads the texts from stdin: give no text argument");
        const texts = parseJsonl(await readStdin());
        const lines = texts.map((item) => {
          const { verdict, score, techniques } = checker.check(item);
          return JSON.stringify({ verdict, score, techniques });
        });
        process.stdout.write(lines.length === 0 ? "" : `${lines.join("\n")}\n`);
        return;
      }
      if (text === undefined) throw new UsageError("give a text to check, - for stdin, or --jsonl");
      const input = text === "-" ? await readStdin() : text;
      printVerdict(checker, input, flags);
    });
}

function printVerdict(checker: InjectionGuard, text: string, flags: CheckFlags): void {
  const verdict = checker.check(text);
  const action = verdict.verdict === "attack" ? checker.policyFor(flags.source) : "allow";
  if (flags.json === true) {
    const sanitized = action === "sanitize" ? { sanitized: checker.sanitize(text) } : {};
    const report = { ...verdict, source: flags.source, action, threshold: checker.threshold, ...sanitized };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const named = verdict.techniques.length === 0 ? "" : `  ${verdict.techniques.join(", ")}`;
  process.stdout.write(`${verdict.verdict}  ${verdict.score.toFixed(4)}${named}\n`);
}

/** The texts of a JSON-lines batch; blank lines are skipped, a bad line stops the batch naming its number. */
export function parseJsonl(input: string): string[] {
  const texts: string[] = [];
  input.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new UsageError(`stdin line ${index + 1}: not JSON (expected {"text": "..."})`);
    }
    const text = typeof value === "object" && value !== null ? (value as { text?: unknown }).text : undefined;
    if (typeof text !== "string")
      throw new UsageError(`stdin line ${index + 1}: expected an object with a string "text" field`);
    texts.push(text);
  });
  return texts;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
