import sqlParser from "node-sql-parser";
import type { ValidationResult } from "./validation-result.js";

const parser = new sqlParser.Parser();

/** Words that only write, change the schema or the connection: refused anywhere outside a string literal. */
const forbiddenWords = [
  "insert", "update", "delete", "replace", "upsert", "merge", "drop", "alter", "create", "attach", "detach",
  "pragma", "vacuum", "reindex", "analyze", "begin", "commit", "rollback", "savepoint", "release",
  "truncate", "into", "returning", "grant", "revoke", "load_extension", "readfile", "writefile", "edit",
  "fts3_tokenizer", "zipfile", "sqlar_compress", "sqlar_uncompress",
]; // prettier-ignore
const forbiddenWord = new RegExp(`(?<![\\w$])(${forbiddenWords.join("|")})(?![\\w$])`, "i");
/** SQLite's internal tables and pragma table-valued functions. */
const internalName = /(?<![\w$])(sqlite_|pragma_)\w*/i;

/**
 * Checks that `text` is exactly one read-only SQLite query and returns the tables it reads, lower-cased,
 * without its CTE names (a schema-qualified table stays qualified: `main.facts`), so a caller can restrict
 * tables. The query is parsed by node-sql-parser (SQLite dialect) and must be a single `SELECT` (`WITH`
 * allowed). Defence in depth, before parsing and outside string literals: no `;` but one at the very end, no
 * comments (`--`, `/*`, `#`: the grammar never writes one, and parsers disagree on them), no write, DDL,
 * transaction or PRAGMA keyword (`INTO`, `RETURNING` and `REPLACE` — the function too — included), none of
 * `load_extension`, `readfile`, `writefile`, `edit`, and no name starting with `sqlite_` or `pragma_`
 * (`sqlite_master` and `pragma_table_info(…)` are refused: queries read the user's tables only).
 */
export function validateReadOnlySql(text: string): ValidationResult {
  const sql = text.trim();
  if (sql === "") return { ok: false, error: "the query is empty" };
  const code = stripStringLiterals(sql);
  if (code === undefined) return { ok: false, error: "a string literal is not closed" };
  const body = code.replace(/;\s*$/, "");
  const separator = body.indexOf(";");
  if (separator >= 0)
    return {
      ok: false,
      error: `only one statement is allowed: ';' ${where(body, separator)} ends the first`,
    };
  const comment = /--|\/\*|#/.exec(body);
  if (comment !== null)
    return { ok: false, error: `comments are not allowed ('${comment[0]}' ${where(body, comment.index)})` };
  const word = forbiddenWord.exec(body);
  if (word !== null)
    return {
      ok: false,
      error: `'${word[1] ?? ""}' ${where(body, word.index)} is not allowed: only read-only SELECT queries run`,
    };
  const internal = internalName.exec(body);
  if (internal !== null)
    return { ok: false, error: `'${internal[0]}' ${where(body, internal.index)} is an internal SQLite name` };

  let parsed: ReturnType<typeof parser.parse>;
  try {
    parsed = parser.parse(sql, { database: "sqlite" });
  } catch (error) {
    const location = (error as { location?: { start?: { line?: number; column?: number } } }).location?.start;
    const at = location?.line === undefined ? "" : `line ${location.line}, column ${location.column ?? 0}: `;
    return { ok: false, error: `the SQL does not parse: ${at}${(error as Error).message}` };
  }
  const statements = Array.isArray(parsed.ast) ? parsed.ast : [parsed.ast];
  if (statements.length !== 1) return { ok: false, error: "only one statement is allowed" };
  const statement = statements[0] as { type?: string } | undefined;
  if (statement?.type !== "select")
    return {
      ok: false,
      error: `only SELECT queries are allowed, not ${statement?.type?.toUpperCase() ?? "this"}`,
    };
  const ctes = new Set<string>();
  collectCteNames(statement, ctes);
  const tables = new Set<string>();
  for (const entry of parsed.tableList) {
    const [operation, schema, table] = entry.split("::");
    if (operation !== "select")
      return { ok: false, error: `only reads are allowed (${operation ?? "?"} on ${table ?? "?"})` };
    if (table === undefined) continue;
    const name = table.toLowerCase();
    if (schema !== undefined && schema !== "null") tables.add(`${schema.toLowerCase()}.${name}`);
    else if (!ctes.has(name)) tables.add(name);
  }
  return { ok: true, value: { tables: [...tables].sort() } };
}

/** `text` with every single-quoted literal emptied to `''` (so `;` or `DROP` in a value is not code). */
function stripStringLiterals(text: string): string | undefined {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const ch = text[i] ?? "";
    if (ch !== "'") {
      out += ch;
      i++;
      continue;
    }
    let j = i + 1;
    for (;;) {
      if (j >= text.length) return undefined;
      if (text[j] === "'") {
        if (text[j + 1] === "'") j += 2;
        else break;
      } else j++;
    }
    out += "'" + " ".repeat(j - i - 1) + "'";
    i = j + 1;
  }
  return out;
}

/** "at line L, column C" for an offset (the literal-stripped text keeps every offset). */
function where(text: string, offset: number): string {
  const lines = text.slice(0, offset).split("\n");
  return `at line ${lines.length}, column ${(lines.at(-1)?.length ?? 0) + 1}`;
}

function collectCteNames(node: unknown, into: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) collectCteNames(item, into);
    return;
  }
  if (typeof node !== "object" || node === null) return;
  const record = node as Record<string, unknown>;
  if (Array.isArray(record.with)) {
    for (const cte of record.with as { name?: { value?: unknown } | string }[]) {
      const name = typeof cte.name === "string" ? cte.name : cte.name?.value;
      if (typeof name === "string") into.add(name.toLowerCase());
    }
  }
  for (const value of Object.values(record)) collectCteNames(value, into);
}
