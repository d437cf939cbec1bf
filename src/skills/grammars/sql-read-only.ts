import { identifierRules, keyword as k, oneTo, upTo } from "./gbnf.js";

/**
 * SQLite's keywords (https://sqlite.org/lang_keywords.html) plus a few that node-sql-parser reserves: no bare
 * identifier the grammar writes is one of them, so `FROM t as` or a column named `from` cannot happen.
 */
export const sqlKeywords: readonly string[] = [
  "abort", "action", "add", "after", "all", "alter", "always", "analyze", "and", "as", "asc", "attach",
  "autoincrement", "before", "begin", "between", "by", "cascade", "case", "cast", "check", "collate", "column",
  "commit", "conflict", "constraint", "create", "cross", "current", "current_date", "current_time",
  "current_timestamp", "database", "default", "deferrable", "deferred", "delete", "desc", "detach", "distinct",
  "do", "drop", "each", "else", "end", "escape", "except", "exclude", "exclusive", "exists", "explain", "fail",
  "filter", "first", "following", "for", "foreign", "from", "full", "generated", "glob", "group", "groups",
  "having", "if", "ignore", "immediate", "in", "index", "indexed", "initially", "inner", "insert", "instead",
  "intersect", "into", "is", "isnull", "join", "key", "last", "left", "like", "limit", "match", "materialized",
  "natural", "no", "not", "nothing", "notnull", "null", "nulls", "of", "offset", "on", "or", "order", "others",
  "outer", "over", "partition", "plan", "pragma", "preceding", "primary", "query", "raise", "range", "recursive",
  "references", "regexp", "reindex", "release", "rename", "replace", "restrict", "returning", "right",
  "rollback", "row", "rows", "savepoint", "select", "set", "table", "temp", "temporary", "then", "ties", "to",
  "transaction", "trigger", "true", "false", "unbounded", "union", "unique", "update", "using", "vacuum",
  "values", "view", "virtual", "when", "where", "window", "with", "without", "div", "mod", "interval", "unknown",
  "show", "truncate", "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer",
]; // prettier-ignore

/**
 * Functions a query typically calls (aggregates and side-effect-free scalar functions). The grammar lets a query
 * call any name that is not a keyword — `load_extension`, `readfile`, `writefile`, `edit` and `fts3_tokenizer`
 * are keywords here, so it never writes them — and SQLite refuses an unknown function when the query runs.
 */
export const sqlFunctions: readonly string[] = [
  "count", "sum", "avg", "min", "max", "total", "group_concat", "lower", "upper", "length", "substr", "trim",
  "ltrim", "rtrim", "coalesce", "ifnull", "nullif", "abs", "round", "instr", "date", "time", "datetime",
  "julianday", "strftime", "unixepoch", "typeof",
]; // prettier-ignore

export interface SqlGrammarOptions {
  /** Longest identifier, in characters. Unbounded when omitted. */
  maxIdentifierLength?: number;
  /** Longest string literal, in characters. Unbounded when omitted. */
  maxStringLength?: number;
  /** Most digits of a number on each side of the point. Default 12. */
  maxDigits?: number;
  /** Most items in each list (columns, joins, terms of AND/OR, GROUP BY, ORDER BY, IN, arguments). Default 8. */
  maxItems?: number;
  /** Deepest nesting of parenthesised expressions. Default 3. */
  maxExpressionDepth?: number;
  /** Deepest nesting of subqueries (in FROM, IN, scalar subqueries; CTE bodies count as one level). Default 2. */
  maxSubqueryDepth?: number;
}

/**
 * A GBNF grammar for one read-only SQLite query: `SELECT` (or `WITH … SELECT`) with an optional trailing `;`
 * and nothing after it. Column lists, `*`, `t.*`, aliases, FROM with joins and subqueries, WHERE with
 * comparisons, LIKE, IN, BETWEEN, IS [NOT] NULL, AND/OR/NOT, GROUP BY/HAVING, UNION [ALL], ORDER
 * BY, LIMIT/OFFSET, and function calls (see `sqlFunctions`). No write, DDL, PRAGMA, ATTACH or second statement
 * can be written, identifiers are never keywords and never start with `sqlite_` or `pragma_`. Keywords are
 * case-insensitive; string literals use `''` for a quote and hold no backslash. INTERSECT and EXCEPT are left
 * out because node-sql-parser's SQLite dialect (what `validateReadOnlySql` parses with) does not know them.
 */
export function createSqlReadOnlyGrammar(options: SqlGrammarOptions = {}): string {
  const {
    maxIdentifierLength,
    maxStringLength,
    maxDigits = 12,
    maxItems = 8,
    maxExpressionDepth = 3,
    maxSubqueryDepth = 2,
  } = options;
  const more = upTo(maxItems - 1);
  const rules: string[] = [
    `root ::= query0 ( ws ";" )? ws`,
    `ws ::= [ \\t\\n]{0,3}`,
    `sp ::= [ \\t\\n]{1,3}`,
    `string ::= "'" ( [^'\\\\\\x00-\\x1F\\x7F] | "''" )${upTo(maxStringLength)} "'"`,
    `number ::= [0-9]${oneTo(maxDigits)} ( "." [0-9]${oneTo(maxDigits)} )?`,
    `literal ::= string | "-"? number | ${k("null")}`,
    `cmp ::= "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="`,
    `arith ::= "+" | "-" | "*" | "/" | "%" | "||"`,
    `alias ::= ( ${k("as")} sp )? ident`,
    `direction ::= sp ( ${k("asc")} | ${k("desc")} )`,
    identifierRules({
      name: "ident",
      exclude: sqlKeywords,
      excludePrefixes: ["sqlite_", "pragma_"],
      caseInsensitive: true,
      maxLength: maxIdentifierLength,
    }),
  ];
  for (let q = 0; q <= maxSubqueryDepth; q++) {
    const sub = q < maxSubqueryDepth ? `query${q + 1}` : undefined;
    const cteBody = sub ?? `core${q}`;
    rules.push(
      `query${q} ::= ( ${k("with")} sp cte${q} ( ws "," ws cte${q} )${upTo(2)} sp )? core${q} ` +
        `( sp ${k("union")} ( sp ${k("all")} )? sp core${q} )${upTo(2)} ` +
        `( sp ${k("order")} sp ${k("by")} sp e${q}x0 direction? ( ws "," ws e${q}x0 direction? )${more} )? ` +
        `( sp ${k("limit")} sp number ( sp ${k("offset")} sp number )? )?`,
      `cte${q} ::= ident sp ${k("as")} ws "(" ws ${cteBody} ws ")"`,
      `core${q} ::= ${k("select")} sp ( ${k("distinct")} sp )? col${q} ( ws "," ws col${q} )${more} ` +
        `( sp ${k("from")} sp source${q} ( join${q} )${upTo(Math.min(maxItems, 3))} )? ` +
        `( sp ${k("where")} sp e${q}x0 )? ` +
        `( sp ${k("group")} sp ${k("by")} sp e${q}x0 ( ws "," ws e${q}x0 )${more} ( sp ${k("having")} sp e${q}x0 )? )?`,
      `col${q} ::= "*" | ident "." "*" | e${q}x0 ( sp alias )?`,
      `source${q} ::= ident ( sp alias )?${sub === undefined ? "" : ` | "(" ws ${sub} ws ")" ( sp alias )?`}`,
      `join${q} ::= ws "," ws source${q} | sp ( ( ${k("left")} ( sp ${k("outer")} )? | ${k("inner")} | ${k("cross")} ) sp )? ` +
        `${k("join")} sp source${q} ( sp ${k("on")} sp e${q}x0 )?`,
    );
    for (let e = 0; e <= maxExpressionDepth; e++) {
      const p = `e${q}x${e}`;
      const deeper = e < maxExpressionDepth ? `e${q}x${e + 1}` : undefined;
      const not = `( ${k("not")} sp )?`;
      const inList =
        sub === undefined
          ? `${p}s ( ws "," ws ${p}s )${more}`
          : `( ${sub} | ${p}s ( ws "," ws ${p}s )${more} )`;
      rules.push(
        `${p} ::= ${not}${p}p ( sp ( ${k("and")} | ${k("or")} ) sp ${not}${p}p )${more}`,
        `${p}p ::= ${p}s ( ws cmp ws ${p}s | sp ${not}${k("like")} sp ${p}s | sp ${not}${k("in")} ws "(" ws ${inList} ws ")" ` +
          `| sp ${k("is")} sp ${not}${k("null")} | sp ${not}${k("between")} sp ${p}s sp ${k("and")} sp ${p}s )?`,
        `${p}s ::= ${p}a ( sp arith sp ${p}a )${upTo(3)}`,
        // A call is a name followed by "(": one set of identifier stacks serves columns and functions, which
        // halves the grammar's per-token cost on a large vocabulary (compared with a list of function names).
        `${p}a ::= literal | ident ( "." ident | ws "(" ws ( "*" | ( ${k("distinct")} sp )? ${p}s ( ws "," ws ${p}s )${upTo(3)} )? ws ")" )?` +
          (deeper === undefined ? "" : ` | "(" ws ${deeper} ws ")"`) +
          (sub === undefined ? "" : ` | "(" ws ${sub} ws ")"`),
      );
    }
  }
  return rules.join("\n");
}

/** The read-only SQL grammar with its default bounds (identifiers and strings unbounded): for real use. */
export const sqlReadOnlyGrammar: string = createSqlReadOnlyGrammar();
