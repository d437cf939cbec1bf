import { existsSync, mkdirSync, renameSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { popcount32, splitHash } from "./perceptual-hash.js";
import type { MeanColour, PreparedImage } from "./preprocess.js";

export interface ImageCacheOptions {
  /** Folder of the cache; created when missing. The index is `<dir>/index.db`. */
  dir: string;
  /** Entries not used for this long are removed by {@link ImageCache.expire}, in milliseconds. */
  ttlMs: number;
  /** Total WebP bytes kept; past it the least recently used entries are evicted. {@link ImageCache.setMaxBytes} changes it. */
  maxBytes: number;
  /** Largest Hamming distance between perceptual hashes that counts as the same image, 0–64. */
  hammingThreshold: number;
  /** Milliseconds since the epoch; injectable for tests. Default: `Date.now`. */
  now?: () => number;
  /** Told about recovered failures (a corrupt index set aside, a failed read); the cache carries on. */
  onWarning?: (message: string, error: unknown) => void;
  /** How long to wait for another process's lock on the index (SQLite's busy timeout), in ms. Default: `5000`. */
  busyTimeoutMs?: number;
}

/** What the cache returns: the prepared image of a stored entry and how the input relates to it. */
export type CachedImage = PreparedImage & { cache: "exact" | "similar" };

/** The input's own facts, stored per SHA-256 so an exact hit can describe that input without decoding it. */
type SourceFacts = Pick<
  PreparedImage,
  "sha256" | "phash" | "sourceWidth" | "sourceHeight" | "sourceFormat" | "sourceBytes"
>;

interface IndexEntry {
  high: number;
  low: number;
  meanColour: MeanColour;
  bytes: number;
  profile: string;
}

interface ImageRow {
  id: number;
  data: Buffer;
  width: number;
  height: number;
}

interface SourceRow {
  image_id: number;
  phash: string;
  source_width: number;
  source_height: number;
  source_format: string;
  source_bytes: number;
}

/**
 * How far a perceptual hit's mean colour may be from the image's. Measured on the bench pictures: a +15%
 * `modulate` brightening moves the summed mean by up to ×1.25 and the chromaticity by up to 0.05; re-encoding
 * and resizing by under ×1.002 and 0.003. The limits leave twice that room, and still part flat pictures of
 * different colours (red and blue are 0.5 apart) or of clearly different brightness.
 */
const maxBrightnessRatio = 1.6;
/** Below this many grey levels (summed over R, G, B) brightness is compared as a difference, not a ratio. */
const maxBrightnessDifference = 150;
const maxChromaticityDistance = 0.12;
/** Under this summed mean, chromaticity is noise and is not compared. */
const minSumForChromaticity = 60;

const schema = `
CREATE TABLE IF NOT EXISTS images (
  id INTEGER PRIMARY KEY,
  profile TEXT NOT NULL,
  phash TEXT NOT NULL,
  mean_red REAL NOT NULL,
  mean_green REAL NOT NULL,
  mean_blue REAL NOT NULL,
  data BLOB NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL
);
-- Covers the total, the LRU order and expiry without reading past the blobs (bytes is stored after data). Indexes
-- made by earlier versions (images_last_used) are left in place.
CREATE INDEX IF NOT EXISTS images_lru ON images (last_used_at, bytes);
CREATE TABLE IF NOT EXISTS sources (
  sha256 TEXT NOT NULL,
  profile TEXT NOT NULL,
  image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  phash TEXT NOT NULL,
  source_width INTEGER NOT NULL,
  source_height INTEGER NOT NULL,
  source_format TEXT NOT NULL,
  source_bytes INTEGER NOT NULL,
  PRIMARY KEY (sha256, profile)
);
CREATE INDEX IF NOT EXISTS sources_image ON sources (image_id);
`;
const schemaVersion = 1;

/** Whether two mean colours could be the same picture, one of them brightened or re-encoded. */
function coloursAgree(a: MeanColour, b: MeanColour): boolean {
  const sumA = a[0] + a[1] + a[2];
  const sumB = b[0] + b[1] + b[2];
  const low = Math.min(sumA, sumB);
  const high = Math.max(sumA, sumB);
  if (high - low > maxBrightnessDifference && high > low * maxBrightnessRatio) return false;
  if (low < minSumForChromaticity) return true;
  const chroma = Math.hypot(a[0] / sumA - b[0] / sumB, a[1] / sumA - b[1] / sumB);
  return chroma <= maxChromaticityDistance;
}

/** Whether SQLite said the file is damaged or not a database at all: the only errors that set the index aside. */
function isCorruption(error: unknown): boolean {
  if (!(error instanceof Database.SqliteError)) return false;
  return ["SQLITE_CORRUPT", "SQLITE_NOTADB"].some(
    (code) => error.code === code || error.code.startsWith(`${code}_`),
  );
}

/**
 * Prepared images on disk, found by the SHA-256 of the input (exact) or by perceptual hash within a Hamming
 * threshold (similar). One SQLite file, `<dir>/index.db` (WAL), holds the WebP blobs and their facts; the
 * perceptual hashes are also kept in memory for the scan. Entries carry a `profile` (the preparation
 * settings), so a change of `maxSidePx` or quality never returns images prepared the old way.
 *
 * A perceptual candidate must also agree in mean colour (brightness within ×1.6 or 150 summed levels,
 * chromaticity within 0.12):
 * the hash sees only grey structure, so a recoloured picture or two flat images of different colours would
 * otherwise match.
 *
 * Other processes may use the same file (`sarai loop` expires entries through its own cache): the database is
 * the truth. Eviction counts the bytes stored there, the in-memory hashes are reloaded when another connection
 * has committed (`PRAGMA data_version`), and an entry found missing on a read is dropped from memory.
 *
 * Only a corrupt file or one that is not a database is renamed aside (`index.db.corrupt-<time>`) and the cache
 * starts empty. Any other failure to open (a lock held past `busyTimeoutMs`, permissions, an index written by a
 * newer SARAi) leaves the file alone and caches in memory only, with a warning. Failed reads later count as
 * misses. Nothing here throws at a chat turn.
 */
export class ImageCache {
  readonly #options: ImageCacheOptions;
  readonly #now: () => number;
  #maxBytes: number;
  #db: Database.Database | undefined;
  readonly #index = new Map<number, IndexEntry>();
  #bytes = 0;
  /** `PRAGMA data_version` when the in-memory index was last in step with the database. */
  #dataVersion = 0;
  #exactHits = 0;
  #similarHits = 0;
  #misses = 0;

  private constructor(options: ImageCacheOptions, db: Database.Database) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#maxBytes = options.maxBytes;
    this.#db = db;
  }

  /** Opens (or creates) the cache in `options.dir`, setting a corrupt index aside. */
  static open(options: ImageCacheOptions): ImageCache {
    mkdirSync(options.dir, { recursive: true });
    const file = path.join(options.dir, "index.db");
    try {
      return ImageCache.#openFile(options, file);
    } catch (error) {
      if (!isCorruption(error)) {
        options.onWarning?.(
          `image cache: cannot open ${file} (${error instanceof Error ? error.message : String(error)}); ` +
            "left it as it is and caching in memory only",
          error,
        );
        return ImageCache.#openFile(options, ":memory:");
      }
      const aside = `${file}.corrupt-${(options.now ?? Date.now)()}`;
      try {
        renameSync(file, aside);
        for (const suffix of ["-wal", "-shm"]) {
          if (existsSync(file + suffix)) renameSync(file + suffix, aside + suffix);
        }
        options.onWarning?.(
          `image cache: the index was unreadable; moved it to ${aside} and started empty`,
          error,
        );
        return ImageCache.#openFile(options, file);
      } catch (second) {
        options.onWarning?.("image cache: cannot use the index on disk; caching in memory only", second);
        return ImageCache.#openFile(options, ":memory:");
      }
    }
  }

  static #openFile(options: ImageCacheOptions, file: string): ImageCache {
    const db = new Database(file, { timeout: options.busyTimeoutMs ?? 5000 });
    try {
      if (file !== ":memory:") db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("foreign_keys = ON");
      const version = db.pragma("user_version", { simple: true }) as number;
      if (version > schemaVersion) {
        throw new Error(
          `the index has schema version ${version}, written by a newer SARAi; this one reads version ${schemaVersion}`,
        );
      }
      if (version === 0) {
        db.transaction(() => {
          db.exec(schema);
          db.pragma(`user_version = ${schemaVersion}`);
        })();
      } else {
        // Indexes added since version 1; a no-op, taking no write lock, once they exist.
        db.exec(schema);
      }
      const cache = new ImageCache(options, db);
      cache.#loadIndex();
      return cache;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Reads the in-memory index from the database, replacing what was there. */
  #loadIndex(): void {
    const db = this.#database();
    // One read transaction: the version and the rows are of the same snapshot, so a commit by another process
    // between them is not taken as seen.
    db.transaction(() => this.#readIndex(db))();
  }

  #readIndex(db: Database.Database): void {
    const version = db.pragma("data_version", { simple: true }) as number;
    // length(data) is read from the row's header; the blob itself is not loaded.
    const rows = db
      .prepare(
        "SELECT id, profile, phash, mean_red, mean_green, mean_blue, length(data) AS bytes FROM images",
      )
      .all() as {
      id: number;
      profile: string;
      phash: string;
      mean_red: number;
      mean_green: number;
      mean_blue: number;
      bytes: number;
    }[];
    this.#index.clear();
    this.#bytes = 0;
    for (const row of rows) {
      const [high, low] = splitHash(row.phash);
      this.#index.set(row.id, {
        high,
        low,
        meanColour: [row.mean_red, row.mean_green, row.mean_blue],
        bytes: row.bytes,
        profile: row.profile,
      });
      this.#bytes += row.bytes;
    }
    this.#dataVersion = version;
  }

  /** Reloads the in-memory index when another connection has committed since it was last in step. */
  #refresh(): void {
    const version = this.#database().pragma("data_version", { simple: true }) as number;
    if (version !== this.#dataVersion) this.#loadIndex();
  }

  #remember(id: number, entry: IndexEntry): void {
    this.#forget(id);
    this.#index.set(id, entry);
    this.#bytes += entry.bytes;
  }

  #forget(id: number): void {
    const entry = this.#index.get(id);
    if (entry === undefined) return;
    this.#index.delete(id);
    this.#bytes -= entry.bytes;
  }

  #database(): Database.Database {
    if (this.#db === undefined) throw new Error("the image cache is closed");
    return this.#db;
  }

  #warn(message: string, error: unknown): void {
    this.#options.onWarning?.(`image cache: ${message}`, error);
  }

  /** The stored image, or `undefined` (and the id dropped from memory) when it is gone, deleted by another process. */
  #readImage(id: number): ImageRow | undefined {
    const row = this.#database()
      .prepare("SELECT id, data, width, height FROM images WHERE id = ?")
      .get(id) as ImageRow | undefined;
    if (row === undefined) this.#forget(id);
    return row;
  }

  #touch(id: number): void {
    this.#database().prepare("UPDATE images SET last_used_at = ? WHERE id = ?").run(this.#now(), id);
  }

  /**
   * The image stored for exactly these input bytes (their SHA-256) under `profile`, without decoding anything.
   * Counts an exact hit; a miss is not counted here, since {@link findSimilar} usually follows.
   */
  getExact(sha256: string, profile: string): CachedImage | undefined {
    if (this.#db === undefined) return undefined;
    try {
      const source = this.#database()
        .prepare(
          "SELECT image_id, phash, source_width, source_height, source_format, source_bytes " +
            "FROM sources WHERE sha256 = ? AND profile = ?",
        )
        .get(sha256, profile) as SourceRow | undefined;
      if (source === undefined) return undefined;
      const image = this.#readImage(source.image_id);
      if (image === undefined) return undefined;
      this.#touch(image.id);
      this.#exactHits += 1;
      return {
        data: image.data,
        mimeType: "image/webp",
        width: image.width,
        height: image.height,
        sourceWidth: source.source_width,
        sourceHeight: source.source_height,
        sourceFormat: source.source_format,
        sourceBytes: source.source_bytes,
        sha256,
        phash: source.phash,
        cache: "exact",
      };
    } catch (error) {
      this.#warn("an exact lookup failed; treating it as a miss", error);
      return undefined;
    }
  }

  /** The stored id nearest to `phash` within the threshold whose mean colour agrees, if any. */
  #nearest(phash: string, meanColour: MeanColour, profile: string): number | undefined {
    const [high, low] = splitHash(phash);
    let best: number | undefined;
    let bestDistance = this.#options.hammingThreshold + 1;
    for (const [id, entry] of this.#index) {
      if (entry.profile !== profile) continue;
      const distance = popcount32(entry.high ^ high) + popcount32(entry.low ^ low);
      if (distance < bestDistance && coloursAgree(entry.meanColour, meanColour)) {
        best = id;
        bestDistance = distance;
      }
    }
    return best;
  }

  /**
   * A stored image perceptually the same as `image` (hash within the threshold, colours agreeing): its prepared
   * bytes and size with `image`'s own source facts. The input's SHA-256 is recorded for that entry, so the same
   * bytes hit exactly next time. Counts a similar hit or a miss.
   */
  findSimilar(
    image: Omit<PreparedImage, "cache">,
    meanColour: MeanColour,
    profile: string,
  ): CachedImage | undefined {
    if (this.#db === undefined) return undefined;
    try {
      this.#refresh();
      // A second try when the nearest entry was deleted by another process in the meantime.
      for (let attempt = 0; attempt < 2; attempt++) {
        const id = this.#nearest(image.phash, meanColour, profile);
        if (id === undefined) break;
        const row = this.#readImage(id);
        if (row === undefined) continue;
        this.#touch(row.id);
        this.#insertSource(row.id, image, profile);
        this.#similarHits += 1;
        return { ...image, data: row.data, width: row.width, height: row.height, cache: "similar" };
      }
      this.#misses += 1;
      return undefined;
    } catch (error) {
      this.#warn("a similarity lookup failed; treating it as a miss", error);
      this.#misses += 1;
      return undefined;
    }
  }

  #insertSource(imageId: number, source: SourceFacts, profile: string): void {
    this.#database()
      .prepare(
        "INSERT OR REPLACE INTO sources (sha256, profile, image_id, phash, source_width, source_height, " +
          "source_format, source_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(
        source.sha256,
        profile,
        imageId,
        source.phash,
        source.sourceWidth,
        source.sourceHeight,
        source.sourceFormat,
        source.sourceBytes,
      );
  }

  /**
   * Stores a prepared image, then evicts least recently used entries while the bytes stored in the database (not
   * only this process's view of them) are over `maxBytes`; one transaction, and memory follows once it commits.
   */
  put(image: Omit<PreparedImage, "cache">, meanColour: MeanColour, profile: string): void {
    if (this.#db === undefined) return;
    const db = this.#database();
    try {
      this.#refresh();
      const now = this.#now();
      const { id, evicted } = db.transaction(() => {
        const result = db
          .prepare(
            "INSERT INTO images (profile, phash, mean_red, mean_green, mean_blue, data, width, height, bytes, " +
              "created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          )
          .run(
            profile,
            image.phash,
            meanColour[0],
            meanColour[1],
            meanColour[2],
            image.data,
            image.width,
            image.height,
            image.data.length,
            now,
            now,
          );
        const inserted = Number(result.lastInsertRowid);
        this.#insertSource(inserted, image, profile);
        return { id: inserted, evicted: this.#evictInTransaction() };
      })();
      const [high, low] = splitHash(image.phash);
      this.#remember(id, { high, low, meanColour, bytes: image.data.length, profile });
      for (const victim of evicted) this.#forget(victim.id);
    } catch (error) {
      this.#warn("storing a prepared image failed; it is not cached", error);
    }
  }

  /** The total WebP bytes kept (as opened, or as {@link setMaxBytes} last set it). */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /**
   * Changes the total WebP bytes kept and evicts the least recently used entries at once while the database holds
   * more (one transaction; memory follows once it commits). Later puts evict against the new bound. Returns what
   * the eviction removed; a `RangeError` for a bound that is not a positive number.
   */
  setMaxBytes(bytes: number): { removed: number; freedBytes: number } {
    if (!(bytes > 0) || !Number.isFinite(bytes))
      throw new RangeError(`maxBytes must be positive, not ${bytes}`);
    this.#maxBytes = bytes;
    if (this.#db === undefined) return { removed: 0, freedBytes: 0 };
    const db = this.#database();
    try {
      this.#refresh();
      const evicted = db.transaction(() => this.#evictInTransaction())();
      let freedBytes = 0;
      for (const victim of evicted) {
        this.#forget(victim.id);
        freedBytes += victim.bytes;
      }
      return { removed: evicted.length, freedBytes };
    } catch (error) {
      this.#warn("evicting down to a new size failed; the next put tries again", error);
      return { removed: 0, freedBytes: 0 };
    }
  }

  /** Deletes least recently used rows while the database's total is over `maxBytes`; returns them. */
  #evictInTransaction(): { id: number; bytes: number }[] {
    const db = this.#database();
    const { total } = db.prepare("SELECT COALESCE(SUM(bytes), 0) AS total FROM images").get() as {
      total: number;
    };
    let over = total - this.#maxBytes;
    if (over <= 0) return [];
    const victims: { id: number; bytes: number }[] = [];
    // Collected first: better-sqlite3 runs nothing else on the connection while a statement iterates.
    const oldest = db
      .prepare("SELECT id, bytes FROM images ORDER BY last_used_at ASC, id ASC")
      .iterate() as IterableIterator<{ id: number; bytes: number }>;
    for (const row of oldest) {
      if (over <= 0) break;
      victims.push({ id: row.id, bytes: row.bytes });
      over -= row.bytes;
    }
    const remove = db.prepare("DELETE FROM images WHERE id = ?");
    for (const { id } of victims) remove.run(id);
    return victims;
  }

  /** Expires entries unused for longer than ttlMs (run by the proactive loop). */
  expire(): { removed: number; freedBytes: number } {
    if (this.#db === undefined) return { removed: 0, freedBytes: 0 };
    try {
      const removed = this.#database()
        .prepare("DELETE FROM images WHERE last_used_at < ? RETURNING id, bytes")
        .all(this.#now() - this.#options.ttlMs) as { id: number; bytes: number }[];
      // The statement has committed; only now does memory follow.
      let freedBytes = 0;
      for (const row of removed) {
        this.#forget(row.id);
        freedBytes += row.bytes;
      }
      return { removed: removed.length, freedBytes };
    } catch (error) {
      this.#warn("expiring entries failed", error);
      return { removed: 0, freedBytes: 0 };
    }
  }

  /**
   * Entries and their WebP bytes as the database holds them (other processes' changes included), and the lookups
   * since the cache was opened. `hitRate` is 0 before any lookup.
   */
  stats(): {
    entries: number;
    bytes: number;
    hits: number;
    misses: number;
    exactHits: number;
    similarHits: number;
    hitRate: number;
  } {
    if (this.#db !== undefined) {
      try {
        this.#refresh();
      } catch (error) {
        this.#warn("reloading the index failed; the counts may be stale", error);
      }
    }
    const hits = this.#exactHits + this.#similarHits;
    return {
      entries: this.#index.size,
      bytes: this.#bytes,
      hits,
      misses: this.#misses,
      exactHits: this.#exactHits,
      similarHits: this.#similarHits,
      hitRate: this.hitRate(),
    };
  }

  /** This process's share of lookups that hit (exact or similar); from counters, without touching the index. */
  hitRate(): number {
    const hits = this.#exactHits + this.#similarHits;
    const lookups = hits + this.#misses;
    return lookups === 0 ? 0 : hits / lookups;
  }

  /** Closes the index; later lookups miss quietly. Idempotent. */
  close(): void {
    const db = this.#db;
    this.#db = undefined;
    db?.close();
  }
}
