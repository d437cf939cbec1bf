import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AppError } from "../shared/index.js";
import { ConfigError, loadConfig, safeLoadConfig, type ConfigEnv, type LoadConfigOptions } from "./index.js";

let root: string;
let home: string;
let cwd: string;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), "sarai-config-"));
  home = path.join(root, "home");
  cwd = path.join(root, "work");
  mkdirSync(home);
  mkdirSync(cwd);
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function writeConfig(relative: string, text: string): string {
  const file = path.join(root, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

function load(options: LoadConfigOptions = {}, env: ConfigEnv = {}) {
  return loadConfig({ cwd, env: { HOME: home, ...env }, totalMemoryBytes: 10 * 2 ** 30, ...options });
}

function loadError(options: LoadConfigOptions = {}, env: ConfigEnv = {}): AppError {
  const result = safeLoadConfig({ cwd, env: { HOME: home, ...env }, ...options });
  if (result.ok) throw new Error("expected the config to be rejected");
  return result.error;
}

function loadConfigError(options: LoadConfigOptions = {}, env: ConfigEnv = {}): ConfigError {
  const error = loadError(options, env);
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe("config", () => {
  describe("loadConfig", () => {
    it("returns the defaults when there is no file", () => {
      const loaded = load();
      const dataDir = path.join(home, ".local", "share", "sarai");
      expect(loaded.file).toBeUndefined();
      expect(loaded.envVars).toEqual([]);
      expect(loaded.config).toEqual({
        server: {
          host: "127.0.0.1",
          port: 8080,
          apiKeys: [],
          bodyLimitKb: 1024,
          maxMessages: 1000,
          requestTimeoutMs: 600_000,
          rateLimitPerMinute: 120,
          rateLimitWithoutKeys: false,
          corsOrigins: [],
          maxQueue: 16,
          shutdownGraceMs: 10_000,
        },
        paths: {
          dataDir,
          modelsDir: path.join(dataDir, "models"),
          stateDir: path.join(dataDir, "state"),
          logDir: path.join(dataDir, "logs"),
          cacheDir: path.join(dataDir, "cache"),
        },
        log: { level: "info", file: true, maxSizeMb: 10, maxFiles: 5 },
        inference: {
          threads: 0,
          batchSize: 512,
          contextSize: 4096,
          sequences: 2,
          ramBudgetMb: 8192,
          speculative: {
            enabled: true,
            minDraftTokens: 1,
            maxDraftTokens: 8,
            acceptanceFloor: 0.6,
            windowTokens: 32,
            fallbackAfter: 3,
            cooldownSeconds: 60,
            stallTimeoutMs: 30_000,
            baselineEvery: 32,
          },
        },
        models: { autoPull: true, default: "qwen2.5-1.5b" },
        memory: {
          enabled: true,
          database: path.join(dataDir, "state", "sarai.db"),
          synchronous: "normal",
          busyTimeoutMs: 5_000,
          recallTokens: 256,
          recallLimit: 24,
          maxExtractChars: 4000,
          storeAssistantFacts: true,
          extractor: "auto",
          retentionDays: 365,
        },
        skills: { enabled: true, autoRoute: true, retries: 2, sqlMaxRows: 200 },
        proactive: {
          enabled: true,
          inServer: true,
          database: path.join(dataDir, "state", "loop.db"),
          concurrency: 2,
          pollMs: 1000,
          serverUrl: "http://127.0.0.1:8080",
          idleMinutes: 5,
          suggestionsPerHour: 2,
          maxRssMb: 0,
          minAvailableMb: 512,
          minFreeDiskMb: 1024,
          logRetentionDays: 14,
          logMaxTotalMb: 500,
          actions: {},
        },
        reflect: {
          enabled: false,
          maxIterations: 3,
          confidenceThreshold: 0.85,
          iterationTimeoutMs: 60_000,
          deadlineMs: 180_000,
          selfAssessment: true,
          fallback: true,
        },
        vision: {
          enabled: true,
          maxSidePx: 512,
          webpQuality: 85,
          maxInputMb: 20,
          maxPixels: 50_000_000,
          maxImages: 8,
          cache: {
            enabled: true,
            dir: path.join(dataDir, "state", "image-cache"),
            ttlDays: 7,
            maxMb: 256,
            hammingThreshold: 8,
          },
        },
        security: {
          audit: { enabled: true },
          guard: {
            enabled: true,
            policy: {
              user: "flag",
              memory: "sanitize",
              skill: "sanitize",
              tool: "sanitize",
              web: "sanitize",
              image: "sanitize",
              file: "sanitize",
            },
            maxChars: 32_000,
          },
          signatures: { enabled: true, required: false },
        },
        voice: {
          enabled: true,
          espeakCommand: "espeak-ng",
          maxInputChars: 4096,
          defaultVoice: "en",
          synthesisTimeoutMs: 30_000,
          maxUploadMb: 25,
        },
        search: {
          enabled: false,
          topResults: 3,
          maxPageBytes: 1_000_000,
          fetchTimeoutMs: 5_000,
          maxRedirects: 3,
          maxCharsPerPage: 2_000,
          cacheTtlSeconds: 3_600,
          allowPrivateAddresses: false,
          cacheFile: expect.stringMatching(/search-cache\.db$/) as unknown,
        },
        learning: {
          enabled: true,
          database: expect.stringMatching(/state\/learning\.db$/) as unknown,
          lora: expect.objectContaining({
            enabled: true,
            user: "anonymous",
            rank: 8,
            steps: 800,
            dir: expect.stringMatching(/state\/learning$/) as unknown,
          }) as unknown,
        },
        redteam: {
          enabled: true,
          dir: expect.stringMatching(/state\/redteam$/) as unknown,
          budget: 0,
          minIntervalMs: 250,
          timeoutMs: 120_000,
          modelVariants: 2,
          families: [],
        },
        repair: {
          enabled: true,
          autoApply: true,
          intervalMs: 10_000,
          windowMs: 60_000,
          verifyMs: 15_000,
          cooldownMs: 300_000,
          dir: expect.stringMatching(/state\/repair$/) as unknown,
          notifyUser: "admin",
          thresholds: {
            ramShare: 0.9,
            errorsInWindow: 3,
            minFreeDiskMb: 512,
            cacheHitRate: 0.2,
            minCacheLookups: 20,
            acceptanceFloor: 0.3,
            minDraftedTokens: 64,
          },
          patches: {
            enabled: true,
            testCommand: ["npx", "vitest", "run"],
            testTimeoutMs: 600_000,
            testMemoryMb: 4096,
            healthWindowMs: 5_000,
            buildCommand: ["npm", "run", "build"],
          },
        },
        web: { enabled: true, database: expect.stringMatching(/state\/web\.db$/) as unknown },
      });
    });

    it("puts the memory database under the state directory and resolves a relative one against the file", () => {
      const file = writeConfig("conf/sarai.yaml", ["memory:", "  database: ./db/mem.db"].join("\n"));
      expect(load({ file }).config.memory.database).toBe(path.join(path.dirname(file), "db", "mem.db"));
      const moved = writeConfig("conf2/sarai.yaml", ["paths:", "  stateDir: /srv/state"].join("\n"));
      expect(load({ file: moved }).config.memory.database).toBe("/srv/state/sarai.db");
    });

    it("puts the data directory under an absolute XDG_DATA_HOME and ignores a relative one", () => {
      const xdg = path.join(root, "xdg");
      expect(load({}, { XDG_DATA_HOME: xdg }).config.paths.modelsDir).toBe(path.join(xdg, "sarai", "models"));
      expect(load({}, { XDG_DATA_HOME: "relative/xdg" }).config.paths.dataDir).toBe(
        path.join(home, ".local", "share", "sarai"),
      );
    });

    it("reads values from ./sarai.yaml in the working directory", () => {
      const file = writeConfig(
        "work/sarai.yaml",
        [
          "log:",
          "  level: debug",
          "  maxSizeMb: 2.5",
          "inference:",
          "  threads: 4",
          "  ramBudgetMb: 3000",
          "models:",
          "  autoPull: false",
          "  main: qwen2.5-0.5b-instruct",
          "  draft:",
          "    source: hf:owner/repo/draft.gguf",
          "    contextSize: 1024",
        ].join("\n"),
      );
      const loaded = load();
      expect(loaded.file).toBe(file);
      expect(loaded.fileOrigin).toBe("cwd");
      expect(loaded.config.log).toEqual({ level: "debug", file: true, maxSizeMb: 2.5, maxFiles: 5 });
      expect(loaded.config.inference.threads).toBe(4);
      expect(loaded.config.inference.ramBudgetMb).toBe(3000);
      expect(loaded.config.models).toEqual({
        autoPull: false,
        default: "qwen2.5-1.5b",
        main: { source: "qwen2.5-0.5b-instruct" },
        draft: { source: "hf:owner/repo/draft.gguf", contextSize: 1024 },
      });
    });

    it("treats an empty or comment-only file as all defaults", () => {
      writeConfig("work/sarai.yaml", "# nothing yet\n");
      expect(load().config.log.level).toBe("info");
    });

    it("prefers --config over SARAI_CONFIG over ./sarai.yaml", () => {
      writeConfig("work/sarai.yaml", "log: { level: warn }\n");
      const fromEnv = writeConfig("env.yaml", "log: { level: error }\n");
      const fromFlag = writeConfig("flag.yaml", "log: { level: trace }\n");
      expect(load({}, { SARAI_CONFIG: fromEnv }).config.log.level).toBe("error");
      const loaded = load({ file: path.relative(cwd, fromFlag) }, { SARAI_CONFIG: fromEnv });
      expect(loaded.config.log.level).toBe("trace");
      expect(loaded.file).toBe(fromFlag);
      expect(loaded.fileOrigin).toBe("flag");
    });

    it("fails with CONFIG_NOT_FOUND naming a file that was named but does not exist", () => {
      const byFlag = loadError({ file: "missing.yaml" });
      expect(byFlag.code).toBe("CONFIG_NOT_FOUND");
      expect(byFlag.message).toContain(path.join(cwd, "missing.yaml"));
      expect(byFlag.message).toContain("--config");
      const byEnv = loadError({}, { SARAI_CONFIG: "/nowhere/sarai.yaml" });
      expect(byEnv.code).toBe("CONFIG_NOT_FOUND");
      expect(byEnv.message).toContain("/nowhere/sarai.yaml");
      expect(byEnv.message).toContain("SARAI_CONFIG");
    });

    it("fails with CONFIG_PARSE_FAILED and file:line:col for bad YAML", () => {
      const file = writeConfig("work/sarai.yaml", "log:\n  level: info\ninference:\n  threads: [4\n");
      const error = loadError();
      expect(error.code).toBe("CONFIG_PARSE_FAILED");
      expect(error.message).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:[45]:\\d+: `));
    });

    it("rejects duplicate keys as a parse error with the line", () => {
      const file = writeConfig("work/sarai.yaml", "log:\n  level: info\n  level: debug\n");
      const error = loadError();
      expect(error.code).toBe("CONFIG_PARSE_FAILED");
      expect(error.message).toContain(`${file}:3:3`);
    });

    it("rejects a document that is not a mapping", () => {
      writeConfig("work/sarai.yaml", "- log\n- inference\n");
      expect(loadConfigError().issues).toEqual([
        { path: "(root)", message: "expected a mapping of sections, received a list" },
      ]);
    });

    it("reports an unknown key with its path and where it is in the file", () => {
      const file = writeConfig("work/sarai.yaml", "log:\n  levle: debug\n");
      const error = loadConfigError();
      expect(error.code).toBe("CONFIG_INVALID");
      expect(error.issues).toEqual([
        { path: "log.levle", message: 'unknown key; did you mean "level"?', source: `${file}:2:10` },
      ]);
      expect(error.message).toContain("log.levle: unknown key");
    });

    it("reports a value of the wrong type with its path", () => {
      writeConfig("work/sarai.yaml", "inference:\n  threads: four\n");
      const error = loadConfigError();
      expect(error.issues.map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
        "inference.threads: expected number, received string",
      ]);
      expect(error.message).toContain("inference.threads: expected number, received string");
    });

    it("reports a bad cron expression and an unknown proactive action with their paths", () => {
      writeConfig(
        "work/sarai.yaml",
        "proactive:\n  actions:\n    ram_check:\n      schedule: every five minutes\n    make_coffee:\n      priority: 3\n",
      );
      const issues = loadConfigError().issues.map((issue) => `${issue.path}: ${issue.message}`);
      expect(issues).toHaveLength(2);
      expect(issues[0]).toMatch(/^proactive\.actions\.ram_check\.schedule: not a cron expression/);
      expect(issues[1]).toMatch(/^proactive\.actions\.make_coffee: unknown key/);
    });

    it("takes an action's args as an object and refuses other args and bad event names with their paths", () => {
      writeConfig(
        "work/sarai.yaml",
        "proactive:\n  actions:\n    log_retention:\n      args: { days: 30 }\n      on: [disk_low, backup_done]\n",
      );
      const { config } = loadConfig({ cwd, env: { HOME: home } });
      expect(config.proactive.actions.log_retention).toMatchObject({
        args: { days: 30 },
        on: ["disk_low", "backup_done"],
      });

      writeConfig(
        "work/sarai.yaml",
        "proactive:\n  actions:\n    log_retention:\n      args: 30\n    disk_check:\n      on: [Backup-Done]\n",
      );
      const issues = loadConfigError()
        .issues.map((issue) => `${issue.path}: ${issue.message}`)
        .sort();
      expect(issues).toHaveLength(2);
      expect(issues[0]).toBe("proactive.actions.disk_check.on.0: an event name is 1–64 of a-z, 0-9 and _");
      expect(issues[1]).toMatch(/^proactive\.actions\.log_retention\.args: expected record/);
    });

    it("lists every issue, not just the first", () => {
      writeConfig(
        "work/sarai.yaml",
        [
          "log:",
          "  level: loud",
          "  maxFiles: 0",
          "inference:",
          "  threads: 1.5",
          "  batchSize: 9000",
          "models:",
          "  main: { contextSize: 1024 }",
          "  draft: ''",
          "  fallback: 3",
          "extra: true",
        ].join("\n"),
      );
      const error = loadConfigError();
      const lines = error.issues.map((issue) => `${issue.path}: ${issue.message}`);
      expect(lines).toEqual(
        expect.arrayContaining([
          'log.level: expected one of fatal, error, warn, info, debug, trace, silent; received "loud"',
          "log.maxFiles: must be >= 1",
          "inference.threads: expected integer, received 1.5",
          "inference.batchSize: must be <= 8192",
          "models.main: give exactly one of source (a local model) or remote (a server)",
          "models.draft: must not be empty",
          "models.fallback: expected string or object, received number",
          "extra: unknown key",
        ]),
      );
      expect(lines).toHaveLength(8);
      for (const line of lines) expect(error.message).toContain(line);
    });

    it("returns a deep-frozen result", () => {
      const loaded = load();
      expect(Object.isFrozen(loaded)).toBe(true);
      expect(() => {
        (loaded.config.inference as { threads: number }).threads = 8;
      }).toThrow(TypeError);
      expect(() => {
        (loaded.config.paths as { dataDir: string }).dataDir = "/elsewhere";
      }).toThrow(TypeError);
      expect(() => {
        (loaded.envVars as string[]).push("SARAI_X");
      }).toThrow(TypeError);
    });

    it("resolves relative paths against the file's directory, ~ against home, env paths against the cwd", () => {
      const file = writeConfig(
        "conf/sarai.yaml",
        [
          "paths:",
          "  dataDir: ./data",
          "  modelsDir: ~/models",
          "models:",
          "  main: ../shared/main.gguf",
          "  draft: qwen2.5-0.5b-instruct",
          "  fallback: { source: https://example.com/f.gguf }",
        ].join("\n"),
      );
      const confDir = path.dirname(file);
      const { config } = load({ file }, { SARAI_PATHS_CACHE_DIR: "cache" });
      expect(config.paths).toEqual({
        dataDir: path.join(confDir, "data"),
        modelsDir: path.join(home, "models"),
        stateDir: path.join(confDir, "data", "state"),
        logDir: path.join(confDir, "data", "logs"),
        cacheDir: path.join(cwd, "cache"),
      });
      expect(config.models.main?.source).toBe(path.join(root, "shared", "main.gguf"));
      expect(config.models.draft?.source).toBe("qwen2.5-0.5b-instruct");
      expect(config.models.fallback?.source).toBe("https://example.com/f.gguf");
    });

    it("resolves relative paths against the cwd when there is no file", () => {
      expect(load({ overrides: { paths: { dataDir: "d" } } }).config.paths.logDir).toBe(
        path.join(cwd, "d", "logs"),
      );
    });
  });

  describe("env overrides", () => {
    it("win over the file and are reported as applied", () => {
      writeConfig("work/sarai.yaml", "inference:\n  threads: 2\nlog:\n  level: warn\n");
      const loaded = load(
        {},
        {
          SARAI_INFERENCE_THREADS: "4",
          SARAI_LOG_LEVEL: "DEBUG",
          SARAI_MODELS_AUTO_PULL: "false",
          SARAI_LOG_FILE: "0",
          SARAI_LOG_MAX_SIZE_MB: "0.5",
          SARAI_PATHS_DATA_DIR: "/srv/sarai",
        },
      );
      expect(loaded.config.inference.threads).toBe(4);
      expect(loaded.config.log).toEqual({ level: "debug", file: false, maxSizeMb: 0.5, maxFiles: 5 });
      expect(loaded.config.models.autoPull).toBe(false);
      expect(loaded.config.paths.stateDir).toBe("/srv/sarai/state");
      expect(loaded.envVars).toEqual([
        "SARAI_INFERENCE_THREADS",
        "SARAI_LOG_FILE",
        "SARAI_LOG_LEVEL",
        "SARAI_LOG_MAX_SIZE_MB",
        "SARAI_MODELS_AUTO_PULL",
        "SARAI_PATHS_DATA_DIR",
      ]);
    });

    it("set nested role fields, and take the bare role name as shorthand for the source", () => {
      writeConfig("work/sarai.yaml", "models:\n  main: { source: alias-a, contextSize: 1024 }\n");
      const source = load({}, { SARAI_MODELS_MAIN_SOURCE: "/m.gguf" });
      expect(source.config.models.main).toEqual({ source: "/m.gguf", contextSize: 1024 });
      const size = load({}, { SARAI_MODELS_MAIN_CONTEXT_SIZE: "512", SARAI_MODELS_MAIN_SEQUENCES: "4" });
      expect(size.config.models.main).toEqual({ source: "alias-a", contextSize: 512, sequences: 4 });
      expect(loadConfigError({}, { SARAI_MODELS_DRAFT_CONTEXT_SIZE: "512" }).issues).toEqual([
        {
          path: "models.draft",
          message: "give exactly one of source (a local model) or remote (a server)",
          source: "SARAI_MODELS_DRAFT_CONTEXT_SIZE",
        },
      ]);
      const shorthand = load({}, { SARAI_MODELS_FALLBACK: "/f.gguf", SARAI_MODELS_MAIN: "alias-b" });
      expect(shorthand.config.models.fallback).toEqual({ source: "/f.gguf" });
      expect(shorthand.config.models.main).toEqual({ source: "alias-b" });
    });

    it("name the variable when its value has the wrong type", () => {
      const error = loadConfigError(
        {},
        { SARAI_INFERENCE_THREADS: "many", SARAI_MODELS_AUTO_PULL: "yes", SARAI_LOG_LEVEL: "loud" },
      );
      expect(error.issues).toEqual([
        {
          path: "inference.threads",
          message: 'expected an integer, received "many"',
          source: "SARAI_INFERENCE_THREADS",
        },
        {
          path: "log.level",
          message: 'expected one of fatal, error, warn, info, debug, trace, silent; received "loud"',
          source: "SARAI_LOG_LEVEL",
        },
        {
          path: "models.autoPull",
          message: 'expected true, false, 1 or 0, received "yes"',
          source: "SARAI_MODELS_AUTO_PULL",
        },
      ]);
      expect(error.message).toContain("(from SARAI_INFERENCE_THREADS)");
    });

    it("name the variable when its value is out of range", () => {
      expect(loadConfigError({}, { SARAI_INFERENCE_SEQUENCES: "65" }).issues).toEqual([
        { path: "inference.sequences", message: "must be <= 64", source: "SARAI_INFERENCE_SEQUENCES" },
      ]);
    });

    it("reject an unknown key under a known section, and ignore other SARAI_ variables", () => {
      const error = loadConfigError(
        {},
        { SARAI_LOG_LEVLE: "debug", SARAI_CONFIG: "", SARAI_API_KEY: "secret", SARAI_INFERENCE: "x" },
      );
      expect(error.issues).toEqual([
        {
          path: "inference",
          message: "names a section, not a key; set e.g. SARAI_INFERENCE_THREADS",
          source: "SARAI_INFERENCE",
        },
        {
          path: "log.levle",
          message: "unknown key; did you mean SARAI_LOG_LEVEL?",
          source: "SARAI_LOG_LEVLE",
        },
      ]);
    });

    it("reject two variables that set the same role", () => {
      const error = loadConfigError({}, { SARAI_MODELS_MAIN: "a", SARAI_MODELS_MAIN_SOURCE: "b" });
      expect(error.issues).toEqual([
        {
          path: "models.main.source",
          message: "conflicts with SARAI_MODELS_MAIN; set only one",
          source: "SARAI_MODELS_MAIN_SOURCE",
        },
      ]);
    });

    it("treat an empty value as unset", () => {
      expect(load({}, { SARAI_LOG_LEVEL: "" }).config.log.level).toBe("info");
    });
  });

  describe("overrides", () => {
    it("win over env vars and the file", () => {
      writeConfig("work/sarai.yaml", "log:\n  level: warn\n");
      const loaded = load({ overrides: { log: { level: "trace" } } }, { SARAI_LOG_LEVEL: "debug" });
      expect(loaded.config.log.level).toBe("trace");
    });

    it("are validated like the rest, with their path", () => {
      const error = loadConfigError({ overrides: { inference: { threads: -1 } } });
      expect(error.issues).toEqual([
        { path: "inference.threads", message: "must be >= 0", source: "overrides" },
      ]);
    });
  });
});
