import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { AppError } from "../shared/index.js";

export interface SearchCacheOptions {
  /** The SQLite file (created with its folder). */
  file: string;
  /** How long an entry is served, in ms; 0 caches nothing. */
  ttlMs: number;
  /** The clock, in ms since the epoch. Default: `Date.now`. */
  now?: () => number;
}

/** A query's answer cached in SQLite for `ttlMs`: the JSON the caller stored, keyed by the normalised query. */
export class SearchCache {
  readonly #db: Database.Database;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #get: Database.Statement<[string, number], { value: string }>;
  readonly #put: Database.Statement<[string, string, number]>;
  readonly #expire: Database.Statement<[number]>;
  #closed = false;

  private constructor(db: Database.Database, options: SearchCacheOptions) {
    this.#db = db;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    db.exec(
      "CREATE TABLE IF NOT EXISTS search_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL, stored_at INTEGER NOT NULL)",
    );
    this.#get = db.prepare("SELECT value FROM search_cache WHERE key = ? AND stored_at > ?");
    this.#put = db.prepare(
      "INSERT INTO search_cache (key, value, stored_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, stored_at = excluded.stored_at",
    );
    this.#expire = db.prepare("DELETE FROM search_cache WHERE stored_at <= ?");
  }

  static open(options: SearchCacheOptions): SearchCache {
    try {
      mkdirSync(path.dirname(options.file), { recursive: true });
      const db = new Database(options.file);
      db.pragma("journal_mode = WAL");
      return new SearchCache(db, options);
    } catch (error) {
      throw new AppError("STORE_FAILED", `the search cache ${options.file} cannot be opened`, {
        cause: error,
      });
    }
  }

  /** The cached value for `key`, or undefined when absent or older than the TTL. */
  get<T>(key: string): T | undefined {
    if (this.#ttlMs === 0) return undefined;
    const row = this.#get.get(normalizeKey(key), this.#now() - this.#ttlMs);
    return row === undefined ? undefined : (JSON.parse(row.value) as T);
  }

  set(key: string, value: unknown): void {
    if (this.#ttlMs === 0) return;
    const now = this.#now();
    this.#put.run(normalizeKey(key), JSON.stringify(value), now);
    this.#expire.run(now - this.#ttlMs);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

/** Case and spacing do not make another query. */
function normalizeKey(key: string): string {
  return key.normalize("NFC").trim().replace(/\s+/g, " ").toLowerCase();
}
