import { isUtf8 } from "node:buffer";
import { readFile, writeFile } from "node:fs/promises";
import { InvalidArgumentError, type Command } from "commander";
import type { LoadedConfig } from "../config/index.js";
import {
  EntityMemory,
  EntityStore,
  exportFacts,
  formatFact,
  importFacts,
  toFactJson,
  type Fact,
  type Language,
} from "../memory/index.js";
import { UsageError } from "./usage-error.js";

interface UserFlags {
  user: string;
  json?: boolean;
}

const defaultUser = "anonymous";

/** `sarai memory …`: the user's facts, straight from the database (no model is loaded). */
export function registerMemoryCommands(program: Command, loadConfigured: () => LoadedConfig): void {
  const memory = program
    .command("memory")
    .description(
      "the facts SARAi remembers: add, extract, recall, forget, vacuum, rotate, stats, export, import",
    );

  const withMemory = async <T>(
    fn: (memory: EntityMemory, config: LoadedConfig["config"]) => T | Promise<T>,
  ) => {
    const { config } = loadConfigured();
    const store = EntityStore.open({ file: config.memory.database, synchronous: config.memory.synchronous });
    try {
      const entity = new EntityMemory({
        store,
        maxExtractChars: config.memory.maxExtractChars,
        recallTokens: config.memory.recallTokens,
        recallLimit: config.memory.recallLimit,
        storeAssistantFacts: config.memory.storeAssistantFacts,
      });
      return await fn(entity, config);
    } finally {
      store.close();
    }
  };
  const userOption = (command: Command) =>
    command
      .option("-u, --user <id>", "whose facts", defaultUser)
      .option("--json", "print JSON instead of text");

  userOption(
    memory
      .command("add")
      .description("remember a fact by hand (source manual)")
      .argument("<subject>")
      .argument("<relation>", "e.g. lives_in, works_at, likes")
      .argument("<object>")
      .option("--negated", 'the fact does not hold ("does not like")')
      .option("--confidence <n>", "0–1 (default 0.95)", parseConfidence)
      .option("--when <text>", 'a time qualifier ("since 2019")')
      .option("--pin", "keep it through rotation"),
  ).action(
    async (
      subject: string,
      relation: string,
      object: string,
      flags: UserFlags & { negated?: boolean; confidence?: number; when?: string; pin?: boolean },
    ) => {
      await withMemory((entity) => {
        const result = entity.store.remember({
          userId: flags.user,
          subject,
          relation,
          object,
          negated: flags.negated === true,
          confidence: flags.confidence ?? 0.95,
          source: "manual",
          when: flags.when ?? null,
          pinned: flags.pin === true,
        });
        if (flags.json === true) {
          printJson({ ...toFactJson(result.fact), outcome: result.outcome, closed: result.closed });
        } else {
          const closed =
            result.closed.length === 0 ? "" : ` (replaced ${result.closed.map((id) => `#${id}`).join(", ")})`;
          process.stdout.write(
            `${result.outcome} #${result.fact.id} ${formatFact(result.fact).slice(2)}${closed}\n`,
          );
        }
      });
    },
  );

  userOption(
    memory
      .command("extract")
      .description(
        "print the facts a text states (rules for Spanish and English); --store also remembers them",
      )
      .argument("<text>", "the text; - reads stdin")
      .option("--lang <lang>", "es or en (default: detected)", parseLanguage)
      .option("--store", "also store the facts for --user (source user_input, confidence 0.9)"),
  ).action(async (text: string, flags: UserFlags & { lang?: Language; store?: boolean }) => {
    const input = text === "-" ? await readStdinUtf8() : text;
    await withMemory((entity) => {
      const learned =
        flags.store === true
          ? entity.learn({ userId: flags.user, text: input, source: "user_input", ...language(flags.lang) })
          : undefined;
      const extraction = learned?.extraction ?? entity.extractRules(input, flags.lang);
      if (extraction.truncated)
        process.stderr.write(
          `sarai: warning: the text is longer than memory.maxExtractChars; only the first ${extraction.chars} characters were read\n`,
        );
      if (flags.json === true) {
        printJson(
          extraction.facts.map((fact) => ({
            subject: fact.subject,
            relation: fact.relation,
            object: fact.object,
            confidence: fact.confidence,
            negated: fact.negated,
            ...(fact.when === undefined ? {} : { when: fact.when }),
          })),
        );
        return;
      }
      if (extraction.facts.length === 0) process.stdout.write(`no facts (${extraction.language})\n`);
      for (const fact of extraction.facts) {
        const when = fact.when === undefined ? "" : ` (${fact.when})`;
        process.stdout.write(
          `${fact.subject} · ${fact.negated ? "NOT " : ""}${fact.relation} · ${fact.object}${when}  [${fact.confidence.toFixed(2)}]\n`,
        );
      }
      if (learned !== undefined) process.stdout.write(`stored ${learned.results.length} for ${flags.user}\n`);
    });
  });

  userOption(
    memory
      .command("recall")
      .description("the user's facts: about the entities a text names, or by subject / relation / object")
      .argument("[text]", "free text; facts whose subject or object it names")
      .option("--subject <s>")
      .option("--relation <r>")
      .option("--object <o>")
      .option("--history", "include closed (replaced or negated) facts")
      .option("--limit <n>", "most facts (default 50)", parseLimit),
  ).action(
    async (
      text: string | undefined,
      flags: UserFlags & {
        subject?: string;
        relation?: string;
        object?: string;
        history?: boolean;
        limit?: number;
      },
    ) => {
      await withMemory((entity) => {
        const facts = entity.store.recall({
          userId: flags.user,
          ...(text === undefined ? {} : { text }),
          ...(flags.subject === undefined ? {} : { subject: flags.subject }),
          ...(flags.relation === undefined ? {} : { relation: flags.relation }),
          ...(flags.object === undefined ? {} : { object: flags.object }),
          includeHistory: flags.history === true,
          limit: flags.limit ?? 50,
        });
        printFacts(facts, flags.json === true);
      });
    },
  );

  userOption(
    memory
      .command("forget")
      .description("delete facts for good (history included): one by id, or all matching the filters")
      .argument("[id]", "the fact's id", parseId)
      .option("--subject <s>")
      .option("--relation <r>")
      .option("--object <o>")
      .option("--all", "every fact of --user"),
  ).action(
    async (
      id: number | undefined,
      flags: UserFlags & { subject?: string; relation?: string; object?: string; all?: boolean },
    ) => {
      const filters = { subject: flags.subject, relation: flags.relation, object: flags.object };
      const hasFilter = Object.values(filters).some((value) => value !== undefined);
      if (id === undefined && !hasFilter && flags.all !== true)
        throw new UsageError("say what to forget: an id, --subject/--relation/--object, or --all");
      await withMemory((entity) => {
        const deleted =
          flags.all === true
            ? entity.store.forgetUser(flags.user)
            : entity.store.forget({
                userId: flags.user,
                ...(id === undefined ? {} : { id }),
                ...(flags.subject === undefined ? {} : { subject: flags.subject }),
                ...(flags.relation === undefined ? {} : { relation: flags.relation }),
                ...(flags.object === undefined ? {} : { object: flags.object }),
              });
        if (flags.json === true) printJson({ deleted });
        else process.stdout.write(`deleted ${deleted} fact${deleted === 1 ? "" : "s"}\n`);
        if (id !== undefined && deleted === 0) {
          process.stderr.write(`sarai: error [NOT_FOUND]: no fact ${id} for user ${flags.user}\n`);
          process.exitCode = 1;
        }
      });
    },
  );

  memory
    .command("vacuum")
    .description("compact: drop repeated history, then SQLite VACUUM; reports the size before and after")
    .option("--json", "print JSON")
    .action(async (flags: { json?: boolean }) => {
      await withMemory((entity) => {
        const report = entity.store.vacuum();
        if (flags.json === true) printJson(report);
        else
          process.stdout.write(
            `removed ${report.duplicatesRemoved} repeated history rows; ${formatMb(report.bytesBefore)} → ${formatMb(report.bytesAfter)} (saved ${formatMb(report.bytesBefore - report.bytesAfter)})\n`,
          );
      });
    });

  memory
    .command("rotate")
    .description("remove unpinned facts not stated for N days (default memory.retentionDays)")
    .option("--days <n>", "age limit in days", parseDays)
    .option("-u, --user <id>", "only this user's facts (default: every user)")
    .option("--json", "print JSON")
    .action(async (flags: { days?: number; user?: string; json?: boolean }) => {
      await withMemory((entity, config) => {
        const days = flags.days ?? config.memory.retentionDays;
        const removed = entity.store.rotate(days, flags.user);
        if (flags.json === true) printJson({ removed, days });
        else process.stdout.write(`removed ${removed} facts older than ${days} days\n`);
      });
    });

  memory
    .command("stats")
    .description("fact counts and database size")
    .option("-u, --user <id>", "only this user's facts (default: every user)")
    .option("--json", "print JSON")
    .action(async (flags: { user?: string; json?: boolean }) => {
      await withMemory((entity) => {
        const stats = entity.store.stats(flags.user);
        if (flags.json === true) printJson({ ...stats, database: entity.store.file });
        else
          process.stdout.write(
            `${stats.facts} facts (${stats.activeFacts} active, ${stats.historicFacts} historic), ${stats.users} user${stats.users === 1 ? "" : "s"}; ${stats.sizeMb} MiB in ${entity.store.file}\n`,
          );
      });
    });

  memory
    .command("export")
    .description("every fact of a user, history included, as JSON")
    .option("-u, --user <id>", "whose facts", defaultUser)
    .option("-o, --output <file>", "write to a file instead of stdout")
    .action(async (flags: { user: string; output?: string }) => {
      await withMemory(async (entity) => {
        const text = `${JSON.stringify(exportFacts(entity.store, flags.user), null, 2)}\n`;
        if (flags.output === undefined) process.stdout.write(text);
        else await writeFile(flags.output, text);
      });
    });

  userOption(
    memory
      .command("import")
      .description('add facts from an export (or {"facts": [...]}) to --user\'s memory, all or nothing')
      .argument("<file>", "the JSON file; - reads stdin"),
  ).action(async (file: string, flags: UserFlags) => {
    const text = file === "-" ? await readStdinUtf8() : await readUtf8File(file);
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`${file === "-" ? "stdin" : file} is not valid JSON: ${(error as Error).message}`);
    }
    await withMemory((entity) => {
      const report = importFacts(entity.store, flags.user, document);
      if (flags.json === true) printJson(report);
      else
        process.stdout.write(
          `imported ${report.imported} facts, reinforced ${report.reinforced}, added ${report.historic} historic\n`,
        );
    });
  });
}

function printFacts(facts: Fact[], json: boolean): void {
  if (json) {
    printJson(facts.map(toFactJson));
    return;
  }
  if (facts.length === 0) process.stdout.write("no facts\n");
  for (const fact of facts) {
    const closed = fact.validTo === null ? "" : `  (until ${new Date(fact.validTo).toISOString()})`;
    process.stdout.write(
      `#${fact.id} ${formatFact(fact).slice(2)}  [${fact.confidence.toFixed(2)}]${closed}\n`,
    );
  }
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function formatMb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
}

function language(lang: Language | undefined): { language?: Language } {
  return lang === undefined ? {} : { language: lang };
}

function parseConfidence(value: string): number {
  const number = Number(value);
  if (value.trim() === "" || !(number >= 0 && number <= 1))
    throw new InvalidArgumentError(`--confidence must be a number from 0 to 1, got "${value}"`);
  return number;
}

function parseLanguage(value: string): Language {
  if (value !== "es" && value !== "en")
    throw new InvalidArgumentError(`--lang must be es or en, got "${value}"`);
  return value;
}

function parsePositive(name: string, value: string, max: number): number {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || number < 1 || number > max)
    throw new InvalidArgumentError(`${name} must be a whole number from 1 to ${max}, got "${value}"`);
  return number;
}

const parseLimit = (value: string) => parsePositive("--limit", value, 1000);
const parseDays = (value: string) => parsePositive("--days", value, 36_500);
const parseId = (value: string) => parsePositive("id", value, Number.MAX_SAFE_INTEGER);

async function readUtf8File(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (!isUtf8(bytes)) throw new UsageError(`${file} is not valid UTF-8`);
  return bytes.toString("utf8");
}

async function readStdinUtf8(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  if (!isUtf8(bytes)) throw new UsageError("stdin is not valid UTF-8");
  return bytes.toString("utf8");
}
