#!/usr/bin/env node
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { Command, InvalidArgumentError, Option } from "commander";
import { createServer } from "../api/index.js";
import { addWebSources, type TurnRequest, type TurnResponse, type VerifySpec } from "../assistant/index.js";
import { createApp, type App } from "../app.js";
import {
  ConfigStore,
  formatConfigIssues,
  formatConfigYaml,
  loadConfig,
  logLevels,
  type ConfigPatch,
  type LoadedConfig,
} from "../config/index.js";
import {
  defaultModelAlias,
  demoModelBanner,
  inspectModelFile,
  modelAliases,
  listModelFiles,
  parseModelSource,
  pullModel,
  resolveModelSourcePath,
  resolveSynthCacheFileName,
  synthesizeModel,
  type ChatImage,
  type ChatMessage,
  type ChatRequest,
  type SamplingOptions,
  type SynthOptions,
} from "../inference/index.js";
import { AppError, createLogger, isAppError, type AppLogger } from "../shared/index.js";
import { registerAuditCommands } from "./audit-commands.js";
import { registerFeedbackCommands } from "./feedback-commands.js";
import { registerGuardCommands } from "./guard-commands.js";
import { registerKeysCommands } from "./keys-commands.js";
import { registerLoopCommands } from "./loop-commands.js";
import { registerLoraCommands } from "./lora-commands.js";
import { registerMemoryCommands } from "./memory-commands.js";
import { registerNotificationCommands } from "./notification-commands.js";
import { registerRedTeamCommands } from "./redteam-commands.js";
import { registerRepairCommands } from "./repair-commands.js";
import { registerSkillCommands } from "./skill-commands.js";
import { registerVoiceSearchCommands } from "./voice-search-commands.js";
import { LogTap } from "../repair/index.js";
import { createProgressBar } from "./progress-bar.js";
import { printTable } from "./print-table.js";
import { runRepl } from "./repl.js";
import { UsageError } from "./usage-error.js";

const packageJson = createRequire(import.meta.url)("../../package.json") as { version: string };

interface GlobalOptions {
  config?: string;
  logLevel?: string;
  verbose?: boolean;
}

interface GenerationFlags {
  model?: string;
  draft?: string;
  system?: string;
  seed?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  maxTokens?: number;
  user: string;
  /** Commander's `--no-memory` sets this to false. */
  memory: boolean;
}

function parseInteger(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got "${value}"`);
    }
    return parsed;
  };
}

function parseNumber(name: string, min: number, max: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`${name} must be a number from ${min} to ${max}, got "${value}"`);
    }
    return parsed;
  };
}

function addGenerationOptions(command: Command): Command {
  return command
    .option("-u, --user <id>", "who is talking: memory recalls and stores this user's facts", "anonymous")
    .option("--no-memory", "neither recall nor store facts for this run")
    .option(
      "-m, --model <source>",
      "model for this run: a file, an alias, hf:user/repo/file.gguf or an https URL",
    )
    .option("--draft <source>", "draft model for speculative decoding in this run (models.draft)")
    .option("-s, --system <text>", "system prompt")
    .option(
      "--seed <n>",
      "sampler seed; the same seed and prompt give the same answer",
      parseInteger("--seed", 0, 2 ** 32 - 1),
    )
    .option(
      "-t, --temperature <t>",
      "sampling temperature, 0 = greedy (default 0.7)",
      parseNumber("--temperature", 0, 2),
    )
    .option("--top-p <p>", "nucleus sampling mass (default 0.95)", parseNumber("--top-p", 0.000001, 1))
    .option(
      "--top-k <k>",
      "sample among the K likeliest tokens, 0 = off (default 40)",
      parseInteger("--top-k", 0),
    )
    .option(
      "-n, --max-tokens <n>",
      "upper bound on generated tokens (default 512)",
      parseInteger("--max-tokens", 1),
    );
}

/** `--model` and `--draft` as config overrides. */
function modelOverrides(flags: { model?: string; draft?: string }): ConfigPatch {
  if (flags.model === undefined && flags.draft === undefined) return {};
  return {
    models: {
      ...(flags.model === undefined ? {} : { main: { source: flags.model } }),
      ...(flags.draft === undefined ? {} : { draft: { source: flags.draft } }),
    },
  };
}

function parseIterations(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 3) {
    throw new UsageError(`--max-iterations: must be 1, 2 or 3, not ${JSON.stringify(value)}`);
  }
  return n;
}

function parseVerifyKind(kind: string): VerifySpec {
  if (kind === "json" || kind === "sql" || kind === "python") return { kind };
  throw new UsageError(`--verify: must be json, sql or python, not ${JSON.stringify(kind)}`);
}

/** One line per reflection iteration on stderr: its confidence, the signals, and which answer was kept. */
function printIterations(response: TurnResponse): void {
  if (response.fallback !== undefined) {
    process.stderr.write(`fallback model answered: ${response.fallback.reason}\n`);
  }
  const report = response.reflection;
  if (report === undefined) return;
  for (const iteration of report.iterations) {
    const checks = (iteration.signals.verifiers ?? [])
      .map((v) => `${v.name} ${v.ok ? "ok" : `failed (${v.issues.join("; ")})`}`)
      .join(", ");
    const parts = [
      `confidence ${iteration.confidence === null ? "-" : iteration.confidence.toFixed(2)}`,
      ...(checks === "" ? [] : [checks]),
      ...(iteration.signals.tokenProbability === undefined
        ? []
        : [`token probability ${iteration.signals.tokenProbability.toFixed(2)}`]),
      ...(iteration.signals.selfAssessment === undefined
        ? []
        : [`self-assessment ${iteration.signals.selfAssessment.score.toFixed(1)}`]),
      `${Math.round(iteration.latencyMs)} ms`,
      ...(iteration.error === undefined ? [] : [iteration.error]),
    ];
    const mark = iteration.n === report.chosen ? "*" : " ";
    process.stderr.write(`${mark} iteration ${iteration.n}: ${parts.join(", ")}\n`);
  }
  process.stderr.write(
    `reflection: kept iteration ${report.chosen} of ${report.iterations.length} (${report.stoppedBy})\n`,
  );
}

function samplingFrom(flags: GenerationFlags): SamplingOptions {
  const sampling: SamplingOptions = {};
  if (flags.seed !== undefined) sampling.seed = flags.seed;
  if (flags.temperature !== undefined) sampling.temperature = flags.temperature;
  if (flags.topP !== undefined) sampling.topP = flags.topP;
  if (flags.topK !== undefined) sampling.topK = flags.topK;
  if (flags.maxTokens !== undefined) sampling.maxTokens = flags.maxTokens;
  return sampling;
}

function loadConfigFor(global: GlobalOptions, overrides: ConfigPatch = {}): LoadedConfig {
  const patch: ConfigPatch = { ...overrides };
  if (global.logLevel !== undefined) patch.log = { level: global.logLevel as never };
  return loadConfig({ file: global.config, overrides: patch });
}

async function createCliLogger(
  loaded: LoadedConfig,
  global: GlobalOptions,
  console: "stdout" | "stderr",
  tap?: LogTap,
): Promise<AppLogger> {
  const { log, paths } = loaded.config;
  return createLogger({
    level: log.level,
    // CLI commands keep the terminal for their output; --verbose also shows the log on stderr.
    console: console === "stdout" ? "stdout" : global.verbose === true ? "stderr" : "off",
    dir: log.file ? paths.logDir : undefined,
    maxSizeMb: log.maxSizeMb,
    maxFiles: log.maxFiles,
    tap,
  });
}

/** Loads config, logger and app for a generation command, runs `body`, and always cleans up. */
async function withApp(
  global: GlobalOptions,
  flags: Pick<GenerationFlags, "model" | "draft">,
  body: (app: App, loaded: LoadedConfig) => Promise<void>,
  options: { watch?: boolean } = {},
): Promise<void> {
  const overrides = modelOverrides(flags);
  const loaded = loadConfigFor(global, overrides);
  const appLogger = await createCliLogger(loaded, global, "stderr");
  const store = new ConfigStore({
    logger: appLogger.logger,
    initial: loaded,
    file: global.config,
    overrides: {
      ...overrides,
      ...(global.logLevel === undefined ? {} : { log: { level: global.logLevel as never } }),
    },
  });
  if (options.watch === true) store.watch();
  const progress = createProgressBar({ stream: process.stderr });
  let app: App | undefined;
  try {
    app = await createApp({
      config: loaded.config,
      logger: appLogger.logger,
      configStore: store,
      onPullProgress: (p) => progress.update(p),
      onNotice: (message) => {
        progress.done();
        process.stderr.write(`sarai: ${message}\n`);
      },
    });
    progress.done();
    if (app.models.demoModel) printDemoBanner();
    await body(app, loaded);
  } finally {
    await app?.dispose();
    store.dispose();
    await appLogger.dispose();
  }
}

function printDemoBanner(): void {
  const line = "!".repeat(64);
  process.stderr.write(
    `${line}\n!!  ${demoModelBanner.toUpperCase()}\n!!  No real model is available (offline?). Everything around the model works;\n` +
      `!!  pull one with \`sarai model pull <alias>\` or set models.main in sarai.yaml.\n${line}\n`,
  );
}

async function readTextFile(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new UsageError(
      `${flag}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
}

/** An `--image` file's bytes; an unreadable one is a usage error naming it. */
async function readImageFile(file: string): Promise<{ file: string; bytes: Buffer }> {
  try {
    return { file, bytes: await readFile(file) };
  } catch (error) {
    throw new UsageError(
      `--image: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
}

/** Prepares `--image` files (fitted, WebP) and attaches them to the last user message. */
async function attachImages(
  app: App,
  messages: readonly ChatMessage[],
  files: readonly { file: string; bytes: Buffer }[],
): Promise<ChatMessage[]> {
  if (app.vision === undefined) {
    throw new AppError("VISION_UNSUPPORTED", "--image: image input is turned off (vision.enabled: false)", {
      param: "--image",
    });
  }
  const images: ChatImage[] = [];
  for (const { file, bytes } of files) {
    const prepared = await app.vision.prepare(bytes, `--image ${file}`);
    images.push({ data: prepared.data, mimeType: prepared.mimeType });
  }
  const last = messages.length - 1;
  return messages.map((message, index) => (index === last ? { ...message, images } : message));
}

async function readSchemaFile(file: string): Promise<Record<string, unknown>> {
  const text = await readTextFile(file, "--schema");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--schema: ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`--schema: ${file} must hold a JSON object (a JSON schema)`);
  }
  return parsed as Record<string, unknown>;
}

function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function buildProgram(): Command {
  const program = new Command()
    .name("sarai")
    .description("SARAi: a private AI assistant that runs on this machine, CPU first")
    .version(packageJson.version, "-V, --version")
    .option("-c, --config <file>", "config file (default: $SARAI_CONFIG, else ./sarai.yaml if present)")
    .addOption(new Option("--log-level <level>", "log level").choices(logLevels))
    .option("-v, --verbose", "also print the log on stderr")
    .showHelpAfterError("(run with --help for usage)");
  const global = () => program.opts<GlobalOptions>();

  for (const name of ["serve", "start"]) {
    program
      .command(name)
      .description(
        name === "serve"
          ? "serve the OpenAI-compatible HTTP API (127.0.0.1:8080 by default)"
          : "run SARAi's main job: the same as serve",
      )
      .option("--host <address>", "listen address (server.host)")
      .option("--port <n>", "TCP port (server.port)", parseInteger("--port", 0, 65_535))
      .option("-m, --model <source>", "main model for this run (models.main)")
      .option("--draft <source>", "draft model for speculative decoding (models.draft)")
      .action(async (flags: { host?: string; port?: number; model?: string; draft?: string }) => {
        await runServe(global(), flags);
      });
  }

  addGenerationOptions(
    program
      .command("chat")
      .description("chat in the terminal; streams answers, /reset, /exit, Ctrl-C stops an answer"),
  ).action(async (flags: GenerationFlags) => {
    await withApp(global(), flags, (app) => runChat(app, flags), { watch: true });
  });

  addGenerationOptions(
    program
      .command("ask")
      .description("answer one prompt and exit")
      .argument("<prompt>", "the question; use - to read it from stdin")
      .option("--json", "print the whole response as JSON (text, finishReason, usage, timings)")
      .option("--schema <file>", "constrain the answer to this JSON schema; prints the validated JSON")
      .option("--grammar <file>", "constrain the answer to this GBNF grammar")
      .option("--skill <name>", "answer with this skill (`sarai skill list`); its output is validated")
      .option(
        "--image <file>",
        "show the model this image (repeatable); needs a remote role with vision: true",
        (file: string, previous: string[]) => [...previous, file],
        [] as string[],
      )
      .option("--reflect", "reflect on the answer (draft → critique → revise, at most 3 iterations)")
      .option("--no-reflect", "answer without reflection, whatever reflect.enabled says")
      .option(
        "--verify <kind>",
        "check the answer: json, sql or python (implies --reflect unless --no-reflect)",
      )
      .option("--max-iterations <n>", "most reflection iterations, 1-3")
      .option("--show-iterations", "print each reflection iteration and its confidence on stderr")
      .option("--search", "search the web (SearXNG) first and answer citing the sources as [n]"),
  ).action(
    async (
      prompt: string,
      flags: GenerationFlags & {
        json?: boolean;
        schema?: string;
        grammar?: string;
        skill?: string;
        image: string[];
        reflect?: boolean;
        verify?: string;
        maxIterations?: string;
        showIterations?: boolean;
        search?: boolean;
      },
    ) => {
      const verify = flags.verify === undefined ? undefined : parseVerifyKind(flags.verify);
      const maxIterations =
        flags.maxIterations === undefined ? undefined : parseIterations(flags.maxIterations);
      if (flags.schema !== undefined && flags.grammar !== undefined) {
        throw new UsageError("give either --schema or --grammar, not both");
      }
      if (flags.skill !== undefined && flags.image.length > 0) {
        throw new UsageError("--skill reads text only; give either --skill or --image");
      }
      const text = prompt === "-" ? await readStdin() : prompt;
      if (text.trim() === "") throw new UsageError("the prompt is empty");
      const imageFiles = await Promise.all(flags.image.map((file) => readImageFile(file)));
      const request: ChatRequest = {
        messages: [
          ...(flags.system === undefined ? [] : [{ role: "system" as const, content: flags.system }]),
          { role: "user" as const, content: text },
        ],
        sampling: samplingFrom(flags),
      };
      if (flags.schema !== undefined) request.jsonSchema = await readSchemaFile(flags.schema);
      if (flags.grammar !== undefined) request.grammar = await readTextFile(flags.grammar, "--grammar");
      await withApp(global(), flags, async (app) => {
        const controller = new AbortController();
        const onSigint = () => controller.abort();
        process.once("SIGINT", onSigint);
        try {
          const turn: TurnRequest = { ...request, userId: flags.user, noMemory: !flags.memory };
          if (flags.reflect !== undefined) turn.reflect = flags.reflect;
          if (verify !== undefined) turn.verify = verify;
          if (maxIterations !== undefined) turn.reflectSettings = { maxIterations };
          let sources = "";
          if (flags.search === true) {
            if (app.search === undefined)
              throw new UsageError(
                "--search: web search is off (set search.enabled: true and search.baseUrl)",
              );
            const searched = await addWebSources(turn, app.search, controller.signal);
            turn.messages = searched.turn.messages;
            sources = searched.sources.map((s) => `[${s.n}] ${s.title} — ${s.url}\n`).join("");
          }
          if (app.turns.reflects(turn)) {
            // A reflected answer is chosen among iterations: it prints whole, with the loop's report if asked.
            const response = await app.turns.run(turn, controller.signal);
            if (flags.showIterations === true) printIterations(response);
            if (flags.json === true) process.stdout.write(`${JSON.stringify(response, null, 2)}\n`);
            else if (flags.schema !== undefined) process.stdout.write(`${JSON.stringify(response.json)}\n`);
            else process.stdout.write(`${response.text.trimEnd()}\n${sources}`);
            return;
          }
          if (imageFiles.length > 0) turn.messages = await attachImages(app, turn.messages, imageFiles);
          if (flags.skill !== undefined) {
            turn.skill = flags.skill;
            const response = await app.turns.run(turn, controller.signal);
            process.stdout.write(
              flags.json === true ? `${JSON.stringify(response, null, 2)}\n` : `${response.text.trimEnd()}\n`,
            );
            return;
          }
          if (flags.json === true || flags.schema !== undefined) {
            const response = await app.turns.run(turn, controller.signal);
            if (flags.json === true) process.stdout.write(`${JSON.stringify(response, null, 2)}\n`);
            else process.stdout.write(`${JSON.stringify(response.json)}\n`);
            return;
          }
          for await (const chunk of app.turns.stream(turn, controller.signal)) {
            if (chunk.type === "delta") process.stdout.write(chunk.text);
          }
          process.stdout.write(`\n${sources}`);
        } finally {
          process.off("SIGINT", onSigint);
        }
      });
    },
  );

  const config = program.command("config").description("check or print the configuration");
  config
    .command("check")
    .description("validate the configuration; prints every issue with its path")
    .action(() => {
      const loaded = loadConfigFor(global());
      const origin = loaded.file === undefined ? "no config file, defaults" : loaded.file;
      const env = loaded.envVars.length > 0 ? `; env: ${loaded.envVars.join(", ")}` : "";
      process.stdout.write(`config OK (${origin}${env})\n`);
    });
  config
    .command("print")
    .description("print the resolved configuration as YAML")
    .action(() => {
      const loaded = loadConfigFor(global());
      process.stdout.write(formatConfigYaml(loaded.config, { file: loaded.file, envVars: loaded.envVars }));
    });

  const model = program.command("model").description("download, list, inspect and generate GGUF models");
  model
    .command("pull")
    .description("download a model (resumable) into the models directory")
    .argument("<source>", "an alias (see `sarai model aliases`), hf:user/repo/file.gguf, or an https URL")
    .action(async (input: string) => {
      const loaded = loadConfigFor(global());
      const source = parseModelSource(input);
      if (source.kind === "file") throw new UsageError(`${input} is a local file; nothing to pull`);
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      process.once("SIGINT", onSigint);
      const progress = createProgressBar({ stream: process.stderr });
      try {
        const result = await pullModel({
          source,
          modelsDir: loaded.config.paths.modelsDir,
          signal: controller.signal,
          onProgress: (p) => progress.update(p),
          ...(loaded.config.models.huggingFaceEndpoint === undefined
            ? {}
            : { huggingFaceEndpoint: loaded.config.models.huggingFaceEndpoint }),
        });
        progress.done();
        const how = result.alreadyPresent
          ? "already present"
          : result.resumed
            ? "resumed and completed"
            : "downloaded";
        process.stdout.write(`${how}: ${result.path} (${formatBytes(result.sizeBytes)})\n`);
      } finally {
        progress.done();
        process.off("SIGINT", onSigint);
      }
    });
  model
    .command("aliases")
    .description("list the model aliases `sarai model pull` knows")
    .action(() => {
      const rows = modelAliases.map((a) => [
        a.name,
        a.role,
        `~${formatBytes(a.approxSizeBytes)}`,
        `${a.vocabulary.family} (${a.vocabulary.size})`,
        a.draftFor.length > 0 ? `draft for ${a.draftFor.join(", ")}` : "",
        a.uri,
      ]);
      printTable(["alias", "role", "size", "vocabulary", "", "source"], rows);
      process.stdout.write(`\ndefault model: ${defaultModelAlias}\n`);
    });
  model
    .command("list")
    .description("list the models in the models directory")
    .option("--json", "print JSON")
    .action(async (flags: { json?: boolean }) => {
      const loaded = loadConfigFor(global());
      const entries = await listModelFiles(loaded.config.paths.modelsDir);
      if (flags.json === true) {
        process.stdout.write(
          `${JSON.stringify(
            entries.map((e) =>
              e.ok ? { ok: true, ...e.info } : { ok: false, path: e.path, error: e.error.message },
            ),
            null,
            2,
          )}\n`,
        );
        return;
      }
      if (entries.length === 0) {
        process.stdout.write(
          `no models in ${loaded.config.paths.modelsDir}; try \`sarai model pull <alias>\`\n`,
        );
        return;
      }
      const rows = entries.map((e) =>
        e.ok
          ? [
              e.fileName,
              formatBytes(e.info.sizeBytes),
              e.info.architecture ?? "?",
              e.info.quantization ?? "?",
              String(e.info.vocabularySize ?? "?"),
              String(e.info.contextLength ?? "?"),
            ]
          : [e.fileName, "-", "BROKEN", e.error.message, "", ""],
      );
      printTable(["file", "size", "architecture", "quantisation", "vocabulary", "context"], rows);
    });
  model
    .command("inspect")
    .description("show what a GGUF file holds (and whether it is complete)")
    .argument("<file>", "a GGUF file path, or a source already pulled into the models directory")
    .option("--json", "print JSON")
    .action(async (input: string, flags: { json?: boolean }) => {
      const loaded = loadConfigFor(global());
      const file = resolveModelSourcePath(parseModelSource(input), loaded.config.paths.modelsDir);
      const info = await inspectModelFile(file);
      if (flags.json === true) {
        process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
        return;
      }
      const lines: [string, string][] = [
        ["file", info.path],
        ["size", `${formatBytes(info.sizeBytes)} (${info.sizeBytes} bytes)`],
        ["name", info.name ?? "-"],
        ["architecture", info.architecture ?? "-"],
        ["quantisation", info.quantization ?? "-"],
        ["parameters", info.parameterCount.toLocaleString("en-US")],
        ["vocabulary", String(info.vocabularySize ?? "-")],
        ["context length", String(info.contextLength ?? "-")],
        ["embedding length", String(info.embeddingLength ?? "-")],
        ["blocks", String(info.blockCount ?? "-")],
        ["tensors", String(info.tensorCount)],
        ["GGUF version", String(info.ggufVersion)],
      ];
      for (const [key, value] of lines) process.stdout.write(`${key.padEnd(17)} ${value}\n`);
    });
  model
    .command("synth")
    .description(
      "generate a small llama-architecture GGUF model with deterministic random weights (tests, demos)",
    )
    .option("-o, --out <file>", "output file (default: <modelsDir>/<name from the options>.gguf)")
    .option("--layers <n>", "transformer blocks (default 2)", parseInteger("--layers", 1, 256))
    .option("--width <n>", "embedding length (default 64)", parseInteger("--width", 8, 16384))
    .option("--ffn <n>", "feed-forward length (default 256)", parseInteger("--ffn", 8, 262144))
    .option("--heads <n>", "attention heads (default 4)", parseInteger("--heads", 1, 256))
    .option("--kv-heads <n>", "key/value heads (default 2)", parseInteger("--kv-heads", 1, 256))
    .option("--context <n>", "training context length (default 4096)", parseInteger("--context", 64, 1 << 20))
    .addOption(new Option("--quant <type>", "tensor type (default Q8_0)").choices(["F32", "F16", "Q8_0"]))
    .option("--seed <n>", "weights seed (default 1)", parseInteger("--seed", 0, 2 ** 32 - 1))
    .addOption(new Option("--tokenizer <kind>", "vocabulary (default byte)").choices(["byte", "qwen2"]))
    .option(
      "--residual-scale <x>",
      "scale of block outputs (default 0.002)",
      parseNumber("--residual-scale", 0, 100),
    )
    .option("--name <name>", "general.name (default sarai-synth)")
    .option("--draft-for <target>", "make a speculative-decoding draft aligned with this target model")
    .action(async (flags: Record<string, unknown>) => {
      const loaded = loadConfigFor(global());
      const options: Omit<SynthOptions, "outPath"> = {
        ...(flags["layers"] === undefined ? {} : { layers: flags["layers"] as number }),
        ...(flags["width"] === undefined ? {} : { width: flags["width"] as number }),
        ...(flags["ffn"] === undefined ? {} : { ffn: flags["ffn"] as number }),
        ...(flags["heads"] === undefined ? {} : { heads: flags["heads"] as number }),
        ...(flags["kvHeads"] === undefined ? {} : { kvHeads: flags["kvHeads"] as number }),
        ...(flags["context"] === undefined ? {} : { contextLength: flags["context"] as number }),
        ...(flags["quant"] === undefined
          ? {}
          : { quantization: flags["quant"] as SynthOptions["quantization"] }),
        ...(flags["seed"] === undefined ? {} : { seed: flags["seed"] as number }),
        ...(flags["tokenizer"] === undefined ? {} : { tokenizer: flags["tokenizer"] as "byte" | "qwen2" }),
        ...(flags["residualScale"] === undefined ? {} : { residualScale: flags["residualScale"] as number }),
        ...(flags["name"] === undefined ? {} : { name: flags["name"] as string }),
        ...(flags["draftFor"] === undefined ? {} : { draftFor: flags["draftFor"] as string }),
        cacheDir: loaded.config.paths.cacheDir,
      };
      const outPath =
        (flags["out"] as string | undefined) ??
        `${loaded.config.paths.modelsDir}/${resolveSynthCacheFileName(options)}`;
      const result = await synthesizeModel({ ...options, outPath });
      process.stdout.write(
        `${result.path}\n  ${formatBytes(result.byteLength)}, ${result.parameterCount.toLocaleString("en-US")} weights, ` +
          `vocabulary ${result.vocabularySize}, ${result.options.layers} blocks × width ${result.options.width}, ` +
          `${result.options.quantization}, seed ${result.options.seed}\n` +
          `  use it: sarai ask --model ${result.path} "hello"\n`,
      );
    });

  program
    .command("status")
    .description("load the main model and print the readiness report as JSON")
    .action(async () => {
      await withApp(global(), {}, async (app) => {
        await app.pool.load("main");
        const readiness = await app.readiness();
        process.stdout.write(`${JSON.stringify(readiness, null, 2)}\n`);
        if (!readiness.ready) process.exitCode = 1;
      });
    });

  registerMemoryCommands(program, () => loadConfigFor(global()));
  registerLoopCommands(program, () => loadConfigFor(global()));
  registerNotificationCommands(program, () => loadConfigFor(global()));
  registerVoiceSearchCommands(program, () => loadConfigFor(global()));
  registerAuditCommands(program, () => loadConfigFor(global()));
  registerFeedbackCommands(program, () => loadConfigFor(global()));
  registerLoraCommands(program, () => loadConfigFor(global()));
  registerGuardCommands(program, () => loadConfigFor(global()));
  registerKeysCommands(program, () => loadConfigFor(global()));
  registerRedTeamCommands(program, () => loadConfigFor(global()));
  registerRepairCommands(program, () => loadConfigFor(global()));
  registerSkillCommands(program, {
    loadConfigured: () => loadConfigFor(global()),
    withApp: (flags, body) => withApp(global(), flags, body),
    readSchemaFile,
  });

  return program;
}

async function runServe(
  global: GlobalOptions,
  flags: { host?: string; port?: number; model?: string; draft?: string },
): Promise<void> {
  const overrides = modelOverrides(flags);
  if (flags.host !== undefined || flags.port !== undefined) {
    overrides.server = {
      ...(flags.host === undefined ? {} : { host: flags.host }),
      ...(flags.port === undefined ? {} : { port: flags.port }),
    };
  }
  const loaded = loadConfigFor(global, overrides);
  // The self-repair detectors read the log's warn-and-above lines through this tap.
  const logTap = new LogTap();
  const appLogger = await createCliLogger(loaded, global, "stdout", logTap);
  const logger = appLogger.logger;
  const store = new ConfigStore({ logger, initial: loaded, file: global.config, overrides });
  store.watch();
  const progress = createProgressBar({ stream: process.stderr });
  const app = await createApp({
    config: loaded.config,
    logger,
    configStore: store,
    logTap,
    onPullProgress: (p) => progress.update(p),
    onNotice: (message) => {
      progress.done();
      logger.warn(message);
    },
  });
  progress.done();
  if (app.models.demoModel) printDemoBanner();
  try {
    if (app.pool.hasRole("main")) await app.pool.load("main");
  } catch (error) {
    // The server still starts: /ready says why it is not ready, and the process keeps running.
    logger.error(
      { code: isAppError(error) ? error.code : "INTERNAL", message: (error as Error).message },
      "main model failed to load",
    );
  }
  try {
    // An incompatible draft is refused now, at load, with its reason on stderr — not at the first request.
    if (app.pool.hasRole("main") && app.pool.hasRole("draft")) {
      const refused = await app.embedded.checkDraft();
      if (refused !== undefined) process.stderr.write(`sarai: ${refused}; decoding without it\n`);
    }
  } catch (error) {
    logger.error(
      { code: isAppError(error) ? error.code : "INTERNAL", message: (error as Error).message },
      "draft model failed to load",
    );
  }
  // A hot-reloaded (or repaired) timeout applies to the next request.
  const server = await createServer({
    app,
    logger,
    requestTimeoutMs: () => store.current.server.requestTimeoutMs,
  });
  const address = await server.listen();
  // Fastify answers one address; a wildcard host listens on every interface, which the line must not hide.
  const host = loaded.config.server.host;
  const wildcard =
    host === "0.0.0.0" || host === "::" ? `, and on every interface (server.host ${host})` : "";
  process.stderr.write(
    `sarai: listening on ${address} (OpenAI-compatible API under ${address}/v1${wildcard})\n`,
  );
  if (app.loop !== undefined && loaded.config.proactive.inServer) {
    const starts = app.loop.start();
    logger.info({ starts, database: loaded.config.proactive.database }, "proactive loop started");
  }
  app.repair?.start();
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, "shutting down");
      resolve();
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  await server.close();
  store.dispose();
  await app.dispose();
  logger.info("stopped");
  await appLogger.dispose();
}

async function runChat(app: App, flags: GenerationFlags): Promise<void> {
  const turn = { userId: flags.user, noMemory: !flags.memory };
  await runRepl({
    // The REPL speaks the backend port; each of its requests becomes a turn of this user.
    backend: {
      chat: (request, signal) => app.turns.run({ ...request, ...turn }, signal),
      chatStream: (request, signal) => app.turns.stream({ ...request, ...turn }, signal),
    },
    input: process.stdin,
    output: process.stdout,
    errorOutput: process.stderr,
    system: flags.system,
    sampling: samplingFrom(flags),
    interactive: process.stdin.isTTY,
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Prints an error the way every command does: one line, the code, no stack trace; exit 1 (2 for usage). */
function reportError(error: unknown): void {
  if (error instanceof UsageError) {
    process.stderr.write(`sarai: ${error.message}\n`);
    process.exitCode = 2;
    return;
  }
  if (isAppError(error)) {
    const body = error.code.startsWith("CONFIG_") ? formatConfigIssues(error) : error.message;
    process.stderr.write(`sarai: error [${error.code}]: ${body}\n`);
  } else {
    process.stderr.write(
      `sarai: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    const verbose = process.argv.includes("--verbose") || process.argv.includes("-v");
    if (verbose && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    else process.stderr.write("(run with --verbose for the stack trace)\n");
  }
  process.exitCode = 1;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  reportError(error);
}
