/**
 * Image preprocessing and the perceptual-hash cache, on generated photo-like pictures (seeded, so every run
 * sees the same set).
 *
 * 1. Time: preparing a 1920×1080 JPEG (decode with shrink-on-load, orient, fit 512, WebP q85, hashes) against
 *    two baselines timed in the same loop: sharp decoding the JPEG alone at full size, and the cache's exact
 *    SHA-256 path. Measured with libvips on 1 thread and on one per core (sharp's default on glibc Linux
 *    without jemalloc is 1).
 * 2. Cache: `--images` distinct pictures (default 500) go through `VisionService` with the cache, then three
 *    variants of each (JPEG re-encode q70, resize to 60–75%, brighten +12%). Variants must hit the entry of
 *    their own original; distinct pictures must all miss. The Hamming distances show the margin, and a sweep
 *    of thresholds shows what each would give (hash alone, before the cache's colour check).
 * 3. Size: prepared WebP bytes against the input JPEG bytes.
 *
 * `npm run bench -- vision [--images 500] [--runs 40] [--threshold 6] [--seed 1]`
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { hammingDistance, ImageCache, renderSyntheticPhoto, VisionService } from "../src/vision/index.js";
import { createRandom } from "../src/shared/index.js";
import { formatTable, pairRatios, parseIntegerOption, summarize } from "./_stats.js";

const usage = "usage: npm run bench -- vision [--images 500] [--runs 40] [--threshold 6] [--seed 1]";
const preprocess = { maxSidePx: 512, webpQuality: 85, maxInputBytes: 20 * 2 ** 20, maxPixels: 50_000_000 };
const variantKinds = ["reencode", "resize", "brighten"] as const;
type VariantKind = (typeof variantKinds)[number];

function encodePhoto(seed: number, width: number, height: number): ReturnType<typeof sharp> {
  const raw = renderSyntheticPhoto({ seed, width, height });
  return sharp(raw.data, { raw: { width, height, channels: raw.channels } });
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function timePreprocessing(runs: number, threads: number, dir: string): Promise<string[]> {
  sharp.concurrency(threads);
  const input = await encodePhoto(424242, 1920, 1080).jpeg({ quality: 90 }).toBuffer();
  const cache = ImageCache.open({ dir, ttlMs: 1e12, maxBytes: 2 ** 30, hammingThreshold: 6 });
  const cached = new VisionService({ ...preprocess, cache });
  const uncached = new VisionService(preprocess);
  await cached.prepare(input, "bench");
  const prepare: number[] = [];
  const decode: number[] = [];
  const exact: number[] = [];
  for (let i = 0; i < runs + 3; i++) {
    let start = process.hrtime.bigint();
    await uncached.prepare(input, "bench");
    const p = ms(start);
    start = process.hrtime.bigint();
    await sharp(input).raw().toBuffer();
    const d = ms(start);
    start = process.hrtime.bigint();
    const hit = await cached.prepare(input, "bench");
    const e = ms(start);
    if (hit.cache !== "exact") throw new Error(`expected an exact hit, got ${hit.cache}`);
    if (i < 3) continue; // warm-up
    prepare.push(p);
    decode.push(d);
    exact.push(e);
  }
  cached.dispose();
  const p = summarize(prepare);
  const p95 = [...prepare].sort((a, b) => a - b)[Math.ceil(0.95 * prepare.length) - 1] ?? Number.NaN;
  return [
    String(threads),
    p.median.toFixed(1),
    p95.toFixed(1),
    summarize(decode).median.toFixed(1),
    summarize(pairRatios(prepare, decode)).median.toFixed(2),
    summarize(exact).median.toFixed(2),
    summarize(pairRatios(prepare, exact)).median.toFixed(0),
  ];
}

interface PictureSet {
  original: Buffer;
  variants: Record<VariantKind, Buffer>;
}

async function makeSet(seed: number, next: () => number): Promise<PictureSet> {
  const width = 640 + Math.floor(next() * 6) * 64;
  const height = Math.round(width * (0.56 + next() * 0.44));
  const original = await encodePhoto(seed, width, height).jpeg({ quality: 90 }).toBuffer();
  const scale = 0.6 + next() * 0.15;
  return {
    original,
    variants: {
      reencode: await sharp(original).jpeg({ quality: 70 }).toBuffer(),
      resize: await sharp(original)
        .resize(Math.round(width * scale))
        .jpeg({ quality: 85 })
        .toBuffer(),
      brighten: await sharp(original).modulate({ brightness: 1.12 }).jpeg({ quality: 85 }).toBuffer(),
    },
  };
}

export default async function vision(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      images: { type: "string", default: "500" },
      runs: { type: "string", default: "40" },
      threshold: { type: "string", default: "6" },
      seed: { type: "string", default: "1" },
    },
  });
  const images = parseIntegerOption("images", values.images, 2, usage);
  const runs = parseIntegerOption("runs", values.runs, 6, usage);
  const threshold = parseIntegerOption("threshold", values.threshold, 0, usage);
  const seed = parseIntegerOption("seed", values.seed, 0, usage);
  const root = mkdtempSync(path.join(os.tmpdir(), "sarai-bench-vision-"));
  const defaultThreads = sharp.concurrency();
  const cores = os.cpus().length;
  try {
    console.log(
      `sharp default concurrency: ${defaultThreads}\n\n1920×1080 JPEG (q90, photo-like) → 512 WebP q85, ${runs} runs after 3 warm-ups`,
    );
    const timing = [];
    for (const threads of [...new Set([1, cores, defaultThreads])]) {
      timing.push(await timePreprocessing(runs, threads, path.join(root, `timing-${threads}`)));
    }
    console.log(
      formatTable(
        [
          "vips threads",
          "prepare median ms",
          "p95 ms",
          "full decode ms",
          "prepare / decode",
          "exact hit ms",
          "prepare / exact hit",
        ],
        timing,
      ),
    );
    sharp.concurrency(defaultThreads);

    const started = Date.now();
    const next = createRandom(seed);
    const cache = ImageCache.open({
      dir: path.join(root, "cache"),
      ttlMs: 1e12,
      maxBytes: 2 ** 31,
      hammingThreshold: threshold,
    });
    const service = new VisionService({ ...preprocess, cache });
    const hashes: string[] = [];
    const variantDistances: Record<VariantKind, number[]> = { reencode: [], resize: [], brighten: [] };
    const hits: Record<VariantKind, number> = { reencode: 0, resize: 0, brighten: 0 };
    let wrongEntry = 0;
    let falseHits = 0;
    let inputBytes = 0;
    let webpBytes = 0;
    for (let i = 0; i < images; i++) {
      const set = await makeSet(seed * 1_000_003 + i, next);
      const original = await service.prepare(set.original, `image ${i}`);
      if (original.cache !== "miss") falseHits += 1;
      hashes.push(original.phash);
      inputBytes += set.original.length;
      webpBytes += original.data.length;
      for (const kind of variantKinds) {
        const variant = await service.prepare(set.variants[kind], `image ${i} ${kind}`);
        variantDistances[kind].push(hammingDistance(original.phash, variant.phash));
        if (variant.cache === "miss") continue;
        if (variant.data.equals(original.data)) hits[kind] += 1;
        else wrongEntry += 1;
      }
    }
    const elapsed = (Date.now() - started) / 1000;
    const distinct: number[] = [];
    for (let i = 0; i < hashes.length; i++) {
      for (let j = i + 1; j < hashes.length; j++)
        distinct.push(hammingDistance(hashes[i] ?? "", hashes[j] ?? ""));
    }
    distinct.sort((a, b) => a - b);
    const allVariants = variantKinds.flatMap((kind) => variantDistances[kind]);
    const totalHits = variantKinds.reduce((sum, kind) => sum + hits[kind], 0);
    const percent = (a: number, b: number) => `${((100 * a) / b).toFixed(1)}%`;

    console.log(
      `\ncache: ${images} distinct pictures (640–960 px wide), 3 variants each, threshold ${threshold}, ` +
        `${elapsed.toFixed(0)} s`,
    );
    console.log(
      formatTable(
        ["set", "lookups", "hits", "hit rate", "distance median", "distance max"],
        [
          ...variantKinds.map((kind) => [
            kind,
            String(images),
            String(hits[kind]),
            percent(hits[kind], images),
            String(summarize(variantDistances[kind]).median),
            String(Math.max(...variantDistances[kind])),
          ]),
          [
            "all variants",
            String(3 * images),
            String(totalHits),
            percent(totalHits, 3 * images),
            String(summarize(allVariants).median),
            String(Math.max(...allVariants)),
          ],
          ["distinct (false hits)", String(images), String(falseHits), percent(falseHits, images), "", ""],
        ],
      ),
    );
    console.log(
      `variants that hit another picture's entry: ${wrongEntry}\n` +
        `distinct pairs: ${distinct.length}, smallest distance ${distinct[0]}, ` +
        `1st percentile ${distinct[Math.floor(distinct.length / 100)]}, ` +
        `median ${summarize(distinct).median}; largest image↔variant distance ${Math.max(...allVariants)} ` +
        `→ margin ${(distinct[0] ?? 0) - Math.max(...allVariants)}`,
    );

    const sweep = [];
    for (let t = 0; t <= 16; t += 2) {
      const hit = allVariants.filter((d) => d <= t).length;
      const close = distinct.filter((d) => d <= t).length;
      sweep.push([String(t), percent(hit, allVariants.length), String(close)]);
    }
    console.log("\nthreshold sweep (hash alone; distances are even, so t and t+1 agree)");
    console.log(formatTable(["threshold", "variant hit rate", "distinct pairs within"], sweep));

    console.log(
      `\nsize: input JPEG q90 ${(inputBytes / 2 ** 20).toFixed(1)} MiB → WebP ${(webpBytes / 2 ** 20).toFixed(1)} MiB ` +
        `(${percent(inputBytes - webpBytes, inputBytes)} smaller, ${(webpBytes / images / 1024).toFixed(1)} KiB per image)`,
    );
    service.dispose();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
