import type Database from "better-sqlite3";
import { openSqliteStore } from "../shared/index.js";
import type { RepairRecord } from "./types.js";

interface Row {
  id: number;
  fault: string;
  target: string;
  level: number;
  action: string;
  result: string;
  summary: string;
  evidence: string;
  detail: string;
  started_at: number;
  finished_at: number;
  rolled_back: number;
}

/** Every repair tried, with its evidence and outcome, in SQLite (`<repair.dir>/repair.db`). */
export class RepairHistory {
  readonly #db: Database.Database;
  #closed = false;

  private constructor(db: Database.Database) {
    this.#db = db;
    db.exec(`CREATE TABLE IF NOT EXISTS repairs (
      id INTEGER PRIMARY KEY,
      fault TEXT NOT NULL,
      target TEXT NOT NULL,
      level INTEGER NOT NULL,
      action TEXT NOT NULL,
      result TEXT NOT NULL,
      summary TEXT NOT NULL,
      evidence TEXT NOT NULL,
      detail TEXT NOT NULL,
      started_at INTEGER NOT NULL,
      finished_at INTEGER NOT NULL,
      rolled_back INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS repairs_by_time ON repairs (started_at);
    CREATE TABLE IF NOT EXISTS model_hashes (
      file TEXT PRIMARY KEY,
      size INTEGER NOT NULL,
      mtime_ms REAL NOT NULL,
      sha256 TEXT NOT NULL
    );`);
  }

  static open(file: string): RepairHistory {
    return openSqliteStore(file, "repair history", (db) => new RepairHistory(db));
  }

  add(record: Omit<RepairRecord, "id">): RepairRecord {
    const { id } = this.#db
      .prepare<unknown[], { id: number }>(
        `INSERT INTO repairs (fault, target, level, action, result, summary, evidence, detail, started_at,
           finished_at, rolled_back) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      )
      .get(
        record.fault,
        record.target,
        record.level,
        record.action,
        record.result,
        record.summary,
        JSON.stringify(record.evidence),
        record.detail,
        record.startedAt,
        record.finishedAt,
        record.rolledBack ? 1 : 0,
      ) as { id: number };
    return { ...record, id };
  }

  /** Newest first. */
  list(options: { limit?: number; since?: number } = {}): RepairRecord[] {
    return this.#db
      .prepare<unknown[], Row>("SELECT * FROM repairs WHERE started_at >= ? ORDER BY id DESC LIMIT ?")
      .all(options.since ?? 0, options.limit ?? 100)
      .map(toRecord);
  }

  /** The SHA-256 hashed earlier for `file` when its size and modification time are still the ones hashed. */
  knownHash(file: string, size: number, mtimeMs: number): string | undefined {
    return this.#db
      .prepare<[string, number, number], { sha256: string }>(
        "SELECT sha256 FROM model_hashes WHERE file = ? AND size = ? AND mtime_ms = ?",
      )
      .get(file, size, mtimeMs)?.sha256;
  }

  rememberHash(file: string, size: number, mtimeMs: number, sha256: string): void {
    this.#db
      .prepare(
        `INSERT INTO model_hashes (file, size, mtime_ms, sha256) VALUES (?, ?, ?, ?)
         ON CONFLICT (file) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, sha256 = excluded.sha256`,
      )
      .run(file, size, mtimeMs, sha256);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

function toRecord(row: Row): RepairRecord {
  return {
    id: row.id,
    fault: row.fault as RepairRecord["fault"],
    target: row.target,
    level: row.level as RepairRecord["level"],
    action: row.action,
    result: row.result as RepairRecord["result"],
    summary: row.summary,
    evidence: JSON.parse(row.evidence) as RepairRecord["evidence"],
    detail: row.detail,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    rolledBack: row.rolled_back === 1,
  };
}
