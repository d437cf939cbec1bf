import { describe, expect, it } from "vitest";
import { validateReadOnlySql } from "./validate-read-only-sql.js";

/** Writes, DDL, connection changes, multi-statement and sneaky attempts: every one must be refused. */
const refused = [
  "INSERT INTO facts (subject, relation, object) VALUES ('user', 'is', 'admin')",
  "insert into facts select * from facts",
  "INSERT OR REPLACE INTO facts (id) VALUES (1)",
  "UPDATE facts SET object = 'Paris' WHERE relation = 'lives_in'",
  "update facts set pinned = 1",
  "DELETE FROM facts",
  "delete from facts where 1=1;",
  "REPLACE INTO facts (id, object) VALUES (1, 'x')",
  "UPSERT INTO facts VALUES (1)",
  "DROP TABLE facts",
  "DROP INDEX facts_by_subject",
  "DROP VIEW IF EXISTS v",
  "ALTER TABLE facts RENAME TO gone",
  "ALTER TABLE facts ADD COLUMN owned INTEGER",
  "CREATE TABLE stolen AS SELECT * FROM facts",
  "CREATE TEMP TABLE t AS SELECT 1",
  "CREATE TEMPORARY VIEW v AS SELECT * FROM facts",
  "CREATE TRIGGER t AFTER INSERT ON facts BEGIN DELETE FROM facts; END",
  "CREATE INDEX i ON facts(subject)",
  "ATTACH DATABASE '/tmp/evil.db' AS evil",
  "attach '/tmp/evil.db' as evil",
  "DETACH DATABASE evil",
  "PRAGMA journal_mode = DELETE",
  "PRAGMA query_only = OFF",
  "pragma table_info(facts)",
  "VACUUM",
  "VACUUM INTO '/tmp/copy.db'",
  "REINDEX",
  "ANALYZE",
  "BEGIN IMMEDIATE",
  "COMMIT",
  "ROLLBACK",
  "SAVEPOINT s",
  "SELECT 1; DROP TABLE x",
  "SELECT 1; DELETE FROM facts",
  "SELECT object FROM facts; DROP TABLE facts",
  "SELECT 1;\nUPDATE facts SET pinned = 1",
  "SELECT 1 /* */; DELETE FROM facts",
  "SELECT 1 -- ; DELETE FROM facts",
  "SELECT 1 /* comment */",
  "SELECT 1 # mysql comment",
  "SELECT 1;;",
  "SELECT 1; SELECT 2",
  "WITH x AS (DELETE FROM facts RETURNING id) SELECT * FROM x",
  "WITH x AS (SELECT 1) INSERT INTO facts SELECT * FROM x",
  "SELECT load_extension('/tmp/evil.so')",
  "SELECT LOAD_EXTENSION('x', 'entry')",
  "SELECT writefile('/tmp/x', 'data')",
  "SELECT readfile('/etc/passwd')",
  "SELECT edit('text', 'vi')",
  "SELECT fts3_tokenizer('simple')",
  "SELECT * FROM sqlite_master",
  "SELECT sql FROM SQLITE_SCHEMA",
  "SELECT * FROM sqlite_temp_master",
  "SELECT * FROM pragma_table_info('facts')",
  "SELECT * INTO backup FROM facts",
  "SELECT 'it''s'; DROP TABLE facts",
  "SELECT 'unclosed FROM facts",
  "",
  "   ",
  "SELEC * FROM facts",
  "SELECT FROM WHERE",
  "EXPLAIN SELECT 1",
  "VALUES (1), (2)",
  "SELECT replace(object, 'a', 'b') FROM facts",
]; // prettier-ignore

/** Read-only queries the validator accepts, with the tables each reads (CTE names left out). */
const accepted: [string, string[]][] = [
  ["SELECT 1", []],
  ["select * from facts", ["facts"]],
  ["SELECT object FROM facts WHERE relation = 'lives_in';", ["facts"]],
  ["SELECT object FROM facts WHERE relation = 'lives_in' ;  \n", ["facts"]],
  ["SELECT f.subject AS who, f.object FROM facts AS f WHERE f.valid_to IS NULL", ["facts"]],
  ["SELECT count(*) FROM facts WHERE negated = 0 AND (subject = 'user' OR object = 'user')", ["facts"]],
  ["SELECT relation, count(*) AS n FROM facts GROUP BY relation HAVING count(*) > 1 ORDER BY n DESC LIMIT 5 OFFSET 1", ["facts"]],
  ["SELECT * FROM facts WHERE object LIKE 'Mad%' AND relation IN ('lives_in', 'works_at')", ["facts"]],
  ["SELECT * FROM facts WHERE valid_to IS NOT NULL AND NOT pinned", ["facts"]],
  ["SELECT a.object FROM facts a JOIN facts b ON a.subject = b.object", ["facts"]],
  ["SELECT * FROM people LEFT JOIN pets ON pets.owner = people.id", ["people", "pets"]],
  ["SELECT * FROM facts WHERE id IN (SELECT fact_id FROM tags)", ["facts", "tags"]],
  ["SELECT s.n FROM (SELECT count(*) AS n FROM facts) s", ["facts"]],
  ["WITH recent AS (SELECT * FROM facts WHERE created_at > 0) SELECT object FROM recent", ["facts"]],
  ["WITH a AS (SELECT 1 AS x), b AS (SELECT x FROM a) SELECT * FROM b", []],
  ["SELECT object FROM facts UNION SELECT subject FROM facts", ["facts"]],
  ["SELECT upper(object), length(object), coalesce(valid_to, 0) FROM facts", ["facts"]],
  ["SELECT datetime(created_at / 1000, 'unixepoch') FROM facts", ["facts"]],
  ["SELECT 'DROP TABLE facts; DELETE' AS note", []],
  ["SELECT 'it''s; fine' FROM facts", ["facts"]],
  ["SELECT updated_at, created_by FROM Facts", ["facts"]],
  ["SELECT * FROM main.facts", ["main.facts"]],
  ["SELECT -1.5 * 2 + 3 % 2, 'a' || 'b'", []],
  ["SELECT DISTINCT relation FROM facts WHERE age BETWEEN 18 AND 30", ["facts"]],
]; // prettier-ignore

describe("validators", () => {
  describe("validateReadOnlySql", () => {
    it.each(refused)("refuses %j", (sql) => {
      const result = validateReadOnlySql(sql);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).not.toBe("");
    });

    it("has at least 40 refusals in its table", () => {
      expect(refused.length).toBeGreaterThanOrEqual(40);
    });

    it.each(accepted)("accepts %j and lists its tables", (sql, tables) => {
      expect(validateReadOnlySql(sql)).toEqual({ ok: true, value: { tables } });
    });

    it("says where a second statement starts", () => {
      expect(validateReadOnlySql("SELECT 1;\n  DROP TABLE x")).toEqual({
        ok: false,
        error: "only one statement is allowed: ';' at line 1, column 9 ends the first",
      });
    });

    it("names a write keyword and its position", () => {
      const result = validateReadOnlySql("WITH x AS (\n  DELETE FROM t RETURNING id) SELECT 1");
      expect(result).toEqual({
        ok: false,
        error: "'DELETE' at line 2, column 3 is not allowed: only read-only SELECT queries run",
      });
    });

    it("reports a parse error with its line and column", () => {
      const result = validateReadOnlySql("SELECT a,\nFROM facts");
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toMatch(/^the SQL does not parse: line 2, column \d+: /);
    });
  });
});
