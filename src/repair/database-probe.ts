import { open } from "node:fs/promises";
import Database from "better-sqlite3";
import type { DatabaseProbe } from "./types.js";

const sqliteHeader = "SQLite format 3\u0000";
const busyCodes = new Set(["SQLITE_BUSY", "SQLITE_LOCKED"]);

/**
 * Checks one SQLite file without waiting on anyone: its header, then `PRAGMA quick_check` on a read-only
 * connection with no busy timeout. A lock held by another connection reads as `busy`, never as a wait.
 */
export async function probeDatabase(name: string, file: string): Promise<DatabaseProbe> {
  const base = { name, file };
  let header: string;
  try {
    const handle = await open(file, "r");
    try {
      const buffer = Buffer.alloc(16);
      const { bytesRead } = await handle.read(buffer, 0, 16, 0);
      header = buffer.subarray(0, bytesRead).toString("latin1");
    } finally {
      await handle.close();
    }
  } catch {
    return { ...base, status: "missing", detail: `${file} cannot be read` };
  }
  // An empty file is a database SQLite has not written yet.
  if (header.length > 0 && header !== sqliteHeader)
    return { ...base, status: "corrupt", detail: "the file does not start with the SQLite header" };
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 0 });
    const rows = db.pragma("quick_check(1)") as { quick_check: string }[];
    const verdict = rows[0]?.quick_check ?? "ok";
    return verdict === "ok"
      ? { ...base, status: "ok", detail: "quick_check ok" }
      : { ...base, status: "corrupt", detail: `quick_check: ${verdict}` };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    if (typeof code === "string" && busyCodes.has(code))
      return { ...base, status: "busy", detail: `another connection holds a lock (${code})` };
    return { ...base, status: "corrupt", detail: `${typeof code === "string" ? `${code}: ` : ""}${message}` };
  } finally {
    db?.close();
  }
}
