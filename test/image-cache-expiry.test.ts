import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createBuiltinActions,
  defaultActionSchedules,
  JobStore,
  ManualClock,
  Scheduler,
  type LoopSettings,
} from "../src/proactive/index.js";
import { ImageCache, VisionService } from "../src/vision/index.js";

const hour = 3_600_000;
const day = 24 * hour;
const settings: LoopSettings = {
  maxRssBytes: 2 ** 30,
  minAvailableBytes: 0,
  minFreeDiskBytes: 0,
  logRetentionDays: 14,
  logMaxTotalBytes: 2 ** 29,
  factRetentionDays: 90,
  idleMs: 300_000,
  suggestionsPerHour: 2,
};

/** A small picture unlike the others: a gradient whose direction and colour depend on `seed`. */
async function picture(seed: number): Promise<Buffer> {
  const width = 96;
  const height = 64;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const wave = Math.sin((x * (seed + 1)) / 9 + (y * (7 - seed)) / 11);
      pixels[i] = Math.round(127 + 120 * wave);
      pixels[i + 1] = (x * 4 + seed * 50) % 256;
      pixels[i + 2] = (y * 3 * (seed + 2)) % 256;
    }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

let dir: string;
let store: JobStore;
let clock: ManualClock;
let cache: ImageCache;
let vision: VisionService;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sarai-image-expiry-"));
  store = JobStore.open({ file: path.join(dir, "loop.db") });
  clock = new ManualClock(Date.UTC(2026, 0, 5, 3, 0, 0));
  cache = ImageCache.open({
    dir: path.join(dir, "image-cache"),
    ttlMs: 7 * day,
    maxBytes: 64 * 2 ** 20,
    hammingThreshold: 6,
    now: () => clock.now(),
  });
  vision = new VisionService({
    maxSidePx: 512,
    webpQuality: 85,
    maxInputBytes: 2 ** 24,
    maxPixels: 1e8,
    cache,
  });
});

afterEach(() => {
  vision.dispose();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function scheduler(withCache = true): Scheduler {
  return new Scheduler({
    store,
    clock,
    actions: createBuiltinActions(
      {
        store,
        readings: {
          rssBytes: () => 0,
          availableMemoryBytes: () => 0,
          freeDiskBytes: () => Promise.resolve(0),
        },
        imageCache: withCache ? { expire: () => Promise.resolve(vision.expire()) } : undefined,
        logDir: path.join(dir, "logs"),
        stateDir: dir,
      },
      settings,
    ),
    schedules: [{ action: "image_cache_expiry", ...defaultActionSchedules.image_cache_expiry, args: {} }],
    concurrency: 1,
  });
}

describe("proactive loop", () => {
  describe("image_cache_expiry", () => {
    it("removes the images unused for longer than the TTL and keeps the ones used since", async () => {
      const [old, reused, fresh] = [await picture(1), await picture(2), await picture(3)];
      await vision.prepare(old, "old");
      await vision.prepare(reused, "reused");
      clock.advance(5 * day);
      expect((await vision.prepare(reused, "reused")).cache).toBe("exact");
      await vision.prepare(fresh, "fresh");
      clock.advance(3 * day);

      const loop = scheduler();
      const job = loop.enqueue("image_cache_expiry");
      await loop.settle();
      const result = store.get(job.id)?.result as { removed: number; freedBytes: number; mbFreed: number };
      expect(result.removed).toBe(1);
      expect(result.freedBytes).toBeGreaterThan(0);
      expect(cache.stats().entries).toBe(2);
      // The expired image is prepared afresh; the others are still cached.
      expect((await vision.prepare(old, "old")).cache).toBe("miss");
      expect((await vision.prepare(reused, "reused")).cache).toBe("exact");
      expect((await vision.prepare(fresh, "fresh")).cache).toBe("exact");
    });

    it("runs hourly by default and records a skip when the cache is off", async () => {
      expect(defaultActionSchedules.image_cache_expiry.schedule).toBe("@hourly");
      const loop = scheduler(false);
      const job = loop.enqueue("image_cache_expiry");
      await loop.settle();
      expect(store.get(job.id)).toMatchObject({
        status: "succeeded",
        result: { skipped: "the image cache is turned off" },
      });
    });
  });
});
