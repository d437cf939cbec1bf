import type { Command } from "commander";
import type { App } from "../app.js";
import type { LoadedConfig } from "../config/index.js";
import { builtinSkills, sqlQuerySkill, type FactQueryResult, type SkillResult } from "../skills/index.js";
import { UsageError } from "./usage-error.js";

/** What `sarai skill` borrows from `main.ts`: config loading, the app lifecycle and the schema-file reader. */
export interface SkillCommandDeps {
  loadConfigured: () => LoadedConfig;
  withApp: (flags: { model?: string }, body: (app: App) => Promise<void>) => Promise<void>;
  readSchemaFile: (file: string) => Promise<Record<string, unknown>>;
}

interface RunFlags {
  user: string;
  json?: boolean;
  schema?: string;
  model?: string;
  seed?: number;
}

/** `sarai skill list|run`: the built-in skills, from the terminal. */
export function registerSkillCommands(program: Command, deps: SkillCommandDeps): void {
  const skill = program
    .command("skill")
    .description("grammar-constrained skills with validated output: list, run");

  skill
    .command("list")
    .description("list the skills: name, output kind, what it does")
    .option("--json", "print JSON")
    .action((flags: { json?: boolean }) => {
      const { config } = deps.loadConfigured();
      const skills = offeredSkills(config);
      if (flags.json === true) {
        const list = skills.map((s) => ({
          name: s.name,
          description: s.description,
          output: s.outputKind,
          acceptsSchema: s.acceptsSchema === true,
        }));
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (!config.skills.enabled)
        process.stderr.write("sarai: note: skills are turned off (skills.enabled)\n");
      const width = Math.max(...skills.map((s) => s.name.length));
      for (const s of skills)
        process.stdout.write(`${s.name.padEnd(width)}  ${s.outputKind.padEnd(8)}  ${s.description}\n`);
    });

  skill
    .command("run")
    .description("run a skill on one input and print its validated output")
    .argument("<name>", "a skill from `sarai skill list`")
    .argument("<input>", "the text the skill works on; - reads stdin")
    .option("-u, --user <id>", "whose memory the skill reads and writes", "anonymous")
    .option("--json", "print the whole result as JSON (skill, output, value, attempts, errors)")
    .option("--schema <file>", "a JSON schema the output must satisfy (json_extract)")
    .option("--seed <n>", "seed of the first attempt; each retry uses the next", parseSeed)
    .option("-m, --model <source>", "model for this run")
    .action(async (name: string, input: string, flags: RunFlags) => {
      const { config } = deps.loadConfigured();
      if (!config.skills.enabled) throw new UsageError("skills are turned off (skills.enabled: false)");
      const skills = offeredSkills(config);
      if (!skills.some((s) => s.name === name))
        throw new UsageError(`unknown skill "${name}"; available: ${skills.map((s) => s.name).join(", ")}`);
      const text = input === "-" ? await readStdin() : input;
      if (text.trim() === "") throw new UsageError("the input is empty");
      const schema = flags.schema === undefined ? undefined : await deps.readSchemaFile(flags.schema);
      await deps.withApp(flags, async (app) => {
        if (app.skills === undefined) throw new UsageError("skills are turned off (skills.enabled: false)");
        const controller = new AbortController();
        const onSigint = () => controller.abort();
        process.once("SIGINT", onSigint);
        try {
          const result = await app.skills.run(name, {
            input: text,
            userId: flags.user,
            signal: controller.signal,
            ...(schema === undefined ? {} : { schema }),
            ...(flags.seed === undefined ? {} : { seed: flags.seed }),
          });
          process.stdout.write(
            flags.json === true ? `${JSON.stringify(toJson(result), null, 2)}\n` : format(result),
          );
        } finally {
          process.off("SIGINT", onSigint);
        }
      });
    });
}

function offeredSkills(config: LoadedConfig["config"]) {
  return builtinSkills.filter((s) => config.memory.enabled || s !== sqlQuerySkill);
}

function toJson(result: SkillResult) {
  return {
    skill: result.skill,
    output: result.output,
    value: result.value,
    attempts: result.attempts,
    errors: result.errors,
  };
}

/** The output, plus what it means where that is not the text itself (rows, stored facts). */
function format(result: SkillResult): string {
  const lines = [result.output.trimEnd()];
  if (result.skill === sqlQuerySkill.name) {
    const { columns, rows, truncated } = result.value as FactQueryResult;
    lines.push("", columns.join("\t"), ...rows.map((row) => row.map((cell) => String(cell)).join("\t")));
    lines.push(`(${rows.length} row${rows.length === 1 ? "" : "s"}${truncated ? ", truncated" : ""})`);
  } else if (result.skill === "extract_entities") {
    const stored = (result.value as { stored?: number[] }).stored ?? [];
    lines.push(
      `(stored ${stored.length} fact${stored.length === 1 ? "" : "s"}${stored.length > 0 ? `: ${stored.join(", ")}` : ""})`,
    );
  }
  if (result.attempts > 1) lines.push(`(${result.attempts} attempts)`);
  return `${lines.join("\n")}\n`;
}

function parseSeed(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 2 ** 31 - 1)
    throw new UsageError(`--seed must be an integer from 0 to ${2 ** 31 - 1}, got "${value}"`);
  return parsed;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
