import Database from "better-sqlite3";
import { AppError } from "../shared/index.js";
import type { FactQueryResult, FactQueryRunner } from "./skill.js";

/** The name the model's SQL reads: the calling user's facts, and nothing else. */
export const factsViewName = "facts";

/**
 * The columns of the `facts` view the model sees (the real table's user column is not among them). Times are
 * Unix epoch milliseconds; `negated` and `pinned` are 0/1; `valid_to` is null while a fact holds.
 */
export const factsViewColumns = [
  "id",
  "subject",
  "relation",
  "object",
  "negated",
  "confidence",
  "source",
  "when_text",
  "mentions",
  "pinned",
  "created_at",
  "updated_at",
  "valid_to",
] as const;

/** The memory store's real table and the column that holds the user (see `src/memory/migrations.ts`). */
const realTable = "facts";
const userColumn = "user_id";
/** Most references to `facts` in one query: bounds the cost of self-joins, since SQLite cannot be interrupted here. */
const maxFactsReferences = 3;

export interface FactQuerySandboxOptions {
  /** The memory database file; opened read-only, on first use. */
  file: string;
  /** Most rows returned. Default: 200. */
  maxRows?: number;
}

/** Why a statement was refused before it ran. */
export type SqlScopeCheck = { ok: true } | { ok: false; error: string };

interface Token {
  kind: "word" | "quoted" | "string" | "number" | "param" | "punct";
  /** Words and quoted identifiers: lower-case, unquoted. Others: the text. */
  value: string;
  start: number;
  end: number;
}

/**
 * Runs the model's SQL over one user's facts through a read-only connection. Every statement is checked first
 * (`checkSqlScope`) and then runs as `WITH facts AS (SELECT … FROM main.facts WHERE user_id = ?) <query>`:
 * SQLite resolves an unqualified `facts` to the CTE before any table, and a qualified name is refused, so the
 * query sees the calling user's rows only. The connection is opened `readonly` with `query_only`, and the
 * prepared statement must be a read-only reader, so a write could not run even if a check missed it.
 */
export class FactQuerySandbox implements FactQueryRunner {
  readonly #file: string;
  readonly #maxRows: number;
  #db: Database.Database | undefined;
  #disposed = false;

  constructor(options: FactQuerySandboxOptions) {
    this.#file = options.file;
    this.#maxRows = options.maxRows ?? 200;
  }

  run(sql: string, userId: string): FactQueryResult {
    const scoped = scopeToUser(sql, checkedTokens(sql));
    const db = this.#open();
    const statement = prepareReader(db, scoped);
    this.#checkTablesRead(db, scoped);
    return this.#collect(statement, sql, [userId]);
  }

  /**
   * Runs the query on a scratch copy: an in-memory database holding only this user's facts, with the columns of
   * the `facts` view. The live file is only read for the copy; the query itself never touches it. The same
   * checks as `run` come first (one read-only SELECT, no write words, no other tables).
   */
  dryRun(sql: string, userId: string): FactQueryResult {
    checkedTokens(sql);
    const columnList = factsViewColumns.join(", ");
    const copy = this.#open()
      .prepare(`SELECT ${columnList} FROM main.${realTable} WHERE ${userColumn} = ?`)
      .raw(true)
      .all(userId) as unknown[][];
    const scratch = new Database(":memory:");
    try {
      scratch.exec(`CREATE TABLE ${factsViewName} (${columnList})`);
      const insert = scratch.prepare(
        `INSERT INTO ${factsViewName} VALUES (${factsViewColumns.map(() => "?").join(", ")})`,
      );
      scratch.transaction(() => {
        for (const row of copy) insert.run(row);
      })();
      scratch.pragma("query_only = ON");
      return this.#collect(prepareReader(scratch, sql), sql, []);
    } finally {
      scratch.close();
    }
  }

  /** Up to `maxRows` rows of a checked statement, as arrays; a failure while reading is a refusal. */
  #collect(statement: Database.Statement, sql: string, params: unknown[]): FactQueryResult {
    statement.raw(true);
    const columns = statement.columns().map((column) => column.name);
    const rows: unknown[][] = [];
    let truncated = false;
    try {
      for (const row of statement.iterate(...params) as IterableIterator<unknown[]>) {
        if (rows.length === this.#maxRows) {
          truncated = true;
          break;
        }
        rows.push(row);
      }
    } catch (error) {
      throw refuse(`the query failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    return { sql: sql.trim(), columns, rows, truncated };
  }

  /** Closes the read-only connection; idempotent. */
  dispose(): void {
    this.#disposed = true;
    this.#db?.close();
    this.#db = undefined;
  }

  #open(): Database.Database {
    if (this.#disposed) throw new AppError("STORE_FAILED", "the fact query sandbox is disposed");
    if (this.#db !== undefined) return this.#db;
    try {
      const db = new Database(this.#file, { readonly: true, fileMustExist: true });
      db.pragma("busy_timeout = 5000");
      db.pragma("query_only = ON");
      this.#db = db;
      return db;
    } catch (error) {
      throw new AppError(
        "STORE_FAILED",
        `cannot open the memory database read-only: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * Belt and braces for the allow-list: the compiled program may open only the facts table and its indexes in
   * the main database (`OpenRead` p2 is a root page, p3 the database).
   */
  #checkTablesRead(db: Database.Database, scoped: string): void {
    // Read each time: VACUUM (sarai memory vacuum) may move the table to other pages.
    const allowedRootPages = new Set(
      (
        db
          .prepare(
            "SELECT rootpage FROM main.sqlite_master WHERE tbl_name = ? AND type IN ('table', 'index')",
          )
          .all(realTable) as { rootpage: number }[]
      ).map((row) => row.rootpage),
    );
    const program = db.prepare(`EXPLAIN ${scoped}`).all("") as {
      opcode: string;
      p2: number;
      p3: number;
    }[];
    for (const op of program) {
      if (op.opcode === "OpenWrite") throw refuse("only a read-only SELECT may run");
      if (
        (op.opcode === "OpenRead" || op.opcode === "ReopenIdx") &&
        (op.p3 !== 0 || !allowedRootPages.has(op.p2))
      )
        throw refuse("the query reads a table that is not allowed");
    }
  }
}

/** The query's tokens once the lexical checks passed (one read-only statement, nothing forbidden). */
function checkedTokens(sql: string): Token[] {
  const tokens = tokenize(sql);
  if (tokens === undefined) throw refuse("the SQL has an unterminated string, identifier or comment");
  const check = checkTokens(tokens);
  if (!check.ok) throw refuse(check.error);
  return tokens;
}

/** Prepares `sql` and makes sure SQLite sees a read-only reader. */
function prepareReader(db: Database.Database, sql: string): Database.Statement {
  let statement: Database.Statement;
  try {
    statement = db.prepare(sql);
  } catch (error) {
    throw refuse(`SQLite rejected the query: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!statement.reader || !statement.readonly) throw refuse("only a read-only SELECT may run");
  return statement;
}

function refuse(message: string): AppError {
  return new AppError("INVALID_REQUEST", message, { param: "sql" });
}

/** The checks `FactQuerySandbox.run` makes before it prepares anything; exported for tests and the validator. */
export function checkSqlScope(sql: string): SqlScopeCheck {
  const tokens = tokenize(sql);
  if (tokens === undefined)
    return { ok: false, error: "the SQL has an unterminated string, identifier or comment" };
  return checkTokens(tokens);
}

/** The names of the CTEs a query defines (`WITH name AS (…)`), lower-case. */
export function definedCteNames(sql: string): string[] {
  const tokens = tokenize(sql) ?? [];
  return tokens
    .filter((token, i) => (token.kind === "word" || token.kind === "quoted") && isCteName(tokens, i))
    .map((token) => token.value);
}

const forbiddenWords = new Set([
  "insert",
  "update",
  "delete",
  "replace",
  "upsert",
  "drop",
  "alter",
  "create",
  "attach",
  "detach",
  "pragma",
  "vacuum",
  "reindex",
  "analyze",
  "begin",
  "commit",
  "rollback",
  "savepoint",
  "release",
  "recursive",
  "load_extension",
  // Blobs of any size from nothing: randomblob(2e8) takes a second and 600 MB on the server's thread.
  "randomblob",
  "zeroblob",
  "readfile",
  "writefile",
]);
const forbiddenSchemas = new Set(["main", "temp", "temporary"]);

function checkTokens(tokens: readonly Token[]): SqlScopeCheck {
  const body = trimTrailingSemicolons(tokens);
  if (body.length === 0) return { ok: false, error: "the SQL is empty" };
  const first = body[0] as Token;
  if (first.kind !== "word" || (first.value !== "select" && first.value !== "with"))
    return { ok: false, error: "only a SELECT (or WITH … SELECT) query may run" };
  const cteNames = new Set<string>();
  let factsReferences = 0;
  for (let i = 0; i < body.length; i++) {
    const token = body[i] as Token;
    if (token.kind === "punct" && token.value === ";")
      return { ok: false, error: "only one statement may run" };
    if (token.kind === "param") return { ok: false, error: "the SQL may not have parameters" };
    // SQLite takes a string literal for a name where a name must stand ('main'.facts): never beside a dot.
    if (token.kind === "string" && (isPunct(body[i - 1], ".") || isPunct(body[i + 1], ".")))
      return { ok: false, error: "a quoted string may not name a schema, table or column" };
    if (token.kind !== "word" && token.kind !== "quoted") continue;
    const name = token.value;
    if (token.kind === "word" && forbiddenWords.has(name))
      return { ok: false, error: `${name.toUpperCase()} is not allowed in a read-only query` };
    if (forbiddenSchemas.has(name) || name.startsWith("sqlite_") || name.startsWith("pragma_"))
      return { ok: false, error: `"${name}" is not allowed: the query may read only the facts table` };
    if (name === factsViewName) factsReferences++;
    if (isCteName(body, i)) cteNames.add(name);
  }
  if (factsReferences > maxFactsReferences)
    return { ok: false, error: `facts may appear at most ${maxFactsReferences} times in one query` };
  for (const table of referencedTables(body)) {
    if (table !== factsViewName && !cteNames.has(table))
      return { ok: false, error: `table "${table}" is not allowed: the query may read only facts` };
  }
  if (cteNames.has(factsViewName)) return { ok: false, error: "the query may not define its own facts" };
  return { ok: true };
}

/** `name AS (` or `name (cols) AS (` right after WITH or a comma. */
function isCteName(tokens: readonly Token[], index: number): boolean {
  const previous = tokens[index - 1];
  if (previous === undefined || !(isWord(previous, "with") || isPunct(previous, ","))) return false;
  let next = index + 1;
  if (isPunct(tokens[next], "(")) {
    while (next < tokens.length && !isPunct(tokens[next], ")")) next++;
    next++;
  }
  const after = tokens[next + 1];
  return (
    isWord(tokens[next], "as") &&
    (isPunct(after, "(") || isWord(after, "materialized") || isWord(after, "not"))
  );
}

const clauseEnds = new Set([
  "where",
  "group",
  "order",
  "limit",
  "having",
  "window",
  "union",
  "except",
  "intersect",
  "on",
  "using",
  "select",
]);

/** Names right after FROM or JOIN, and after a comma of a FROM list, at any nesting depth. */
function referencedTables(tokens: readonly Token[]): string[] {
  const tables: string[] = [];
  const inFrom = new Map<number, boolean>();
  let depth = 0;
  // A string literal after FROM is a table name to SQLite ('facts'), so it is checked like one.
  const isName = (token: Token | undefined) =>
    token?.kind === "word" || token?.kind === "quoted" || token?.kind === "string";
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as Token;
    const next = tokens[i + 1];
    if (isPunct(token, "(")) depth++;
    else if (isPunct(token, ")")) {
      inFrom.delete(depth);
      depth--;
    } else if (isWord(token, "from") || isWord(token, "join")) {
      inFrom.set(depth, true);
      if (isName(next)) tables.push(nameOf(next as Token));
    } else if (isPunct(token, ",") && inFrom.get(depth) === true) {
      if (isName(next)) tables.push(nameOf(next as Token));
    } else if (token.kind === "word" && clauseEnds.has(token.value)) inFrom.set(depth, false);
  }
  return tables;
}

/** A name token's name; a string literal standing for a name is unquoted and lower-cased. */
function nameOf(token: Token): string {
  return token.kind === "string" ? token.value.slice(1, -1).replaceAll("''", "'").toLowerCase() : token.value;
}

/** Wraps the query so that `facts` is the user's rows: merged into the query's own WITH when it has one. */
function scopeToUser(sql: string, tokens: readonly Token[]): string {
  const columns = factsViewColumns.join(", ");
  const cte = `${factsViewName} AS (SELECT ${columns} FROM main.${realTable} WHERE ${userColumn} = ?)`;
  const body = trimTrailingSemicolons(tokens);
  const first = body[0] as Token;
  const last = body.at(-1) as Token;
  if (first.value === "with") return `WITH ${cte}, ${sql.slice(first.end, last.end).trim()}`;
  return `WITH ${cte} ${sql.slice(first.start, last.end)}`;
}

function trimTrailingSemicolons(tokens: readonly Token[]): Token[] {
  let end = tokens.length;
  while (end > 0 && isPunct(tokens[end - 1], ";")) end--;
  return tokens.slice(0, end);
}

function isWord(token: Token | undefined, word: string): boolean {
  return token?.kind === "word" && token.value === word;
}

function isPunct(token: Token | undefined, punct: string): boolean {
  return token?.kind === "punct" && token.value === punct;
}

/** SQLite's lexical grammar, enough to find words, quoted names and parameters outside strings and comments. */
function tokenize(sql: string): Token[] | undefined {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (sql.startsWith("--", i)) {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? sql.length : end + 1;
      continue;
    }
    if (sql.startsWith("/*", i)) {
      const end = sql.indexOf("*/", i + 2);
      if (end === -1) return undefined;
      i = end + 2;
      continue;
    }
    const start = i;
    if (c === "'" || ((c === "x" || c === "X") && sql[i + 1] === "'")) {
      const end = closeQuote(sql, c === "'" ? i : i + 1, "'");
      if (end === undefined) return undefined;
      tokens.push({ kind: "string", value: sql.slice(start, end), start, end });
      i = end;
      continue;
    }
    if (c === '"' || c === "`" || c === "[") {
      const end = c === "[" ? sql.indexOf("]", i) + 1 : closeQuote(sql, i, c);
      if (end === undefined || end === 0) return undefined;
      const inner = sql.slice(i + 1, end - 1);
      const value = c === "[" ? inner : inner.replaceAll(c + c, c);
      tokens.push({ kind: "quoted", value: value.toLowerCase(), start, end });
      i = end;
      continue;
    }
    const word = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/.exec(sql.slice(i));
    if (word !== null) {
      i += word[0].length;
      tokens.push({ kind: "word", value: word[0].toLowerCase(), start, end: i });
      continue;
    }
    const number = /^(?:0x[0-9a-f]+|\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?)/i.exec(sql.slice(i));
    if (number !== null) {
      i += number[0].length;
      tokens.push({ kind: "number", value: number[0], start, end: i });
      continue;
    }
    if (c === "?" || c === ":" || c === "@" || c === "$") {
      const param = /^[?:@$][A-Za-z0-9_]*/.exec(sql.slice(i));
      i += param?.[0].length ?? 1;
      tokens.push({ kind: "param", value: sql.slice(start, i), start, end: i });
      continue;
    }
    const two = sql.slice(i, i + 2);
    const punct = ["||", "<=", ">=", "==", "!=", "<>", "<<", ">>", "->"].includes(two) ? two : c;
    i += punct.length;
    tokens.push({ kind: "punct", value: punct, start, end: i });
  }
  return tokens;
}

/** The index after the quote that closes the one at `open` (a doubled quote is an escaped one). */
function closeQuote(sql: string, open: number, quote: string): number | undefined {
  let i = open + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return undefined;
}
