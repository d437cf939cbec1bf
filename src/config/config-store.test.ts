import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ConfigError,
  createConfigStore,
  loadConfig,
  type ConfigStore,
  type ConfigStoreOptions,
  type ResolvedConfig,
} from "./index.js";

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

let root: string;
let file: string;
let store: ConfigStore | undefined;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), "sarai-config-store-"));
  mkdirSync(path.join(root, "home"));
  file = path.join(root, "sarai.yaml");
});

afterEach(() => {
  store?.dispose();
  store = undefined;
  rmSync(root, { recursive: true, force: true });
});

/** A pino logger whose lines land in an array, to assert on what was logged. */
function createMemoryLogger() {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: "debug" },
    { write: (line: string) => lines.push(JSON.parse(line) as LogLine) },
  );
  return { logger, lines };
}

/** Polls `check` until it holds; file events take an unknown time to arrive, so there is no fixed sleep. */
async function waitFor(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Saves the way most editors do: write a new file, then rename it over the old one. */
function saveAtomically(text: string): void {
  const temporary = `${file}.swp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

function openStore(options: Partial<ConfigStoreOptions> = {}) {
  const { logger, lines } = createMemoryLogger();
  store = createConfigStore({
    file,
    cwd: root,
    env: { HOME: path.join(root, "home") },
    logger,
    debounceMs: 50,
    ...options,
  });
  const calls: { next: ResolvedConfig; previous: ResolvedConfig }[] = [];
  store.subscribe((next, previous) => {
    calls.push({ next, previous });
  });
  return { store, lines, calls };
}

describe("config", () => {
  describe("ConfigStore", () => {
    it("hot-reloads valid edits and keeps the running config on an invalid one", async () => {
      writeFileSync(file, "log:\n  level: info\n");
      const { store, lines, calls } = openStore();
      expect(store.watch()).toBe(true);

      saveAtomically("log:\n  level: debug\n");
      await waitFor(() => calls.length === 1, "the first reload");
      expect(calls[0]?.next.log.level).toBe("debug");
      expect(calls[0]?.previous.log.level).toBe("info");
      expect(store.current.log.level).toBe("debug");

      writeFileSync(file, "log:\n  level: debug\n  maxFiles: lots\n");
      await waitFor(
        () => lines.some((line) => line.level === 40 && line.msg.includes("log.maxFiles")),
        "the rejection warning",
      );
      const warning = lines.find((line) => line.level === 40);
      expect(warning?.msg).toContain("keeping the running config");
      expect(warning?.msg).toContain("log.maxFiles: expected number, received string");
      expect(calls).toHaveLength(1);
      expect(store.current.log.level).toBe("debug");

      saveAtomically("log:\n  level: warn\n");
      await waitFor(() => calls.length === 2, "the reload after the fix");
      expect(calls[1]?.previous.log.level).toBe("debug");
      expect(store.current.log.level).toBe("warn");
    });

    it("ignores file events that leave the content unchanged", async () => {
      writeFileSync(file, "inference:\n  threads: 2\n");
      const { store, lines, calls } = openStore();
      store.watch();
      saveAtomically("inference:\n  threads: 2\n");
      await waitFor(() => lines.some((line) => line.msg.includes("content unchanged")), "the ignored event");
      expect(calls).toHaveLength(0);
      expect(lines.some((line) => line.msg === "config updated")).toBe(false);
    });

    it("reload() returns the failure and logs it, keeping the running config", () => {
      writeFileSync(file, "inference:\n  threads: 2\n");
      const { store, lines, calls } = openStore();
      writeFileSync(file, "inference:\n  threads: -2\n");
      const result = store.reload();
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.error).toBeInstanceOf(ConfigError);
      expect((result.error as ConfigError).issues.map((issue) => issue.path)).toEqual(["inference.threads"]);
      expect(
        lines.some((line) => line.level === 40 && line.msg.includes("inference.threads: must be >= 0")),
      ).toBe(true);
      expect(store.current.inference.threads).toBe(2);
      expect(calls).toHaveLength(0);
    });

    it("reload() reports a file that disappeared without dropping the running config", () => {
      writeFileSync(file, "inference:\n  threads: 2\n");
      const { store } = openStore();
      rmSync(file);
      const result = store.reload();
      expect(result.ok ? undefined : result.error.code).toBe("CONFIG_NOT_FOUND");
      expect(store.current.inference.threads).toBe(2);
    });

    it("keeps env vars and overrides across reloads", () => {
      writeFileSync(file, "inference:\n  threads: 2\n  batchSize: 64\n");
      const { store } = openStore({
        env: { HOME: path.join(root, "home"), SARAI_INFERENCE_THREADS: "6" },
        overrides: { log: { level: "error" } },
      });
      writeFileSync(file, "inference:\n  threads: 3\n  batchSize: 128\n");
      const result = store.reload();
      expect(result.ok && result.value.changed).toBe(true);
      expect(store.current.inference).toMatchObject({ threads: 6, batchSize: 128 });
      expect(store.current.log.level).toBe("error");
      expect(store.loaded.envVars).toEqual(["SARAI_INFERENCE_THREADS"]);
    });

    it("does not notify when a reload yields the same config", () => {
      writeFileSync(file, "inference:\n  threads: 2\n");
      const { store, calls } = openStore();
      writeFileSync(file, "# same values, new comment\ninference:\n  threads: 2\n");
      const result = store.reload();
      expect(result.ok && result.value.changed).toBe(false);
      expect(calls).toHaveLength(0);
    });

    it("survives a subscriber that throws, and logs it", () => {
      writeFileSync(file, "inference:\n  threads: 2\n");
      const { store, lines, calls } = openStore();
      store.subscribe(() => {
        throw new Error("subscriber exploded");
      });
      const seen: number[] = [];
      store.subscribe((next) => {
        seen.push(next.inference.threads);
      });
      writeFileSync(file, "inference:\n  threads: 3\n");
      expect(store.reload().ok).toBe(true);
      expect(calls).toHaveLength(1);
      expect(seen).toEqual([3]);
      const failure = lines.find((line) => line.msg === "config subscriber failed");
      expect(failure?.level).toBe(50);
      expect(JSON.stringify(failure?.["err"])).toContain("subscriber exploded");
    });

    it("stops notifying a listener once it unsubscribes", () => {
      writeFileSync(file, "inference:\n  threads: 2\n");
      const { store } = openStore();
      const seen: number[] = [];
      const unsubscribe = store.subscribe((next) => {
        seen.push(next.inference.threads);
      });
      writeFileSync(file, "inference:\n  threads: 3\n");
      store.reload();
      unsubscribe();
      writeFileSync(file, "inference:\n  threads: 4\n");
      store.reload();
      expect(seen).toEqual([3]);
    });

    it("starts from an already loaded config when given one", () => {
      writeFileSync(file, "inference:\n  threads: 2\n");
      const env = { HOME: path.join(root, "home") };
      const initial = loadConfig({ file, cwd: root, env });
      const { store } = openStore({ initial, env });
      expect(store.current).toBe(initial.config);
    });

    it("fails to start on an invalid config, like loadConfig", () => {
      writeFileSync(file, "inference:\n  thread: 2\n");
      expect(() => openStore()).toThrow(/inference\.thread: unknown key/);
    });

    it("has an idempotent dispose after which nothing changes", () => {
      writeFileSync(file, "inference:\n  threads: 2\n");
      const { store, calls } = openStore();
      store.watch();
      store.dispose();
      store.dispose();
      expect(store.watch()).toBe(false);
      writeFileSync(file, "inference:\n  threads: 3\n");
      expect(store.reload().ok).toBe(false);
      expect(store.apply({ inference: { threads: 5 } }).ok).toBe(false);
      expect(calls).toHaveLength(0);
      expect(store.current.inference.threads).toBe(2);
    });

    describe("apply", () => {
      it("validates a patch before swapping it in", () => {
        writeFileSync(file, "inference:\n  threads: 2\n");
        const { store, calls } = openStore();

        const applied = store.apply({
          inference: { threads: 3 },
          models: { draft: "qwen2.5-0.5b-instruct" },
        });
        expect(applied.ok).toBe(true);
        expect(store.current.inference.threads).toBe(3);
        expect(store.current.models.draft).toEqual({ source: "qwen2.5-0.5b-instruct" });
        expect(calls).toHaveLength(1);

        const rejected = store.apply({ inference: { threads: -1, contextSize: 16 } });
        expect(rejected.ok).toBe(false);
        if (rejected.ok) return;
        expect((rejected.error as ConfigError).issues).toEqual([
          { path: "inference.threads", message: "must be >= 0", source: "apply()" },
          { path: "inference.contextSize", message: "must be >= 64", source: "apply()" },
        ]);
        expect(store.current.inference.threads).toBe(3);
        expect(calls).toHaveLength(1);
      });

      it("rejects unknown keys in a patch", () => {
        writeFileSync(file, "");
        const { store } = openStore();
        const result = store.apply({ inference: { thread: 2 } } as never);
        expect(result.ok ? [] : (result.error as ConfigError).issues.map((issue) => issue.path)).toEqual([
          "inference.thread",
        ]);
      });

      it("keeps an in-memory patch across reloads without touching the file", () => {
        writeFileSync(file, "inference:\n  threads: 2\n");
        const { store } = openStore();
        store.apply({ inference: { threads: 3 } });
        writeFileSync(file, "inference:\n  threads: 2\n  batchSize: 256\n");
        store.reload();
        expect(store.current.inference).toMatchObject({ threads: 3, batchSize: 256 });
        expect(readFileSync(file, "utf8")).not.toContain("threads: 3");
      });

      it("withdraws an in-memory patch so the file decides again, keeping the other patched leaves", () => {
        writeFileSync(file, "inference:\n  threads: 2\n  batchSize: 256\n");
        const { store, calls } = openStore();
        store.apply({ inference: { threads: 3, batchSize: 128 } });
        const result = store.withdraw({ inference: { threads: 0 } });
        expect(result.ok).toBe(true);
        expect(store.current.inference).toMatchObject({ threads: 2, batchSize: 128 });
        expect(calls).toHaveLength(2);
        writeFileSync(file, "inference:\n  threads: 4\n  batchSize: 256\n");
        store.reload();
        expect(store.current.inference).toMatchObject({ threads: 4, batchSize: 128 });
      });

      it("writes a persisted patch into the file, keeping its comments, without a second notification", async () => {
        const original = [
          "# SARAi config",
          "log:",
          "  level: info # chatty enough",
          "inference:",
          "  # leave one core for the UI",
          "  threads: 3",
          "",
        ].join("\n");
        writeFileSync(file, original);
        const { store, lines, calls } = openStore();
        store.watch();

        const result = store.apply(
          { log: { level: "debug" }, models: { draft: "qwen2.5-0.5b-instruct" } },
          {
            persist: true,
          },
        );
        expect(result.ok).toBe(true);
        expect(store.current.log.level).toBe("debug");
        const written = readFileSync(file, "utf8");
        expect(written).toContain("# SARAi config");
        expect(written).toContain("level: debug # chatty enough");
        expect(written).toContain("  # leave one core for the UI\n  threads: 3");
        expect(written).toContain("draft: qwen2.5-0.5b-instruct");

        await waitFor(
          () => lines.some((line) => line.msg.includes("content unchanged")),
          "the watcher to see the write",
        );
        expect(calls).toHaveLength(1);
      });

      it("refuses to persist a patch that makes the file invalid, leaving the file alone", () => {
        writeFileSync(file, "inference:\n  threads: 3\n");
        const { store } = openStore();
        const result = store.apply({ inference: { batchSize: 0 } }, { persist: true });
        expect(result.ok).toBe(false);
        expect(readFileSync(file, "utf8")).toBe("inference:\n  threads: 3\n");
        expect(store.current.inference.batchSize).toBe(512);
      });

      it("persists into an empty file", () => {
        writeFileSync(file, "# to be filled\n");
        const { store } = openStore();
        expect(store.apply({ inference: { threads: 1 } }, { persist: true }).ok).toBe(true);
        expect(loadConfig({ file, env: { HOME: path.join(root, "home") } }).config.inference.threads).toBe(1);
      });
    });
  });
});
