import os from "node:os";
import path from "node:path";
import { Cron } from "croner";
import { z } from "zod";
import type { LogLevel } from "../shared/index.js";

/** Log levels, most severe first; `silent` turns logging off. The same set as the shared logger's `LogLevel`. */
export const logLevels = [
  "fatal",
  "error",
  "warn",
  "info",
  "debug",
  "trace",
  "silent",
] as const satisfies readonly LogLevel[];

// Fails to compile if the shared logger gains a level this schema does not accept.
const _everyLogLevelListed: Exclude<LogLevel, (typeof logLevels)[number]> extends never ? true : never = true;

/** The model roles the inference pool knows: the main model, the speculative-decoding draft, the fallback. */
export const modelRoles = ["main", "draft", "fallback"] as const;

/** One of `modelRoles`. */
export type ModelRole = (typeof modelRoles)[number];

/** The alias used when no `models.default` is configured. */
export const defaultModelAlias = "qwen2.5-1.5b";

/** Share of total RAM that `inference.ramBudgetMb: 0` (auto) resolves to. */
export const autoRamBudgetShare = 0.8;

/**
 * How path resolution treats a string field: a `directory` is always made absolute; a `model-source` only when it
 * looks like a file path (see `isPathLikeSource`), since it may also be an alias, an `hf:` URI or a URL.
 */
export type PathKind = "directory" | "file" | "model-source";

/** Marks the string schemas whose values are paths, so that loaders can find them by walking the schema. */
export const pathFields = z.registry<{ pathKind: PathKind }>();

const directoryPath = z.string().min(1).register(pathFields, { pathKind: "directory" });
const filePath = z.string().min(1).register(pathFields, { pathKind: "file" });

const apiKey = z.string().min(8, "an API key needs at least 8 characters");

const modelSource = z.string().trim().min(1).register(pathFields, { pathKind: "model-source" });

const contextSize = z.int().min(64);
const sequences = z.int().min(1).max(64);

/** An OpenAI-compatible server (llama.cpp's server, vLLM, Ollama, another SARAi) that serves a role. */
const remoteModel = z
  .object({
    /** The server's API root, e.g. `http://10.0.0.5:8080/v1`. */
    baseUrl: z.url({ protocol: /^https?$/ }),
    /** The model name to ask the server for. */
    model: z.string().min(1),
    /** Bearer key for the server, if it needs one. Never logged. */
    apiKey: z.string().min(1).optional(),
    /** Time to establish the connection, in ms. Default: `5000`. */
    connectTimeoutMs: z.int().min(1).default(5_000),
    /** Longest wait for the next bytes of a response, in ms. Default: `120000`. */
    readTimeoutMs: z.int().min(1).default(120_000),
    /** Retries on connection errors only (never after the server has answered), 0–10. Default: `2`. */
    retries: z.int().min(0).max(10).default(2),
    /**
     * The server's model takes image input (llama.cpp's server with `--mmproj`, a vision model on vLLM): image
     * parts are sent as `image_url`. Without it a request with images is refused. Default: `false`.
     */
    vision: z.boolean().default(false),
    /**
     * Ask the server for `logprobs` when the reflexive loop wants token probabilities (llama.cpp's server, vLLM
     * and OpenAI give them). Off for servers that refuse the field. Default: `false`.
     */
    logprobs: z.boolean().default(false),
  })
  .strict();

const modelRoleObject = z
  .object({
    /**
     * Where the model comes from: a known alias, `hf:<owner>/<repo>/<file>.gguf`, an `https://` URL or a GGUF file
     * path. Paths (`/…`, `./…`, `../…`, `~/…` or anything ending in `.gguf`) are resolved like other paths.
     * Give either `source` (run the model here) or `remote` (use a server).
     */
    source: modelSource.optional(),
    /** Serve this role from an OpenAI-compatible server instead of a local file. */
    remote: remoteModel.optional(),
    /** Context window in tokens for this model; defaults to `inference.contextSize`. */
    contextSize: contextSize.optional(),
    /** Parallel sequences per context for this model; defaults to `inference.sequences`. */
    sequences: sequences.optional(),
  })
  .strict()
  .refine((role) => (role.source === undefined) !== (role.remote === undefined), {
    message: "give exactly one of source (a local model) or remote (a server)",
  });

/** A model role, given either as a bare source string or as an object; always an object once parsed. */
const modelRole = z
  .union([modelSource, modelRoleObject])
  .transform((role) => (typeof role === "string" ? { source: role } : role));

/** Environment variables the schema's defaults depend on. */
export type ConfigEnv = Readonly<Record<string, string | undefined>>;

/** What the schema's defaults and path resolution depend on. */
export interface ConfigSchemaContext {
  /** Environment read for `XDG_DATA_HOME` and `HOME`. Default: `process.env`. */
  env?: ConfigEnv | undefined;
  /** Directory that relative paths are resolved against. Default: `process.cwd()`. */
  baseDir?: string | undefined;
  /** Directory that `~` expands to. Default: `env.HOME`, else `os.homedir()`. */
  homeDir?: string | undefined;
  /** Total RAM in bytes, the base of the automatic RAM budget. Default: `os.totalmem()`. */
  totalMemoryBytes?: number | undefined;
}

interface SystemContext {
  env: ConfigEnv;
  baseDir: string;
  homeDir: string;
  totalMemoryBytes: number;
}

/** The directory `~` expands to: `homeDir` if given, else `env.HOME`, else `os.homedir()`. */
export function resolveHomeDir(context: Pick<ConfigSchemaContext, "env" | "homeDir">): string {
  const home = context.homeDir ?? (context.env ?? process.env)["HOME"];
  return path.resolve(home !== undefined && home !== "" ? home : os.homedir());
}

function resolveSystemContext(context: ConfigSchemaContext): SystemContext {
  return {
    env: context.env ?? process.env,
    baseDir: path.resolve(context.baseDir ?? process.cwd()),
    homeDir: resolveHomeDir(context),
    totalMemoryBytes: context.totalMemoryBytes ?? os.totalmem(),
  };
}

/** `$XDG_DATA_HOME/sarai`, or `~/.local/share/sarai` when it is unset or not absolute (as the XDG spec asks). */
function resolveDefaultDataDir(system: SystemContext): string {
  const xdg = system.env["XDG_DATA_HOME"];
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(system.homeDir, ".local", "share");
  return path.join(base, "sarai");
}

function createConfigObjectSchema(system: SystemContext) {
  const paths = z
    .object({
      /** Root of SARAi's files. Default: `$XDG_DATA_HOME/sarai`, else `~/.local/share/sarai`. */
      dataDir: directoryPath.default(resolveDefaultDataDir(system)),
      /** Downloaded and local GGUF models. Default: `<dataDir>/models`. */
      modelsDir: directoryPath.optional(),
      /** SQLite database, image cache, adapters, backups. Default: `<dataDir>/state`. */
      stateDir: directoryPath.optional(),
      /** Rotating log files and the audit log. Default: `<dataDir>/logs`. */
      logDir: directoryPath.optional(),
      /** Disposable caches. Default: `<dataDir>/cache`. */
      cacheDir: directoryPath.optional(),
    })
    .strict();

  const log = z
    .object({
      /** Minimum level written; `silent` writes nothing. Default: `info`. */
      level: z.enum(logLevels).default("info"),
      /** Also write rotating JSON log files under `paths.logDir`. Default: `true`. */
      file: z.boolean().default(true),
      /** Rotate a log file when it reaches this size, in MiB (fractions allowed). Default: `10`. */
      maxSizeMb: z.number().positive().default(10),
      /** Rotated log files kept, 1–100. Default: `5`. */
      maxFiles: z.int().min(1).max(100).default(5),
    })
    .strict();

  const speculative = z
    .object({
      /** Let the draft model propose tokens when `models.draft` is set. Default: `true`. */
      enabled: z.boolean().default(true),
      /** Fewest tokens drafted per round, 1–16. Default: `1`. */
      minDraftTokens: z.int().min(1).max(16).default(1),
      /** Most tokens drafted per round, 1–16 (adaptive in between). Default: `8`. */
      maxDraftTokens: z.int().min(1).max(16).default(8),
      /** Under this share of drafted tokens kept, the request goes on without the draft, 0–1. Default: `0.6`. */
      acceptanceFloor: z.number().min(0).max(1).default(0.6),
      /** Drafted tokens the acceptance is measured over, 1–1024. Default: `32`. */
      windowTokens: z.int().min(1).max(1024).default(32),
      /** Requests in a row under the floor before the pair pauses, 1–100. Default: `3`. */
      fallbackAfter: z.int().min(1).max(100).default(3),
      /** How long a paused pair decodes without the draft before it tries again, in seconds. Default: `60`. */
      cooldownSeconds: z.int().min(0).max(86_400).default(60),
      /** A model evaluation slower than this is a stall and fails the request, in ms. Default: `30000`. */
      stallTimeoutMs: z.int().min(100).max(600_000).default(30_000),
      /** One plain step every N rounds is timed as the speedup baseline; `0` never. Default: `32`. */
      baselineEvery: z.int().min(0).max(10_000).default(32),
    })
    .strict()
    .refine((s) => s.minDraftTokens <= s.maxDraftTokens, {
      message: "must not exceed maxDraftTokens",
      path: ["minDraftTokens"],
    });

  const inference = z
    .object({
      /** CPU threads for llama.cpp; `0` lets llama.cpp choose. Default: `0`. */
      threads: z.int().min(0).default(0),
      /** Tokens per batch when evaluating a prompt, 1–8192. Default: `512`. */
      batchSize: z.int().min(1).max(8192).default(512),
      /** Context window in tokens, at least 64. Default: `4096`. */
      contextSize: contextSize.default(4096),
      /** Parallel sequences per context (concurrent generations), 1–64. Default: `2`. */
      sequences: sequences.default(2),
      /**
       * RAM the models and their contexts may use, in MiB; `0` means 80% of total RAM, and the resolved config
       * holds that number, never `0`. Default: `0`.
       */
      ramBudgetMb: z.int().min(0).default(0),
      /** Speculative decoding, used when `models.draft` is set. */
      speculative: speculative.prefault({}),
    })
    .strict();

  const models = z
    .object({
      /** Download a missing model on first use instead of failing. Default: `true`. */
      autoPull: z.boolean().default(true),
      /**
       * Where `hf:` sources and aliases are downloaded from: a Hugging Face mirror. Default: `https://huggingface.co/`.
       * Caveat: `http://` is accepted only for loopback mirrors.
       */
      huggingFaceEndpoint: z.url({ protocol: /^https?$/ }).optional(),
      /** Source used for the main role when `main` is not set. Default: `qwen2.5-1.5b`. */
      default: modelSource.default(defaultModelAlias),
      /** The model that answers; `default` when absent. A bare string is shorthand for `{ source }`. */
      main: modelRole.optional(),
      /** A small model of the same family for speculative decoding; none when absent. */
      draft: modelRole.optional(),
      /** The model used when the main one cannot be loaded; none when absent. */
      fallback: modelRole.optional(),
    })
    .strict();

  const server = z
    .object({
      /** Address to listen on. Anything but loopback requires `apiKeys`. Default: `127.0.0.1`. */
      host: z.string().min(1).default("127.0.0.1"),
      /** TCP port; `0` picks a free one. Default: `8080`. */
      port: z.int().min(0).max(65_535).default(8080),
      /**
       * Bearer keys accepted by the API; none means no auth, allowed on loopback only. Never logged. An entry
       * `{ key, user }` binds the key to one user: its requests act as that user, whatever `user` they send;
       * `{ key, rateLimitPerMinute }` gives the key its own rate limit (`0`: none).
       */
      apiKeys: z
        .array(
          z.union([
            apiKey,
            z
              .object({
                key: apiKey,
                user: z.string().trim().min(1).max(128).optional(),
                rateLimitPerMinute: z.int().min(0).optional(),
              })
              .strict(),
          ]),
        )
        .default([]),
      /** Largest request body, in KiB (413 above it). Default: `1024`. */
      bodyLimitKb: z.int().min(1).max(1_048_576).default(1024),
      /** Most messages one chat request may carry, 1–10000 (400 naming `messages` above it). Default: `1000`. */
      maxMessages: z.int().min(1).max(10_000).default(1000),
      /** Longest a request may take, generation included, in ms. Default: `600000`. */
      requestTimeoutMs: z.int().min(1_000).default(600_000),
      /**
       * Requests per minute per API key, for keys without their own; `0` turns it off. `/health`, `/ready` and
       * `/metrics` are never limited. Without `apiKeys` nothing is limited unless `rateLimitWithoutKeys`.
       * Default: `120`.
       */
      rateLimitPerMinute: z.int().min(0).default(120),
      /**
       * Also limit a server without `apiKeys` (loopback only), per client address. Off: local clients that send
       * bursts (embedding hundreds of chunks) are never refused. Default: `false`.
       */
      rateLimitWithoutKeys: z.boolean().default(false),
      /** Origins allowed by CORS; empty turns CORS off. Default: `[]`. */
      corsOrigins: z.array(z.string().min(1)).default([]),
      /** Requests that may wait for a free sequence, per model; beyond that the API answers 429. Default: `16`. */
      maxQueue: z.int().min(0).max(10_000).default(16),
      /** On shutdown, how long in-flight generations may run before they are aborted, in ms. Default: `10000`. */
      shutdownGraceMs: z.int().min(0).default(10_000),
    })
    .strict();

  const memory = z
    .object({
      /** Recall facts into every turn and store the facts each turn states. Default: `true`. */
      enabled: z.boolean().default(true),
      /** The SQLite database file. Default: `<stateDir>/sarai.db`. */
      database: filePath.optional(),
      /**
       * `normal` survives a crash of SARAi (WAL); `full` also survives a power cut, at a cost per write.
       * Default: `normal`.
       */
      synchronous: z.enum(["normal", "full"]).default("normal"),
      /** Tokens of recalled facts added to the system prompt, 0–4096 (about 4 characters a token). Default: `256`. */
      recallTokens: z.int().min(0).max(4096).default(256),
      /** Most facts recalled into one turn, 1–200. Default: `24`. */
      recallLimit: z.int().min(1).max(200).default(24),
      /** Characters of a message the extractor reads; the rest is ignored and the cut reported. Default: `4000`. */
      maxExtractChars: z.int().min(100).max(100_000).default(4000),
      /** Also store facts the assistant's reply states (confidence 0.7). Default: `true`. */
      storeAssistantFacts: z.boolean().default(true),
      /**
       * Who extracts facts: `rules` (no model), `model` (the main model alone, under a JSON-schema grammar, after
       * the answer) or `both` (the rules before the answer, the model's share merged after it; each fact keeps
       * which extractor found it). `model` and `both` need a real main model: on the generated demo or test
       * model the rules run, with one warning at startup. `auto`: `both` when a real main model is loaded (a
       * remote engine, or a local file that is not a generated one), else `rules`; the rules alone reach ~74% recall
       * on text nobody tuned them to. Default: `auto` (`both` with the deprecated `modelExtraction: true`).
       */
      extractor: z.enum(["auto", "rules", "model", "both"]).optional(),
      /** Deprecated: `true` means `extractor: both`; `extractor` wins when both are given. */
      modelExtraction: z.boolean().optional(),
      /** How long a write waits for another connection's lock before it fails as busy, in ms. Default: `5000`. */
      busyTimeoutMs: z.int().min(0).max(600_000).default(5_000),
      /** Days after which unpinned facts not seen again are removed by `rotate`. Default: `365`. */
      retentionDays: z.int().min(1).max(36_500).default(365),
    })
    .strict();

  const skills = z
    .object({
      /** Serve the built-in skills (API, CLI and the `skill` parameter of a turn). Default: `true`. */
      enabled: z.boolean().default(true),
      /** Route a chat message to a skill by the keyword classifier when it names none. Default: `true`. */
      autoRoute: z.boolean().default(true),
      /** Extra attempts after an output fails its validator, 0–5 (each with another seed). Default: `2`. */
      retries: z.int().min(0).max(5).default(2),
      /** Most rows `sql_query` returns, 1–10000. Default: `200`. */
      sqlMaxRows: z.int().min(1).max(10_000).default(200),
    })
    .strict();

  const reflect = z
    .object({
      /** Reflect on answers when a request does not say (`reflect` in the API, `--reflect` in the CLI). Default: `false`. */
      enabled: z.boolean().default(false),
      /** Most iterations (the draft included), 1–3. Default: `3`. */
      maxIterations: z.int().min(1).max(3).default(3),
      /** Stop as soon as an iteration's confidence reaches this, 0–1. Default: `0.85`. */
      confidenceThreshold: z.number().min(0).max(1).default(0.85),
      /** Longest one iteration may take, in ms. Default: `60000`. */
      iterationTimeoutMs: z.int().min(100).max(3_600_000).default(60_000),
      /** Longest all iterations together may take, in ms; the best answer so far is returned then. Default: `180000`. */
      deadlineMs: z.int().min(100).max(3_600_000).default(180_000),
      /** Ask the model to grade its answer under a JSON-schema grammar (`{score, issues}`) as one signal. Default: `true`. */
      selfAssessment: z.boolean().default(true),
      /** Answer with the `fallback` model when the main one fails, times out or cannot load. Default: `true`. */
      fallback: z.boolean().default(true),
      /** A folder with reflection templates (`critique.md`, `assess.md`) that replace the built-in ones. */
      templatesDir: directoryPath.optional(),
    })
    .strict();

  const vision = z
    .object({
      /** Accept image parts in chat requests. Default: `true`. */
      enabled: z.boolean().default(true),
      /** Images are fitted within this many pixels on each side, 16–4096. Default: `512`. */
      maxSidePx: z.int().min(16).max(4096).default(512),
      /** WebP quality of the prepared image, 1–100. Default: `85`. */
      webpQuality: z.int().min(1).max(100).default(85),
      /** Largest encoded image accepted, in MiB. Default: `20`. */
      maxInputMb: z.number().positive().max(1024).default(20),
      /** Most pixels an image may decode to (width × height); more is refused as a decompression bomb. Default: `50000000`. */
      maxPixels: z.int().min(1).max(1_000_000_000).default(50_000_000),
      /** Most image parts one chat request may carry, 1–64; more is a 400 before any is decoded. Default: `8`. */
      maxImages: z.int().min(1).max(64).default(8),
      /** Cache of prepared images by perceptual hash. */
      cache: z
        .object({
          /** Keep prepared images for reuse. Default: `true`. */
          enabled: z.boolean().default(true),
          /** Folder of the cache (index and WebP files). Default: `<stateDir>/image-cache`. */
          dir: directoryPath.optional(),
          /** Entries unused for this long are expired by the proactive loop, in days. Default: `7`. */
          ttlDays: z.number().positive().max(3650).default(7),
          /** Total size of cached images; the least recently used go first, in MiB. Default: `256`. */
          maxMb: z.number().positive().max(1_048_576).default(256),
          /** Largest Hamming distance between two 64-bit perceptual hashes that counts as the same image, 0–32. Default: `8`. */
          hammingThreshold: z.int().min(0).max(32).default(8),
        })
        .strict()
        .prefault({}),
    })
    .strict();

  const actionSchedule = z
    .object({
      /** Run this action at all. Default: `true`. */
      enabled: z.boolean().optional(),
      /** Cron: `@hourly`, `@daily`, `@weekly` or five fields (minute hour day month weekday). */
      schedule: cronExpression.optional(),
      /** Events on the loop's bus that trigger it (`ram_high`, `disk_low`, `user_idle`, custom names). */
      on: z
        .array(z.string().regex(loopEventName, "an event name is 1–64 of a-z, 0-9 and _"))
        .max(16)
        .optional(),
      /** 1–10; higher runs first when runs wait for a slot. */
      priority: z.int().min(1).max(10).optional(),
      /** A run slower than this is stopped and recorded as a timeout, in seconds. */
      timeoutSeconds: z.number().positive().max(86_400).optional(),
      /** Extra attempts after a failure or timeout, 0–10. */
      retries: z.int().min(0).max(10).optional(),
      /** Wait before the first retry, doubled each time, in seconds. */
      backoffSeconds: z.number().min(0).max(86_400).optional(),
      /** Slots missed while no loop ran: `skip` them, run the `latest` one, or run `all` (up to 24). */
      catchUp: z.enum(["skip", "latest", "all"]).optional(),
      /**
       * The action's arguments for its scheduled and event-driven runs (and the default of a manual run), e.g.
       * `{ days: 30 }` for `log_retention`. Checked against the action's own arguments when the loop opens.
       */
      args: z.record(z.string(), z.unknown()).optional(),
    })
    .strict();

  const proactive = z
    .object({
      /** Run the proactive loop. Default: `true`. */
      enabled: z.boolean().default(true),
      /** Run it inside `sarai serve`; set `false` when `sarai loop` runs it as its own process. Default: `true`. */
      inServer: z.boolean().default(true),
      /** The loop's SQLite file (jobs, runs, activity, notifications). Default: `<stateDir>/loop.db`. */
      database: filePath.optional(),
      /** Actions running at once, 1–16. Default: `2`. */
      concurrency: z.int().min(1).max(16).default(2),
      /** How often the loop looks for due work, in ms. Default: `1000`. */
      pollMs: z.int().min(50).max(60_000).default(1000),
      /** Where `sarai loop` asks the server for model work. Default: `http://127.0.0.1:<server.port>`. */
      serverUrl: z.url({ protocol: /^https?$/ }).optional(),
      /** A user with no turn for this long is idle (may get a suggestion), in minutes. Default: `5`. */
      idleMinutes: z.number().positive().max(10_080).default(5),
      /** Most suggestions per user per hour, 0–60. Default: `2`. */
      suggestionsPerHour: z.int().min(0).max(60).default(2),
      /** Above this process RSS the RAM check prunes, in MiB; `0` means 90% of `inference.ramBudgetMb`. */
      maxRssMb: z.int().min(0).default(0),
      /** Below this much available system memory the RAM check prunes, in MiB. Default: `512`. */
      minAvailableMb: z.int().min(0).default(512),
      /** Below this much free disk under `paths.stateDir` the disk check raises `disk_low`, in MiB. Default: `1024`. */
      minFreeDiskMb: z.int().min(0).default(1024),
      /** Log files older than this are deleted, in days. Default: `14`. */
      logRetentionDays: z.int().min(1).max(3650).default(14),
      /** The log folder is kept under this total size (oldest files go first), in MiB. Default: `500`. */
      logMaxTotalMb: z.int().min(1).default(500),
      /** Per-action overrides of schedule, triggers, priority, timeout, retries and catch-up. */
      actions: z
        .object(Object.fromEntries(proactiveActionNames.map((name) => [name, actionSchedule.optional()])))
        .strict()
        .default({}),
    })
    .strict();

  // Trust layer (security/): each part owns its own object.
  const audit = z
    .object({
      /** Write the HMAC-chained audit log of security-relevant events. Default: `true`. */
      enabled: z.boolean().default(true),
      /** Folder of the day files (`audit-YYYY-MM-DD.jsonl`). Default: `<logDir>/audit`. */
      dir: directoryPath.optional(),
      /** The HMAC key (hex, mode 0600, created on first start); `SARAI_AUDIT_KEY` wins. Default: `<stateDir>/keys/audit.key`. */
      keyFile: filePath.optional(),
    })
    .strict();

  const guardAction = z.enum(["block", "sanitize", "flag"]);
  const guard = z
    .object({
      /** Screen user turns and outside text (memory, skills, pages) for prompt injection. Default: `true`. */
      enabled: z.boolean().default(true),
      /**
       * What a hit does, per source: `block` refuses the request (`INPUT_BLOCKED`), `sanitize` cuts the offending
       * sentences out, `flag` passes the text on marked (`sarai.guard`, metrics, audit log). Recalled facts that
       * read as instructions are always dropped. Defaults: `user: flag`, every other source `sanitize`.
       */
      policy: z
        .object({
          user: guardAction.default("flag"),
          memory: guardAction.default("sanitize"),
          skill: guardAction.default("sanitize"),
          tool: guardAction.default("sanitize"),
          web: guardAction.default("sanitize"),
          image: guardAction.default("sanitize"),
          file: guardAction.default("sanitize"),
        })
        .strict()
        .prefault({}),
      /** Attack threshold on the guard's score, 0–1; absent: the one chosen at training. */
      threshold: z.number().min(0).max(1).optional(),
      /** Characters of a text the guard reads (the first and last halves of this many). Default: `32000`. */
      maxChars: z.int().min(256).max(1_000_000).default(32_000),
    })
    .strict();

  const signatures = z
    .object({
      /**
       * Check the OpenPGP signatures of prompt template files: once `sarai keys init` made a key, a template whose
       * signature does not verify is not used (the built-in one is). Default: `true`.
       */
      enabled: z.boolean().default(true),
      /** Refuse unsigned templates even before a signing key exists (then only built-in ones are used). Default: `false`. */
      required: z.boolean().default(false),
      /** The trusted public key (armored). Default: `<stateDir>/keys/signing-key.pub.asc`. */
      publicKey: filePath.optional(),
      /** The private signing key (armored, mode 0600). Default: `<stateDir>/keys/signing-key.asc`. */
      privateKey: filePath.optional(),
    })
    .strict();

  const security = z
    .object({
      audit: audit.prefault({}),
      guard: guard.prefault({}),
      signatures: signatures.prefault({}),
    })
    .strict();

  const voice = z
    .object({
      /** Offer text to speech (espeak-ng) and speech to text (a remote role). Default: `true`. */
      enabled: z.boolean().default(true),
      /** The espeak-ng executable (a name on PATH or a path); run with an argument array, never a shell. Default: `espeak-ng`. */
      espeakCommand: z.string().min(1).default("espeak-ng"),
      /** Longest text `POST /v1/audio/speech` and `sarai say` take, in characters. Default: `4096`. */
      maxInputChars: z.int().min(1).max(100_000).default(4096),
      /** The voice when a request names none: `es` or `en`. Default: `en`. */
      defaultVoice: z.enum(["es", "en"]).default("en"),
      /** Longest an espeak-ng run may take, in ms. Default: `30000`. */
      synthesisTimeoutMs: z.int().min(100).default(30_000),
      /** Largest audio file `POST /v1/audio/transcriptions` accepts, in MiB. Default: `25`. */
      maxUploadMb: z.number().gt(0).max(1024).default(25),
      /**
       * An OpenAI-compatible transcription server (whisper.cpp's server, faster-whisper, vLLM): uploads are
       * forwarded to `<baseUrl>/audio/transcriptions`. Without it transcription answers 400. Default: none.
       */
      transcription: z
        .object({
          /** The server's API root, e.g. `http://10.0.0.5:8081/v1`. */
          baseUrl: z.url({ protocol: /^https?$/ }),
          /** The model name sent as the `model` field. */
          model: z.string().min(1),
          /** Bearer key for the server, if it needs one. Never logged. */
          apiKey: z.string().min(1).optional(),
          /** Longest wait for the whole transcription, in ms. Default: `120000`. */
          timeoutMs: z.int().min(1).default(120_000),
        })
        .strict()
        .optional(),
    })
    .strict();

  const search = z
    .object({
      /** Web search through a SearXNG instance; off until one is configured. Default: `false`. */
      enabled: z.boolean().default(false),
      /** The SearXNG instance's root (its JSON API must be on: `search.formats: [json]`). Required when enabled. */
      baseUrl: z.url({ protocol: /^https?$/ }).optional(),
      /** Result pages fetched and read per search. Default: `3`. */
      topResults: z.int().min(0).max(10).default(3),
      /** Bytes read of each page; the rest is not downloaded. Default: `1000000`. */
      maxPageBytes: z.int().min(1024).default(1_000_000),
      /** Longest wait for a page (or for SearXNG), in ms. Default: `5000`. */
      fetchTimeoutMs: z.int().min(100).default(5_000),
      /** Redirects followed per page. Default: `3`. */
      maxRedirects: z.int().min(0).max(10).default(3),
      /** Characters of readable text kept per page for the prompt. Default: `2000`. */
      maxCharsPerPage: z.int().min(100).default(2_000),
      /** How long a query's results (and read pages) stay cached, in seconds. Default: `3600`. */
      cacheTtlSeconds: z.int().min(0).default(3_600),
      /** The SQLite file of the search cache. Default: `<stateDir>/search-cache.db`. */
      cacheFile: z.string().min(1).optional(),
      /** Fetch pages on loopback and private addresses (tests, an intranet); SSRF protection is off. Default: `false`. */
      allowPrivateAddresses: z.boolean().default(false),
    })
    .strict();

  const learning = z
    .object({
      /** Keep users' thumbs up/down and corrections (`POST /v1/feedback`) for the learning loop. Default: `true`. */
      enabled: z.boolean().default(true),
      /** The feedback database. Default: `<stateDir>/learning.db`. */
      database: z.string().min(1).optional(),
      lora: z
        .object({
          /** Train LoRA adapters from feedback (`sarai lora train`, the nightly `lora_training` action). Default: `true`. */
          enabled: z.boolean().default(true),
          /** Run state, checkpoints and the signed adapter archive. Default: `<stateDir>/learning`. */
          dir: z.string().min(1).optional(),
          /** Whose feedback the adapter learns from (one user's; never mixed). Default: `anonymous` (the user of requests without a key or `user`). */
          user: z.string().trim().min(1).max(128).default("anonymous"),
          /** New feedback rows since the last run below which the nightly run is skipped. Default: `5`. */
          minNewFeedback: z.int().min(0).max(1_000_000).default(5),
          /** Training examples below which a run is skipped. Default: `3`. */
          minExamples: z.int().min(2).max(1_000_000).default(3),
          /** Share of the examples held out for the gate, 0.05–0.5. Default: `0.2`. */
          heldOutFraction: z.number().min(0.05).max(0.5).default(0.2),
          rank: z.int().min(1).max(256).default(8),
          alpha: z.number().positive().max(1024).default(8),
          learningRate: z.number().positive().max(1).default(0.003),
          /** Optimizer steps per run at most. Default: `800`. */
          steps: z.int().min(1).max(1_000_000).default(800),
          batchSize: z.int().min(1).max(4096).default(32),
          weightDecay: z.number().min(0).max(1).default(0),
          /** How much keeping the bare model's replay distributions (KL) counts against learning the feedback. Default: `8`. */
          anchorWeight: z.number().min(0).max(100).default(8),
          /** Wall-clock budget of the training part of a run, in seconds. Default: `1800`. */
          timeBudgetSeconds: z.int().min(1).max(86_400).default(1_800),
          /** Memory the cached head logits may take, in MiB. Default: `2048`. */
          memoryBudgetMb: z.int().min(16).max(1_048_576).default(2_048),
          /** Tokens an answer may run to when the gate compares answers. Default: `48`. */
          maxAnswerTokens: z.int().min(1).max(4096).default(48),
          /** Held-out NLL must fall by at least this share. Default: `0.02`. */
          minImprovement: z.number().min(0).max(1).default(0.02),
          /** Regression NLL may rise by at most this share. Default: `0.1`. */
          maxRegressionIncrease: z.number().min(0).max(10).default(0.1),
          /** Regression token agreement (reference tokens still the most likely) may fall by at most this, 0–1. Default: `0.1`. */
          maxAgreementDrop: z.number().min(0).max(1).default(0.1),
          /** Days an archived adapter is kept (never the promoted one and the one before it). Default: `30`. */
          keepDays: z.int().min(1).max(3_650).default(30),
        })
        .strict()
        .prefault({}),
    })
    .strict();

  const redteam = z
    .object({
      /** Allow red-team campaigns: `POST /v1/redteam/campaigns` and the weekly `redteam_campaign` action. Default: `true`. */
      enabled: z.boolean().default(true),
      /** Folder of reports and regression cases. Default: `<stateDir>/redteam`. */
      dir: z.string().min(1).optional(),
      /** New attempts per campaign (regression reruns come on top); `0` means every probe and every cell once. Default: `0`. */
      budget: z.int().min(0).max(100_000).default(0),
      /** Pause between attempts so a campaign never starves users, in ms. Default: `250`. */
      minIntervalMs: z.int().min(0).max(600_000).default(250),
      /** Per request, in ms. Default: `120000`. */
      timeoutMs: z.int().min(1000).max(3_600_000).default(120_000),
      /** Variants the main model writes of one seed per text family, per campaign (never on a generated model). Default: `2`. */
      modelVariants: z.int().min(0).max(10).default(2),
      /** Probe families a scheduled campaign runs; empty means all. Default: `[]`. */
      families: z.array(z.string().min(1).max(64)).max(64).default([]),
    })
    .strict();

  const repairThresholds = z
    .object({
      /** RSS over this share of `inference.ramBudgetMb` is RAM pressure, 0.1–1. Default: `0.9`. */
      ramShare: z.number().min(0.1).max(1).default(0.9),
      /** The same error (overflow, timeout, busy database, failed load) this many times in the window is a fault. Default: `3`. */
      errorsInWindow: z.int().min(1).max(10_000).default(3),
      /** Free disk under this many MiB is a nearly full disk. Default: `512`. */
      minFreeDiskMb: z.int().min(1).max(1_048_576).default(512),
      /** An image-cache hit rate under this share, over at least `minCacheLookups` lookups, is thrash, 0–1. Default: `0.2`. */
      cacheHitRate: z.number().min(0).max(1).default(0.2),
      /** Lookups before the cache's hit rate is judged. Default: `20`. */
      minCacheLookups: z.int().min(1).max(1_000_000).default(20),
      /** A draft acceptance under this share, over at least `minDraftedTokens`, is low acceptance, 0–1. Default: `0.3`. */
      acceptanceFloor: z.number().min(0).max(1).default(0.3),
      /** Drafted tokens before acceptance is judged. Default: `64`. */
      minDraftedTokens: z.int().min(1).max(1_000_000).default(64),
    })
    .strict();

  const repair = z
    .object({
      /** Watch the server for faults and repair them. Default: `true`. */
      enabled: z.boolean().default(true),
      /** Repair what is found (levels 1 and 3); `false` only diagnoses and notifies. Default: `true`. */
      autoApply: z.boolean().default(true),
      /** How often the detectors run, in ms. Default: `10000`. */
      intervalMs: z.int().min(100).max(3_600_000).default(10_000),
      /** How far back the log and metric detectors look, in ms. Default: `60000`. */
      windowMs: z.int().min(100).max(86_400_000).default(60_000),
      /** How long a repair has to clear its fault before it is reverted, in ms. Default: `15000`. */
      verifyMs: z.int().min(0).max(3_600_000).default(15_000),
      /** A fault repaired (or not) is not tried again on the same target before this, in ms. Default: `300000`. */
      cooldownMs: z.int().min(0).max(86_400_000).default(300_000),
      /** Repair history and patch work. Default: `<stateDir>/repair`. */
      dir: z.string().min(1).optional(),
      /** Who gets a notification for each repair. Default: `admin`. */
      notifyUser: z.string().trim().min(1).max(128).default("admin"),
      thresholds: repairThresholds.prefault({}),
      patches: z
        .object({
          /** Accept signed patches (`sarai repair apply`, the watched folder). Default: `true`. */
          enabled: z.boolean().default(true),
          /** A folder watched for `*.diff` + `*.diff.asc` pairs; none when absent. */
          watchDir: z.string().min(1).optional(),
          /** The git checkout patches apply to. Default: the installed package's root. */
          installDir: z.string().min(1).optional(),
          /** The test command run on the patched copy, under bubblewrap. Default: `["npx", "vitest", "run"]`. */
          testCommand: z.array(z.string().min(1)).min(1).default(["npx", "vitest", "run"]),
          /** Longest the tests may run, in ms. Default: `600000`. */
          testTimeoutMs: z.int().min(1000).max(7_200_000).default(600_000),
          /** Memory the tests may use, in MiB. Default: `4096`. */
          testMemoryMb: z.int().min(256).max(1_048_576).default(4096),
          /** How long health must hold after a patch is switched in, in ms. Default: `5000`. */
          healthWindowMs: z.int().min(0).max(600_000).default(5_000),
          /** Run in the install after a patch that changes code (`src/`, `web/`, `package.json`). Default: `["npm", "run", "build"]`. */
          buildCommand: z.array(z.string().min(1)).default(["npm", "run", "build"]),
          /**
           * Restarts SARAi after a code patch, e.g. `["supervisorctl", "restart", "sarai-serve"]`; the new process
           * watches its health for `healthWindowMs` and rolls the patch back (and restarts again) if it fails. None:
           * the new code runs after the next start.
           */
          restartCommand: z.array(z.string().min(1)).min(1).optional(),
        })
        .strict()
        .prefault({}),
    })
    .strict();

  const web = z
    .object({
      /** Serve the web UI at `/` and its conversation routes (`/v1/conversations`). Default: `true`. */
      enabled: z.boolean().default(true),
      /** The web UI's conversations. Default: `<stateDir>/web.db`. */
      database: z.string().min(1).optional(),
    })
    .strict();

  // `prefault` (not `default`) so that a missing section is parsed, which fills in its own defaults.
  return z
    .object({
      server: server.prefault({}),
      paths: paths.prefault({}),
      log: log.prefault({}),
      inference: inference.prefault({}),
      models: models.prefault({}),
      memory: memory.prefault({}),
      skills: skills.prefault({}),
      proactive: proactive.prefault({}),
      reflect: reflect.prefault({}),
      vision: vision.prefault({}),
      security: security.prefault({}),
      voice: voice.prefault({}),
      search: search.prefault({}),
      learning: learning.prefault({}),
      redteam: redteam.prefault({}),
      repair: repair.prefault({}),
      web: web.prefault({}),
    })
    .strict();
}

type ParsedConfig = z.output<ReturnType<typeof createConfigObjectSchema>>;

/** The proactive loop's built-in actions: `proactive.actions.<name>` may only name these. */
export const proactiveActionNames = [
  "ram_check",
  "prune",
  "disk_check",
  "log_retention",
  "memory_maintenance",
  "idle_check",
  "idle_suggestion",
  "image_cache_expiry",
  "redteam_campaign",
  "lora_training",
] as const;

export type ProactiveActionName = (typeof proactiveActionNames)[number];

/** Names of events on the loop's bus (built-in and custom): what `POST /v1/loop/events/{name}` accepts. */
export const loopEventName = /^[a-z0-9_]{1,64}$/;

/** A cron expression croner accepts in five-field mode, checked when the config loads. */
const cronExpression = z
  .string()
  .trim()
  .min(1)
  .superRefine((value, context) => {
    try {
      new Cron(value, { paused: true, mode: "5-part" });
    } catch (error) {
      context.addIssue({
        code: "custom",
        message: `not a cron expression (five fields, or @hourly, @daily, @weekly): ${
          error instanceof Error ? error.message : String(error)
        }`,
      });
    }
  });

/** Whether a listen address only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Expands `~` and makes `value` absolute against `baseDir`. */
export function resolvePath(value: string, baseDir: string, homeDir: string): string {
  if (value === "~") return homeDir;
  if (value.startsWith("~/")) return path.join(homeDir, value.slice(2));
  return path.resolve(baseDir, value);
}

/** Whether a model source names a file rather than an alias, an `hf:` URI or a URL. */
export function isPathLikeSource(source: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:/i.test(source)) return false;
  return /^(?:\/|\.\.?\/|~\/)/.test(source) || source.toLowerCase().endsWith(".gguf");
}

/** Resolves a model source if it is path-like; returns aliases, URIs and URLs unchanged. */
export function resolveModelSource(source: string, baseDir: string, homeDir: string): string {
  const trimmed = source.trim();
  return isPathLikeSource(trimmed) ? resolvePath(trimmed, baseDir, homeDir) : source;
}

function withoutDeprecatedExtraction<T extends { modelExtraction?: boolean }>(
  memory: T,
): Omit<T, "modelExtraction"> {
  const { modelExtraction: _deprecated, ...rest } = memory;
  return rest;
}

function resolveParsedConfig(parsed: ParsedConfig, system: SystemContext) {
  const resolveDir = (value: string) => resolvePath(value, system.baseDir, system.homeDir);
  const resolveSource = (value: string) => resolveModelSource(value, system.baseDir, system.homeDir);
  const dataDir = resolveDir(parsed.paths.dataDir);
  const resolveUnderData = (value: string | undefined, name: string) =>
    value === undefined ? path.join(dataDir, name) : resolveDir(value);

  const { autoPull, default: defaultSource, huggingFaceEndpoint, ...roles } = parsed.models;
  const resolvedRoles: Partial<Record<ModelRole, NonNullable<(typeof roles)[ModelRole]>>> = {};
  for (const role of modelRoles) {
    const value = roles[role];
    if (value !== undefined) {
      resolvedRoles[role] =
        value.source === undefined ? { ...value } : { ...value, source: resolveSource(value.source) };
    }
  }

  return {
    server: parsed.server,
    paths: {
      dataDir,
      modelsDir: resolveUnderData(parsed.paths.modelsDir, "models"),
      stateDir: resolveUnderData(parsed.paths.stateDir, "state"),
      logDir: resolveUnderData(parsed.paths.logDir, "logs"),
      cacheDir: resolveUnderData(parsed.paths.cacheDir, "cache"),
    },
    memory: {
      ...withoutDeprecatedExtraction(parsed.memory),
      extractor: parsed.memory.extractor ?? (parsed.memory.modelExtraction === true ? "both" : "auto"),
      database:
        parsed.memory.database === undefined
          ? path.join(resolveUnderData(parsed.paths.stateDir, "state"), "sarai.db")
          : resolveDir(parsed.memory.database),
    },
    skills: parsed.skills,
    proactive: {
      ...parsed.proactive,
      database:
        parsed.proactive.database === undefined
          ? path.join(resolveUnderData(parsed.paths.stateDir, "state"), "loop.db")
          : resolveDir(parsed.proactive.database),
      serverUrl:
        parsed.proactive.serverUrl ??
        `http://127.0.0.1:${parsed.server.port === 0 ? 8080 : parsed.server.port}`,
    },
    reflect: {
      ...parsed.reflect,
      ...(parsed.reflect.templatesDir === undefined
        ? {}
        : { templatesDir: resolveDir(parsed.reflect.templatesDir) }),
    },
    vision: {
      ...parsed.vision,
      cache: {
        ...parsed.vision.cache,
        dir:
          parsed.vision.cache.dir === undefined
            ? path.join(resolveUnderData(parsed.paths.stateDir, "state"), "image-cache")
            : resolveDir(parsed.vision.cache.dir),
      },
    },
    security: parsed.security,
    voice: parsed.voice,
    search: {
      ...parsed.search,
      cacheFile:
        parsed.search.cacheFile === undefined
          ? path.join(resolveUnderData(parsed.paths.stateDir, "state"), "search-cache.db")
          : resolveDir(parsed.search.cacheFile),
    },
    learning: {
      ...parsed.learning,
      database:
        parsed.learning.database === undefined
          ? path.join(resolveUnderData(parsed.paths.stateDir, "state"), "learning.db")
          : resolveDir(parsed.learning.database),
      lora: {
        ...parsed.learning.lora,
        dir:
          parsed.learning.lora.dir === undefined
            ? path.join(resolveUnderData(parsed.paths.stateDir, "state"), "learning")
            : resolveDir(parsed.learning.lora.dir),
      },
    },
    redteam: {
      ...parsed.redteam,
      dir:
        parsed.redteam.dir === undefined
          ? path.join(resolveUnderData(parsed.paths.stateDir, "state"), "redteam")
          : resolveDir(parsed.redteam.dir),
    },
    repair: {
      ...parsed.repair,
      dir:
        parsed.repair.dir === undefined
          ? path.join(resolveUnderData(parsed.paths.stateDir, "state"), "repair")
          : resolveDir(parsed.repair.dir),
      patches: {
        ...parsed.repair.patches,
        ...(parsed.repair.patches.watchDir === undefined
          ? {}
          : { watchDir: resolveDir(parsed.repair.patches.watchDir) }),
        ...(parsed.repair.patches.installDir === undefined
          ? {}
          : { installDir: resolveDir(parsed.repair.patches.installDir) }),
      },
    },
    web: {
      ...parsed.web,
      database:
        parsed.web.database === undefined
          ? path.join(resolveUnderData(parsed.paths.stateDir, "state"), "web.db")
          : resolveDir(parsed.web.database),
    },
    log: parsed.log,
    inference: {
      ...parsed.inference,
      ramBudgetMb:
        parsed.inference.ramBudgetMb === 0
          ? Math.max(1, Math.floor((system.totalMemoryBytes * autoRamBudgetShare) / 2 ** 20))
          : parsed.inference.ramBudgetMb,
    },
    models: {
      autoPull,
      default: resolveSource(defaultSource),
      ...(huggingFaceEndpoint === undefined ? {} : { huggingFaceEndpoint }),
      ...resolvedRoles,
    },
  };
}

/**
 * Builds the config schema. Parsing applies the defaults, normalises bare-string model roles to objects, makes
 * paths absolute (`~` expanded, relative ones against `context.baseDir`) and resolves the automatic RAM budget.
 * The defaults depend on `context`, which is why this is a factory rather than a constant.
 */
export function createConfigSchema(context: ConfigSchemaContext = {}) {
  const system = resolveSystemContext(context);
  return createConfigObjectSchema(system)
    .superRefine((parsed, context) => {
      if (parsed.search.enabled && parsed.search.baseUrl === undefined) {
        context.addIssue({
          code: "custom",
          path: ["search", "baseUrl"],
          message: "required when search.enabled is true (the SearXNG instance's root URL)",
        });
      }
      if (!isLoopbackHost(parsed.server.host) && parsed.server.apiKeys.length === 0) {
        context.addIssue({
          code: "custom",
          path: ["server", "apiKeys"],
          message: `required when server.host (${parsed.server.host}) is not a loopback address`,
        });
      }
    })
    .transform((parsed) => resolveParsedConfig(parsed, system));
}

/** The type of the schema `createConfigSchema` builds. */
export type ConfigSchema = ReturnType<typeof createConfigSchema>;

/** The config as written in YAML, env vars or flags: every field optional except a role's `source`. */
export type Config = z.input<ConfigSchema>;

/** Every field optional, recursively: a patch, or overrides from CLI flags. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** Readonly all the way down, matching the deep-frozen objects the loader returns. */
export type DeepReadonly<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends readonly (infer U)[]
    ? readonly DeepReadonly<U>[]
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;

/** A partial config deep-merged over another: CLI overrides or a patch given to `ConfigStore.apply`. */
export type ConfigPatch = DeepPartial<Config>;

/**
 * The validated config: every default applied, paths absolute, model roles as objects, `ramBudgetMb` in MiB.
 * Deep-frozen at runtime.
 */
export type ResolvedConfig = DeepReadonly<z.output<ConfigSchema>>;

/** One model role as resolved. */
export type ResolvedModelRole = NonNullable<ResolvedConfig["models"]["main"]>;
