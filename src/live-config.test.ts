import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ensureTestModel, getTestLlama } from "../test/models.js";
import { loadConfig, type ConfigPatch, type ResolvedConfig } from "./config/index.js";
import { EmbeddedBackend, ModelPool } from "./inference/index.js";
import { applyLiveConfig } from "./live-config.js";
import { EntityStore } from "./memory/index.js";
import { ImageCache, VisionService } from "./vision/index.js";

const never = new AbortController().signal;
let dir: string;
let tiny: string;

function configWith(overrides: ConfigPatch): ResolvedConfig {
  return loadConfig({
    env: { HOME: dir, SARAI_PATHS_DATA_DIR: dir },
    cwd: dir,
    totalMemoryBytes: 8 * 2 ** 30,
    overrides: {
      inference: { threads: 1, contextSize: 1024, sequences: 1, ramBudgetMb: 4096 },
      ...overrides,
    },
  }).config;
}

interface Parts {
  pool: ModelPool;
  embedded: EmbeddedBackend;
  store: EntityStore;
  imageCache: ImageCache;
}
let parts: Parts;

beforeAll(async () => {
  tiny = await ensureTestModel();
});

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "sarai-live-"));
  const config = configWith({});
  const pool = new ModelPool({
    roles: { main: { file: tiny } },
    threads: 1,
    batchSize: 512,
    contextSize: config.inference.contextSize,
    sequences: config.inference.sequences,
    maxQueue: config.server.maxQueue,
    ramBudgetBytes: config.inference.ramBudgetMb * 2 ** 20,
    llama: await getTestLlama(),
  });
  parts = {
    pool,
    embedded: new EmbeddedBackend({ pool }),
    store: EntityStore.open({ file: path.join(dir, "sarai.db") }),
    imageCache: ImageCache.open({
      dir: path.join(dir, "image-cache"),
      ttlMs: 86_400_000,
      maxBytes: config.vision.cache.maxMb * 2 ** 20,
      hammingThreshold: 8,
    }),
  };
});

afterEach(async () => {
  parts.imageCache.close();
  parts.store.close();
  await parts.pool.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe("live config", () => {
  describe("applyLiveConfig", () => {
    it("applies every live setting that changed and names each", async () => {
      const previous = configWith({});
      const next = configWith({
        inference: {
          threads: 1,
          contextSize: 512,
          sequences: 2,
          ramBudgetMb: 2048,
          speculative: { enabled: false, acceptanceFloor: 0.4, stallTimeoutMs: 5000, cooldownSeconds: 5 },
        },
        server: { maxQueue: 3 },
        memory: { busyTimeoutMs: 1500 },
        vision: { cache: { maxMb: 64 } },
      });
      await (await parts.pool.acquire("main", never)).release();
      expect(applyLiveConfig(next, previous, parts).sort()).toEqual(
        [
          "inference.contextSize",
          "inference.sequences",
          "inference.ramBudgetMb",
          "server.maxQueue",
          "inference.speculative.enabled",
          "inference.speculative.acceptanceFloor",
          "inference.speculative.cooldownSeconds",
          "inference.speculative.stallTimeoutMs",
          "memory.busyTimeoutMs",
          "vision.cache.maxMb",
        ].sort(),
      );
      expect(parts.pool.settings).toEqual({
        contextSize: 512,
        sequences: 2,
        maxQueue: 3,
        ramBudgetBytes: 2048 * 2 ** 20,
      });
      expect(parts.embedded.speculative).toMatchObject({
        enabled: false,
        acceptanceFloor: 0.4,
        stallTimeoutMs: 5000,
        cooldownMs: 5000,
      });
      expect(parts.store.busyTimeoutMs).toBe(1500);
      expect(parts.imageCache.maxBytes).toBe(64 * 2 ** 20);
      // The idle role loaded with the old size is replaced by the next request's load.
      const lease = await parts.pool.acquire("main", never);
      expect(lease.sequence.contextSize).toBe(512);
      await lease.release();
      expect((await parts.pool.detailedStatus())[0]).toMatchObject({ contextSize: 512, sequences: 2 });
    });

    it("does nothing for an unchanged config, or for settings it does not take live", async () => {
      await (await parts.pool.acquire("main", never)).release();
      const config = configWith({});
      expect(applyLiveConfig(config, configWith({}), parts)).toEqual([]);
      expect(applyLiveConfig(configWith({ server: { requestTimeoutMs: 5000 } }), config, parts)).toEqual([]);
      expect(parts.pool.settings).toMatchObject({ contextSize: 1024, sequences: 1, maxQueue: 16 });
      expect(parts.store.busyTimeoutMs).toBe(5000);
      expect((await parts.pool.detailedStatus())[0]).toMatchObject({ loaded: true, contextSize: 1024 });
    });

    it("applies only what the parts given take", () => {
      const previous = configWith({});
      const next = configWith({ memory: { busyTimeoutMs: 200 }, server: { maxQueue: 2 } });
      expect(applyLiveConfig(next, previous, { store: parts.store })).toEqual(["memory.busyTimeoutMs"]);
      expect(parts.store.busyTimeoutMs).toBe(200);
      expect(parts.pool.settings.maxQueue).toBe(16);
      expect(applyLiveConfig(next, previous, {})).toEqual([]);
    });

    it("passes the cache size through a vision service", () => {
      const vision = new VisionService({
        maxSidePx: 512,
        webpQuality: 85,
        maxInputBytes: 2 ** 20,
        maxPixels: 10_000_000,
        cache: parts.imageCache,
      });
      const next = configWith({ vision: { cache: { maxMb: 0.5 } } });
      expect(applyLiveConfig(next, configWith({}), { imageCache: vision })).toEqual(["vision.cache.maxMb"]);
      expect(parts.imageCache.maxBytes).toBe(2 ** 19);
    });

    it("leaves a refused setting out and applies the rest; without a logger it throws after them", () => {
      parts.store.close();
      const previous = configWith({});
      const next = configWith({ memory: { busyTimeoutMs: 200 }, vision: { cache: { maxMb: 8 } } });
      const warnings: unknown[] = [];
      const logger = { warn: (...args: unknown[]) => warnings.push(args) } as never;
      expect(applyLiveConfig(next, previous, { ...parts, logger })).toEqual(["vision.cache.maxMb"]);
      expect(warnings).toHaveLength(1);
      parts.imageCache.setMaxBytes(256 * 2 ** 20);
      expect(() => applyLiveConfig(next, previous, parts)).toThrow(/not open/);
      expect(parts.imageCache.maxBytes).toBe(8 * 2 ** 20);
    });
  });
});
