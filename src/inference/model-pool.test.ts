import { copyFile, mkdtemp, rename, rm, stat, truncate, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTestModel, getTestLlama, slowModelOptions } from "../../test/models.js";
import { ModelPool, resolveThreadCount, type ModelPoolOptions } from "./model-pool.js";

const never = new AbortController().signal;
let dir: string;
let tiny: string;
/** A model of another width (256, the tiny one has 64): tells which file a pool read. */
let wide: string;

async function createPool(overrides: Partial<ModelPoolOptions>): Promise<ModelPool> {
  return new ModelPool({
    roles: {},
    threads: 1,
    batchSize: 512,
    contextSize: 1024,
    sequences: 1,
    ramBudgetBytes: 4 * 2 ** 30,
    llama: await getTestLlama(),
    ...overrides,
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "sarai-pool-"));
  tiny = await ensureTestModel();
  wide = await ensureTestModel(slowModelOptions);
});

/** Whether `promise` has settled within 50 ms. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  return settled;
}

/** Replaces `file` as a pull does: a new file renamed over it (llama.cpp may still map the old one). */
async function replaceFile(file: string, source: string): Promise<void> {
  await copyFile(source, `${file}.tmp`);
  await rename(`${file}.tmp`, file);
}
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("inference", () => {
  describe("ModelPool", () => {
    it("unloads idle roles only, and loads them again on the next request", async () => {
      const pool = await createPool({ roles: { main: { file: tiny }, fallback: { file: tiny } } });
      try {
        const busy = await pool.acquire("main", never);
        await (await pool.acquire("fallback", never)).release();
        expect(await pool.unloadIdle()).toEqual(["fallback"]);
        // The busy role keeps its model, which the fallback shared: nothing else goes.
        expect((await pool.detailedStatus()).map((s) => [s.role, s.loaded])).toEqual([
          ["main", true],
          ["fallback", false],
        ]);
        await busy.release();
        expect(await pool.unloadIdle()).toEqual(["main"]);
        expect((await pool.detailedStatus()).every((s) => !s.loaded)).toBe(true);
        const again = await pool.acquire("main", never);
        expect(again.model.disposed).toBe(false);
        await again.release();
        expect((await pool.detailedStatus())[0]?.loaded).toBe(true);
      } finally {
        await pool.dispose();
      }
    });

    it("loads a file once when two roles share it, with a context per role", async () => {
      const pool = await createPool({
        roles: { main: { file: tiny }, fallback: { file: tiny, sequences: 2 } },
      });
      try {
        const [main, fallback] = await Promise.all([
          pool.acquire("main", never),
          pool.acquire("fallback", never),
        ]);
        expect(main.model).toBe(fallback.model);
        expect(main.sequence.context).not.toBe(fallback.sequence.context);
        await Promise.all([main.release(), fallback.release()]);
        const status = await pool.detailedStatus();
        expect(status.map((s) => [s.role, s.loaded, s.sequences])).toEqual([
          ["main", true, 1],
          ["fallback", true, 2],
        ]);
      } finally {
        await pool.dispose();
      }
    });

    it("clamps the context to the model's training length", async () => {
      const pool = await createPool({ roles: { main: { file: tiny } }, contextSize: 1 << 20 });
      try {
        const estimate = await pool.estimate("main");
        expect(estimate.contextSize).toBe(4096);
        expect(estimate.totalBytes).toBe(estimate.modelBytes + estimate.contextBytes);
        expect(estimate.modelBytes).toBeGreaterThan(0);
      } finally {
        await pool.dispose();
      }
    });

    it("refuses a model over the RAM budget, names the file, and loads it once the budget allows", async () => {
      const small = await createPool({ roles: { main: { file: tiny } }, ramBudgetBytes: 2 ** 20 });
      try {
        await expect(small.load("main")).rejects.toMatchObject({ code: "MODEL_TOO_LARGE", param: tiny });
        await expect(small.load("main")).rejects.toThrow(/over the RAM budget of 1 MiB/);
      } finally {
        await small.dispose();
      }
      const estimate = await (await createPool({ roles: { main: { file: tiny } } })).estimate("main");
      const exact = await createPool({
        roles: { main: { file: tiny } },
        ramBudgetBytes: estimate.totalBytes,
      });
      try {
        await expect(exact.load("main")).resolves.toBeDefined();
      } finally {
        await exact.dispose();
      }
    });

    it("counts loaded models against the budget", async () => {
      const estimate = await (await createPool({ roles: { main: { file: tiny } } })).estimate("main");
      const second = path.join(dir, "second.gguf");
      await copyFile(tiny, second);
      const pool = await createPool({
        roles: { main: { file: tiny }, fallback: { file: second } },
        ramBudgetBytes: Math.ceil(estimate.totalBytes * 1.5),
      });
      try {
        await pool.load("main");
        await expect(pool.load("fallback")).rejects.toThrow(/on top of .* already loaded/);
      } finally {
        await pool.dispose();
      }
    });

    it("names a missing, truncated or non-GGUF file and keeps serving other roles", async () => {
      const truncated = path.join(dir, "truncated.gguf");
      await copyFile(tiny, truncated);
      await truncate(truncated, Math.floor((await stat(truncated)).size * 0.7));
      const text = path.join(dir, "text.gguf");
      await writeFile(text, "hello, I am not a model");
      const missing = path.join(dir, "missing.gguf");
      const cases: [string, string][] = [
        [missing, "MODEL_NOT_FOUND"],
        [truncated, "MODEL_TRUNCATED"],
        [text, "MODEL_INVALID_FILE"],
      ];
      for (const [file, code] of cases) {
        const pool = await createPool({ roles: { main: { file: tiny }, fallback: { file } } });
        try {
          const error = await pool.load("fallback").then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toMatchObject({ code });
          expect((error as Error).message).toContain(file);
          const lease = await pool.acquire("main", never);
          await lease.release();
        } finally {
          await pool.dispose();
        }
      }
    });

    it("says which role has no model", async () => {
      const pool = await createPool({ roles: { main: { file: tiny } } });
      await expect(pool.load("draft")).rejects.toMatchObject({
        code: "MODEL_NOT_FOUND",
        param: "models.draft",
      });
      await pool.dispose();
    });

    it("queues requests beyond the parallel sequences in FIFO order", async () => {
      const pool = await createPool({ roles: { main: { file: tiny } }, sequences: 1 });
      try {
        const first = await pool.acquire("main", never);
        const order: number[] = [];
        const second = pool.acquire("main", never).then((lease) => (order.push(2), lease));
        const third = pool.acquire("main", never).then((lease) => (order.push(3), lease));
        expect((await pool.detailedStatus())[0]).toMatchObject({ activeSequences: 1, waiting: 2 });
        await first.release();
        await (await second).release();
        await (await third).release();
        expect(order).toEqual([2, 3]);
      } finally {
        await pool.dispose();
      }
    });
  });

  describe("ModelPool.reconfigure", () => {
    it("unloads idle roles whose context no longer matches and loads them with the new defaults", async () => {
      const pool = await createPool({
        roles: { main: { file: tiny }, fallback: { file: tiny, contextSize: 256, sequences: 1 } },
        contextSize: 1024,
        sequences: 1,
      });
      try {
        await (await pool.acquire("main", never)).release();
        await (await pool.acquire("fallback", never)).release();
        expect((await pool.detailedStatus())[0]).toMatchObject({
          loaded: true,
          contextSize: 1024,
          sequences: 1,
        });
        const result = await pool.reconfigure({ contextSize: 512, sequences: 2 });
        expect(result).toEqual({ changed: ["contextSize", "sequences"], unloaded: ["main"], replacing: [] });
        expect(pool.settings).toMatchObject({ contextSize: 512, sequences: 2 });
        // The fallback sets both itself: it keeps its context.
        expect((await pool.detailedStatus()).map((s) => [s.role, s.loaded])).toEqual([
          ["main", false],
          ["fallback", true],
        ]);
        const lease = await pool.acquire("main", never);
        expect(lease.sequence.contextSize).toBe(512);
        await lease.release();
        expect((await pool.detailedStatus()).map((s) => [s.role, s.contextSize, s.sequences])).toEqual([
          ["main", 512, 2],
          ["fallback", 256, 1],
        ]);
        expect(await pool.reconfigure({ contextSize: 512, sequences: 2 })).toEqual({
          changed: [],
          unloaded: [],
          replacing: [],
        });
      } finally {
        await pool.dispose();
      }
    });

    it("lets a busy role finish on its old context and replaces it after its last lease", async () => {
      const pool = await createPool({ roles: { main: { file: tiny } }, contextSize: 1024, sequences: 1 });
      try {
        const busy = await pool.acquire("main", never);
        const oldContext = busy.sequence.context;
        expect(await pool.reconfigure({ contextSize: 512 })).toMatchObject({
          unloaded: [],
          replacing: ["main"],
        });
        expect((await pool.detailedStatus())[0]).toMatchObject({ contextSize: 1024, replacing: true });
        // The lease still works: its context was not disposed under it.
        await busy.sequence.evaluateWithoutGeneratingNewTokens(busy.model.tokenize("hola"));
        expect(oldContext.disposed).toBe(false);
        const next = pool.acquire("main", never);
        expect(await isSettled(next)).toBe(false);
        expect((await pool.detailedStatus())[0]).toMatchObject({ waiting: 1 });
        await busy.release();
        const lease = await next;
        expect(lease.sequence.contextSize).toBe(512);
        expect(oldContext.disposed).toBe(true);
        expect(lease.model).toBe(busy.model);
        await lease.release();
        expect((await pool.detailedStatus())[0]).toMatchObject({ contextSize: 512, activeSequences: 0 });
        expect((await pool.detailedStatus())[0]?.replacing).toBeUndefined();
      } finally {
        await pool.dispose();
      }
    });

    it("applies a new maxQueue to the next request without reloading", async () => {
      const pool = await createPool({ roles: { main: { file: tiny } }, sequences: 1, maxQueue: 1 });
      try {
        const first = await pool.acquire("main", never);
        const second = pool.acquire("main", never);
        await expect(pool.acquire("main", never)).rejects.toMatchObject({ code: "QUEUE_FULL" });
        expect(await pool.reconfigure({ maxQueue: 2 })).toEqual({
          changed: ["maxQueue"],
          unloaded: [],
          replacing: [],
        });
        const third = pool.acquire("main", never);
        expect((await pool.detailedStatus())[0]).toMatchObject({ activeSequences: 1, waiting: 2 });
        await pool.reconfigure({ maxQueue: 0 });
        await expect(pool.acquire("main", never)).rejects.toMatchObject({ code: "QUEUE_FULL" });
        await first.release();
        await (await second).release();
        await (await third).release();
        expect((await pool.detailedStatus())[0]).toMatchObject({ loaded: true, waiting: 0 });
      } finally {
        await pool.dispose();
      }
    });

    it("refuses the next load over a lowered RAM budget, unloading idle roles", async () => {
      const pool = await createPool({ roles: { main: { file: tiny } } });
      try {
        await (await pool.acquire("main", never)).release();
        expect(await pool.reconfigure({ ramBudgetBytes: 2 ** 20 })).toMatchObject({
          changed: ["ramBudgetBytes"],
          unloaded: ["main"],
        });
        await expect(pool.acquire("main", never)).rejects.toMatchObject({ code: "MODEL_TOO_LARGE" });
        await expect(pool.acquire("main", never)).rejects.toThrow(/over the RAM budget of 1 MiB/);
        await pool.reconfigure({ ramBudgetBytes: 4 * 2 ** 30 });
        await (await pool.acquire("main", never)).release();
      } finally {
        await pool.dispose();
      }
    });
  });

  describe("ModelPool.reload", () => {
    it("reads a replaced file again, at once when idle", async () => {
      const file = path.join(dir, "reloaded.gguf");
      await copyFile(tiny, file);
      const pool = await createPool({ roles: { main: { file } } });
      try {
        const first = await pool.acquire("main", never);
        expect(first.model.embeddingVectorSize).toBe(64);
        await first.release();
        await replaceFile(file, wide);
        // Without a reload the pool keeps serving the model it read.
        const stale = await pool.acquire("main", never);
        expect(stale.model).toBe(first.model);
        await stale.release();
        expect(await pool.reload("main")).toBe("unloaded");
        expect(first.model.disposed).toBe(true);
        const fresh = await pool.acquire("main", never);
        expect(fresh.model.embeddingVectorSize).toBe(256);
        await fresh.release();
      } finally {
        await pool.dispose();
        await copyFile(tiny, file);
      }
    });

    it("waits for a busy role's last lease before it reads the file again", async () => {
      const file = path.join(dir, "reloaded-busy.gguf");
      await copyFile(tiny, file);
      const pool = await createPool({ roles: { main: { file } }, sequences: 2 });
      try {
        const busy = await pool.acquire("main", never);
        await replaceFile(file, wide);
        expect(await pool.reload("main")).toBe("deferred");
        const next = pool.acquire("main", never);
        // A free sequence is left in the old context, but the request waits for the new model.
        expect(await isSettled(next)).toBe(false);
        expect(busy.model.disposed).toBe(false);
        await busy.release();
        const fresh = await next;
        expect(busy.model.disposed).toBe(true);
        expect(fresh.model.embeddingVectorSize).toBe(256);
        await fresh.release();
      } finally {
        await pool.dispose();
      }
    });

    it("keeps the model of a file another role still uses, and says when nothing was loaded", async () => {
      const pool = await createPool({ roles: { main: { file: tiny }, fallback: { file: tiny } } });
      try {
        expect(await pool.reload("main")).toBe("not-loaded");
        const fallback = await pool.acquire("fallback", never);
        await (await pool.acquire("main", never)).release();
        expect(await pool.reload("main")).toBe("unloaded");
        const main = await pool.acquire("main", never);
        expect(main.model).toBe(fallback.model);
        expect(main.model.disposed).toBe(false);
        await Promise.all([main.release(), fallback.release()]);
        await expect(pool.reload("draft")).rejects.toMatchObject({ code: "MODEL_NOT_FOUND" });
      } finally {
        await pool.dispose();
      }
    });
  });

  describe("resolveThreadCount", () => {
    it("keeps a configured count and otherwise leaves one CPU free, between 1 and 8", () => {
      expect(resolveThreadCount(3, 2)).toBe(3);
      expect(resolveThreadCount(0, 1)).toBe(1);
      expect(resolveThreadCount(0, 2)).toBe(1);
      expect(resolveThreadCount(0, 4)).toBe(3);
      expect(resolveThreadCount(0, 64)).toBe(8);
    });
  });
});
