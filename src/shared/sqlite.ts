import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { AppError } from "./errors.js";

/**
 * Opens a store's SQLite file: its folder created owner-only, WAL, a 5 s wait on a lock, then `build` (the store's
 * schema and statements). Any failure on the way is `STORE_FAILED` naming `what` and the file.
 */
export function openSqliteStore<T>(file: string, what: string, build: (db: Database.Database) => T): T {
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.pragma("busy_timeout = 5000");
    return build(db);
  } catch (error) {
    throw new AppError("STORE_FAILED", `the ${what} ${file} cannot be opened`, { cause: error });
  }
}
