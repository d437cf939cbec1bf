import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ImageCache, type ImageCacheOptions } from "./image-cache.js";
import type { MeanColour, PreparedImage } from "./preprocess.js";

const day = 24 * 60 * 60 * 1000;
const profile = "webp:512:85";
const grey: MeanColour = [128, 128, 128];

let dir: string;
const opened: { close(): void }[] = [];

/** A cache on `dir` with its own clock, as another process would have. */
function openCache(clock: { now: number }, overrides: Partial<ImageCacheOptions> = {}): ImageCache {
  const cache = ImageCache.open({
    dir,
    ttlMs: 7 * day,
    maxBytes: 256 * 2 ** 20,
    hammingThreshold: 8,
    now: () => clock.now,
    ...overrides,
  });
  opened.push(cache);
  return cache;
}

/** A raw connection to the index, as `sarai loop` or a test's saboteur holds it. */
function openRaw(options: Database.Options = {}): Database.Database {
  const db = new Database(path.join(dir, "index.db"), options);
  opened.push(db);
  return db;
}

/** A prepared image of `bytes` bytes with the given perceptual hash; the SHA-256 follows from `name`. */
function image(name: string, phash: string, bytes = 1000): Omit<PreparedImage, "cache"> {
  return {
    data: Buffer.alloc(bytes, name),
    mimeType: "image/webp",
    width: 64,
    height: 64,
    sourceWidth: 64,
    sourceHeight: 64,
    sourceFormat: "png",
    sourceBytes: bytes,
    sha256: createHash("sha256").update(name).digest("hex"),
    phash,
  };
}

/** Entries and bytes as the database holds them, read through a connection of its own. */
function databaseTotals(): { entries: number; bytes: number } {
  const db = new Database(path.join(dir, "index.db"), { readonly: true });
  try {
    return db.prepare("SELECT COUNT(*) AS entries, COALESCE(SUM(bytes), 0) AS bytes FROM images").get() as {
      entries: number;
      bytes: number;
    };
  } finally {
    db.close();
  }
}

function setAside(): string[] {
  return readdirSync(dir).filter((file) => file.includes(".corrupt-"));
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sarai-image-cache-"));
});
afterEach(() => {
  for (const handle of opened.splice(0).reverse()) handle.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("vision", () => {
  describe("ImageCache", () => {
    describe("shared with another process", () => {
      it("keeps its capacity after another process expires entries", () => {
        const clockA = { now: Date.UTC(2026, 0, 1) };
        const clockB = { now: clockA.now + 8 * day };
        const a = openCache(clockA, { maxBytes: 3000 });
        const b = openCache(clockB, { maxBytes: 3000 });
        for (const name of ["old1", "old2", "old3"]) a.put(image(name, "0000000000000000"), grey, profile);
        expect(b.expire()).toEqual({ removed: 3, freedBytes: 3000 });

        clockA.now = clockB.now;
        const fresh = ["new1", "new2", "new3"];
        fresh.forEach((name, i) => {
          a.put(image(name, `ffffffffffff000${i}`), grey, profile);
          clockA.now += 1000;
        });
        for (const name of fresh) {
          expect(a.getExact(image(name, "0").sha256, profile)?.cache, name).toBe("exact");
        }
        expect(databaseTotals()).toEqual({ entries: 3, bytes: 3000 });
        expect(a.stats()).toMatchObject(databaseTotals());
      });

      it("does not return entries another process expired, and finds the next nearest instead", () => {
        const clockA = { now: Date.UTC(2026, 0, 1) };
        const clockB = { now: clockA.now + 8 * day };
        const a = openCache(clockA);
        const b = openCache(clockB);
        a.put(image("expired", "0000000000000000"), grey, profile);
        clockA.now += 3 * day;
        a.put(image("kept", "0000000000000003"), grey, profile); // 2 bits from the expired one
        expect(b.expire()).toMatchObject({ removed: 1 });

        expect(a.getExact(image("expired", "0").sha256, profile)).toBeUndefined();
        const similar = a.findSimilar(image("query", "0000000000000000"), grey, profile);
        expect(similar?.cache).toBe("similar");
        expect(similar?.data.equals(image("kept", "0").data)).toBe(true);
        expect(a.stats()).toMatchObject({ ...databaseTotals(), similarHits: 1, misses: 0 });
      });

      it("sees entries another process stored", () => {
        const clock = { now: Date.UTC(2026, 0, 1) };
        const a = openCache(clock);
        const b = openCache(clock);
        expect(a.stats().entries).toBe(0);
        b.put(image("from-b", "00000000ffffffff"), grey, profile);
        expect(a.findSimilar(image("query", "00000000ffffffff"), grey, profile)?.cache).toBe("similar");
        expect(a.stats()).toMatchObject(databaseTotals());
      });
    });

    describe("setMaxBytes", () => {
      it("evicts the least recently used entries down to the new bound at once, and puts follow it", () => {
        const clock = { now: Date.UTC(2026, 0, 1) };
        const cache = openCache(clock, { maxBytes: 10_000 });
        for (const name of ["a", "b", "c"]) {
          cache.put(image(name, `000000000000000${name}`), grey, profile);
          clock.now += 1000;
        }
        // "a" becomes the most recently used: "b" is the oldest now.
        expect(cache.getExact(image("a", "0").sha256, profile)?.cache).toBe("exact");
        expect(cache.setMaxBytes(2000)).toEqual({ removed: 1, freedBytes: 1000 });
        expect(cache.maxBytes).toBe(2000);
        expect(databaseTotals()).toEqual({ entries: 2, bytes: 2000 });
        expect(cache.stats()).toMatchObject(databaseTotals());
        expect(cache.getExact(image("b", "0").sha256, profile)).toBeUndefined();
        expect(cache.setMaxBytes(2000)).toEqual({ removed: 0, freedBytes: 0 });
        clock.now += 1000;
        cache.put(image("d", "ffffffffffffffff"), grey, profile);
        expect(databaseTotals()).toEqual({ entries: 2, bytes: 2000 });
        expect(cache.setMaxBytes(50_000)).toEqual({ removed: 0, freedBytes: 0 });
        cache.put(image("e", "ffffffff00000000"), grey, profile);
        expect(databaseTotals()).toEqual({ entries: 3, bytes: 3000 });
        expect(() => cache.setMaxBytes(0)).toThrow(RangeError);
        expect(cache.maxBytes).toBe(50_000);
      });

      it("only records the bound on a closed cache", () => {
        const cache = openCache({ now: 0 });
        cache.close();
        expect(cache.setMaxBytes(1)).toEqual({ removed: 0, freedBytes: 0 });
        expect(cache.maxBytes).toBe(1);
      });
    });

    describe("failed transactions", () => {
      it("leaves memory as the database is when an eviction or an expiry is rolled back", () => {
        const clock = { now: Date.UTC(2026, 0, 1) };
        const warnings: string[] = [];
        const cache = openCache(clock, { maxBytes: 2000, onWarning: (message) => warnings.push(message) });
        cache.put(image("first", "0000000000000000"), grey, profile);
        clock.now += 1000;
        cache.put(image("second", "000000000000ffff"), grey, profile);
        clock.now += 1000;
        // The second delete of a transaction fails, after the first has run.
        openRaw().exec(
          `CREATE TRIGGER keep_second BEFORE DELETE ON images WHEN old.data = x'${image("second", "0").data.toString("hex")}' ` +
            "BEGIN SELECT RAISE(ABORT, 'kept by the test'); END",
        );
        expect(cache.stats()).toMatchObject({ entries: 2, bytes: 2000 });

        // Needs both older entries evicted.
        cache.put(image("large", "ffffffffffffffff", 2000), grey, profile);
        expect(warnings.at(-1)).toMatch(/storing a prepared image failed/);
        expect(cache.getExact(image("large", "0").sha256, profile)).toBeUndefined();
        expect(databaseTotals()).toEqual({ entries: 2, bytes: 2000 });
        expect(cache.stats()).toMatchObject(databaseTotals());

        clock.now += 30 * day;
        expect(cache.expire()).toEqual({ removed: 0, freedBytes: 0 });
        expect(warnings.at(-1)).toMatch(/expiring entries failed/);
        expect(databaseTotals()).toEqual({ entries: 2, bytes: 2000 });
        expect(cache.stats()).toMatchObject(databaseTotals());
        expect(cache.getExact(image("first", "0").sha256, profile)?.cache).toBe("exact");
      });
    });

    describe("open", () => {
      it("opens an index another process holds a write lock on, without setting it aside", () => {
        const clock = { now: Date.UTC(2026, 0, 1) };
        const first = openCache(clock);
        first.put(image("stored", "0000000000000000"), grey, profile);
        first.close();
        const holder = openRaw();
        holder.exec("BEGIN EXCLUSIVE");
        holder.prepare("UPDATE images SET last_used_at = last_used_at + 1").run();

        const warnings: string[] = [];
        const cache = openCache(clock, {
          busyTimeoutMs: 100,
          onWarning: (message) => warnings.push(message),
        });
        expect(warnings).toEqual([]);
        expect(setAside()).toEqual([]);
        expect(cache.stats().entries).toBe(1);
        holder.exec("COMMIT");
        expect(cache.getExact(image("stored", "0").sha256, profile)?.cache).toBe("exact");
      });

      it("caches in memory, leaving the file alone, when the lock outlasts the busy timeout", () => {
        // A rollback-journal database under an exclusive lock: switching it to WAL has to wait.
        const holder = openRaw();
        holder.exec("CREATE TABLE unrelated (x); INSERT INTO unrelated VALUES (42)");
        holder.exec("BEGIN EXCLUSIVE");
        holder.prepare("INSERT INTO unrelated VALUES (43)").run();

        const warnings: string[] = [];
        const clock = { now: Date.UTC(2026, 0, 1) };
        const cache = openCache(clock, {
          busyTimeoutMs: 100,
          onWarning: (message) => warnings.push(message),
        });
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatch(/cannot open .*index\.db .*database is locked.*left it as it is/);
        expect(setAside()).toEqual([]);
        cache.put(image("in-memory", "0000000000000000"), grey, profile);
        expect(cache.getExact(image("in-memory", "0").sha256, profile)?.cache).toBe("exact");

        holder.exec("COMMIT");
        expect(holder.prepare("SELECT COUNT(*) AS n FROM unrelated").get()).toEqual({ n: 2 });
      });

      it("refuses an index of a newer schema with a clear warning and never destroys it", () => {
        const raw = openRaw();
        raw.exec("CREATE TABLE future (x); PRAGMA user_version = 2");
        raw.close();
        const warnings: string[] = [];
        const cache = openCache({ now: 0 }, { onWarning: (message) => warnings.push(message) });
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatch(/schema version 2, written by a newer SARAi.*caching in memory only/);
        expect(setAside()).toEqual([]);
        const reopened = openRaw({ readonly: true });
        expect(reopened.pragma("user_version", { simple: true })).toBe(2);
        expect(
          reopened.prepare("SELECT name FROM sqlite_master WHERE name = 'images'").get(),
        ).toBeUndefined();
        expect(cache.stats().entries).toBe(0);
      });
    });
  });
});
