import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ImageCache, type ImageCacheOptions } from "./image-cache.js";
import { hammingDistance, perceptualHash } from "./perceptual-hash.js";
import type { ImagePreprocessOptions } from "./preprocess.js";
import { renderSyntheticPhoto } from "./synthetic-image.js";
import { VisionService } from "./vision-service.js";

const preprocess: ImagePreprocessOptions = {
  maxSidePx: 512,
  webpQuality: 85,
  maxInputBytes: 20 * 2 ** 20,
  maxPixels: 50_000_000,
};
const day = 24 * 60 * 60 * 1000;

function photo(seed: number, width = 480, height = 360) {
  const raw = renderSyntheticPhoto({ seed, width, height });
  return sharp(raw.data, { raw: { width, height, channels: raw.channels } });
}

/** The original (JPEG q90) and its three variants, as the issue names them. */
async function withVariants(seed: number) {
  const original = await photo(seed).jpeg({ quality: 90 }).toBuffer();
  return {
    original,
    reencode: await sharp(original).jpeg({ quality: 65 }).toBuffer(),
    resize: await sharp(original)
      .resize(Math.round(480 * 0.6))
      .jpeg({ quality: 85 })
      .toBuffer(),
    brighten: await sharp(original).modulate({ brightness: 1.12 }).jpeg({ quality: 85 }).toBuffer(),
  };
}

let dir: string;
let clock: number;
const opened: ImageCache[] = [];

function openCache(overrides: Partial<ImageCacheOptions> = {}): ImageCache {
  const cache = ImageCache.open({
    dir,
    ttlMs: 7 * day,
    maxBytes: 256 * 2 ** 20,
    hammingThreshold: 8,
    now: () => clock,
    ...overrides,
  });
  opened.push(cache);
  return cache;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sarai-vision-"));
  clock = Date.UTC(2026, 0, 1);
});
afterEach(() => {
  for (const cache of opened.splice(0)) cache.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("vision", () => {
  describe("perceptualHash", () => {
    it("counts differing bits", () => {
      expect(hammingDistance("0000000000000000", "0000000000000000")).toBe(0);
      expect(hammingDistance("0000000000000000", "ffffffffffffffff")).toBe(64);
      expect(hammingDistance("8000000000000001", "0000000000000000")).toBe(2);
      expect(hammingDistance("00000000f0f0f0f0", "0000000000000000")).toBe(16);
      expect(() => hammingDistance("xyz", "0000000000000000")).toThrow(RangeError);
    });

    it("hashes an EXIF-rotated copy like the upright picture", async () => {
      const upright = await photo(40, 300, 200).rotate(90).jpeg({ quality: 95 }).toBuffer();
      const tagged = await photo(40, 300, 200)
        .jpeg({ quality: 95 })
        .withMetadata({ orientation: 6 })
        .toBuffer();
      expect(
        hammingDistance(await perceptualHash(upright), await perceptualHash(tagged)),
      ).toBeLessThanOrEqual(2);
      const unrotated = await photo(40, 300, 200).jpeg({ quality: 95 }).toBuffer();
      expect(hammingDistance(await perceptualHash(unrotated), await perceptualHash(tagged))).toBeGreaterThan(
        10,
      );
    });
  });

  describe("VisionService", () => {
    it("without a cache prepares every time", async () => {
      const service = new VisionService(preprocess);
      const input = await photo(1).jpeg().toBuffer();
      expect((await service.prepare(input, "image")).cache).toBe("off");
      expect((await service.prepare(input, "image")).cache).toBe("off");
      expect(service.stats()).toBeUndefined();
    });

    it("hits on re-encoded, resized and brightened copies", async () => {
      const service = new VisionService({ ...preprocess, cache: openCache() });
      const seeds = [11, 12, 13, 14, 15, 16, 17, 18];
      for (const seed of seeds) {
        const set = await withVariants(seed);
        const first = await service.prepare(set.original, "image");
        expect(first.cache).toBe("miss");
        for (const kind of ["reencode", "resize", "brighten"] as const) {
          const variant = await service.prepare(set[kind], `image ${seed} ${kind}`);
          expect(variant.cache, `${seed} ${kind}`).toBe("similar");
          expect(variant.data.equals(first.data)).toBe(true);
          // The input's own facts, the cached image's pixels.
          expect(variant.sourceBytes).toBe(set[kind].length);
        }
      }
      expect(service.stats()).toMatchObject({
        entries: seeds.length,
        misses: seeds.length,
        similarHits: seeds.length * 3,
        exactHits: 0,
        hitRate: 0.75,
      });
    });

    it("does not confuse distinct images", async () => {
      const service = new VisionService({ ...preprocess, cache: openCache() });
      for (let seed = 100; seed < 140; seed++) {
        const prepared = await service.prepare(
          await photo(seed).jpeg({ quality: 80 }).toBuffer(),
          `image ${seed}`,
        );
        expect(prepared.cache, `image ${seed}`).toBe("miss");
      }
      expect(service.stats()).toMatchObject({ entries: 40, hits: 0, misses: 40 });
    });

    it("does not confuse flat images of different colours", async () => {
      const service = new VisionService({ ...preprocess, cache: openCache() });
      const flat = (background: string) =>
        sharp({ create: { width: 200, height: 200, channels: 3, background } })
          .png()
          .toBuffer();
      const red = await service.prepare(await flat("#c02020"), "red");
      const blue = await service.prepare(await flat("#2020c0"), "blue");
      expect(red.phash).toBe(blue.phash);
      expect([red.cache, blue.cache]).toEqual(["miss", "miss"]);
    });

    it("answers the same bytes exactly, without decoding them", async () => {
      const cache = openCache();
      const input = await photo(20).jpeg().toBuffer();
      const first = await new VisionService({ ...preprocess, cache }).prepare(input, "image");
      // A service that could decode nothing (1 pixel allowed) still answers from the SHA-256.
      const blind = new VisionService({ ...preprocess, maxPixels: 1, cache });
      const again = await blind.prepare(input, "image");
      expect(again.cache).toBe("exact");
      expect(again.data.equals(first.data)).toBe(true);
      expect({ ...again, data: undefined, cache: undefined }).toEqual({
        ...first,
        data: undefined,
        cache: undefined,
      });
      expect(cache.stats()).toMatchObject({ exactHits: 1, misses: 1, hitRate: 0.5 });
      await expect(blind.prepare(await photo(21).jpeg().toBuffer(), "other")).rejects.toMatchObject({
        code: "IMAGE_TOO_LARGE",
      });
    });

    it("still checks the byte limit before an exact hit", async () => {
      const cache = openCache();
      const input = await photo(22).jpeg().toBuffer();
      await new VisionService({ ...preprocess, cache }).prepare(input, "image");
      const strict = new VisionService({ ...preprocess, maxInputBytes: 100, cache });
      await expect(strict.prepare(input, "image")).rejects.toMatchObject({ code: "IMAGE_TOO_LARGE" });
    });

    it("keeps images prepared with other settings apart", async () => {
      const cache = openCache();
      const input = await photo(23, 1200, 800).jpeg().toBuffer();
      await new VisionService({ ...preprocess, cache }).prepare(input, "image");
      const small = await new VisionService({ ...preprocess, maxSidePx: 256, cache }).prepare(input, "image");
      expect(small.cache).toBe("miss");
      expect([small.width, small.height]).toEqual([256, 171]);
    });

    it("evicts the least recently used entries past maxBytes", async () => {
      const inputs = await Promise.all([30, 31, 32].map(async (seed) => photo(seed).jpeg().toBuffer()));
      const sizes = await Promise.all(
        inputs.map(async (input) => (await new VisionService(preprocess).prepare(input, "x")).data.length),
      );
      // Room for the two largest, not for all three.
      const maxBytes = [...sizes]
        .sort((a, b) => b - a)
        .slice(0, 2)
        .reduce((a, b) => a + b, 0);
      const cache = openCache({ maxBytes });
      const service = new VisionService({ ...preprocess, cache });
      const [a, b, c] = inputs as [Buffer, Buffer, Buffer];
      await service.prepare(a, "a");
      clock += 1000;
      await service.prepare(b, "b");
      clock += 1000;
      expect((await service.prepare(a, "a")).cache).toBe("exact"); // a is now the most recently used
      clock += 1000;
      await service.prepare(c, "c");
      expect(cache.stats().entries).toBe(2);
      expect(cache.stats().bytes).toBeLessThanOrEqual(maxBytes);
      expect((await service.prepare(a, "a")).cache).toBe("exact");
      expect((await service.prepare(c, "c")).cache).toBe("exact");
      expect((await service.prepare(b, "b")).cache).toBe("miss");
    });

    it("shrinks its cache live through setCacheMaxBytes", async () => {
      const inputs = await Promise.all([40, 41].map(async (seed) => photo(seed).jpeg().toBuffer()));
      expect(new VisionService(preprocess).setCacheMaxBytes(1)).toBeUndefined();
      const cache = openCache();
      const service = new VisionService({ ...preprocess, cache });
      const [a, b] = inputs as [Buffer, Buffer];
      await service.prepare(a, "a");
      clock += 1000;
      const newer = await service.prepare(b, "b");
      const result = service.setCacheMaxBytes(newer.data.length);
      expect(result).toMatchObject({ removed: 1 });
      expect(service.stats()).toMatchObject({ entries: 1, bytes: newer.data.length });
      expect((await service.prepare(b, "b")).cache).toBe("exact");
      expect((await service.prepare(a, "a")).cache).toBe("miss");
    });

    it("expires entries unused for longer than the TTL (injected clock)", async () => {
      const cache = openCache({ ttlMs: 7 * day });
      const service = new VisionService({ ...preprocess, cache });
      const old = await photo(50).jpeg().toBuffer();
      const recent = await photo(51).jpeg().toBuffer();
      const oldPrepared = await service.prepare(old, "old");
      clock += 5 * day;
      await service.prepare(recent, "recent");
      clock += 2 * day + 1; // old: 7 days + 1 ms unused; recent: 2 days
      expect(service.expire()).toEqual({ removed: 1, freedBytes: oldPrepared.data.length });
      expect(service.expire()).toEqual({ removed: 0, freedBytes: 0 });
      expect(cache.stats().entries).toBe(1);
      expect((await service.prepare(recent, "recent")).cache).toBe("exact");
      expect((await service.prepare(old, "old")).cache).toBe("miss");
    });

    it("keeps entries across reopening", async () => {
      const input = await photo(60).jpeg().toBuffer();
      const first = openCache();
      await new VisionService({ ...preprocess, cache: first }).prepare(input, "image");
      first.close();
      first.close();
      const second = openCache();
      expect(second.stats()).toMatchObject({ entries: 1, hits: 0, misses: 0 });
      expect((await new VisionService({ ...preprocess, cache: second }).prepare(input, "image")).cache).toBe(
        "exact",
      );
    });

    it("sets a corrupt index aside and starts empty", async () => {
      writeFileSync(path.join(dir, "index.db"), Buffer.alloc(8192, 0x5a));
      const warnings: string[] = [];
      const cache = openCache({ onWarning: (message) => warnings.push(message) });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/unreadable; moved it to .*index\.db\.corrupt-/);
      expect(readdirSync(dir).filter((f) => f.startsWith("index.db.corrupt-"))).toHaveLength(1);
      expect(existsSync(path.join(dir, "index.db"))).toBe(true);
      const service = new VisionService({ ...preprocess, cache });
      const input = await photo(70).jpeg().toBuffer();
      expect((await service.prepare(input, "image")).cache).toBe("miss");
      expect((await service.prepare(input, "image")).cache).toBe("exact");
    });

    it("dispose closes the cache and is idempotent", async () => {
      const cache = openCache();
      const service = new VisionService({ ...preprocess, cache });
      service.dispose();
      service.dispose();
      expect((await service.prepare(await photo(80).jpeg().toBuffer(), "image")).cache).toBe("off");
      expect(service.expire()).toEqual({ removed: 0, freedBytes: 0 });
    });
  });
});
