import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EntityStore } from "../memory/index.js";
import { checkSqlScope, definedCteNames, FactQuerySandbox } from "./fact-query-sandbox.js";

let dir: string;
let file: string;
let sandbox: FactQuerySandbox;

function digest(): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "sarai-sql-"));
  file = path.join(dir, "sarai.db");
  const store = EntityStore.open({ file });
  for (const [userId, subject, relation, object] of [
    ["alice", "user", "lives_in", "Madrid"],
    ["alice", "user", "likes", "jazz"],
    ["alice", "Lucía", "sister", "user"],
    ["bob", "user", "lives_in", "Oslo"],
    ["bob", "user", "likes", "secret-bob-thing"],
  ] as const)
    store.remember({ userId, subject, relation, object, confidence: 0.9, source: "user_input" });
  store.close();
  const db = new Database(file);
  db.exec("CREATE TABLE secrets (object TEXT); INSERT INTO secrets VALUES ('Madrid')");
  db.close();
  sandbox = new FactQuerySandbox({ file, maxRows: 2 });
});

afterAll(() => {
  sandbox.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("skills", () => {
  describe("FactQuerySandbox", () => {
    it("returns only the calling user's facts", () => {
      expect(sandbox.run("SELECT COUNT(*) FROM 'facts'", "alice").rows).toEqual([[3]]);
      const alice = sandbox.run("SELECT object FROM facts WHERE relation = 'lives_in'", "alice");
      expect(alice.rows).toEqual([["Madrid"]]);
      const bob = sandbox.run("SELECT COUNT(*) AS n FROM facts", "bob");
      expect(bob).toMatchObject({ columns: ["n"], rows: [[2]] });
      const everything = sandbox.run(
        "SELECT a.object FROM facts a, facts b WHERE a.object LIKE '%bob%' OR b.object = 'Oslo'",
        "alice",
      );
      expect(everything.rows).toEqual([]);
    });

    it("dry-runs a query on a scratch copy of the user's facts, with the same answer as the live run", () => {
      for (const sql of [
        "SELECT COUNT(*) FROM facts",
        "SELECT object FROM facts WHERE relation = 'lives_in'",
        "WITH liked AS (SELECT object FROM facts WHERE relation = 'likes') SELECT object FROM liked",
        "SELECT subject, COUNT(*) AS n FROM facts GROUP BY subject ORDER BY subject",
      ]) {
        for (const user of ["alice", "bob"])
          expect(sandbox.dryRun(sql, user), `${sql} for ${user}`).toEqual(sandbox.run(sql, user));
      }
      expect(sandbox.dryRun("SELECT object FROM facts WHERE object LIKE '%bob%'", "alice").rows).toEqual([]);
      expect(() => sandbox.dryRun("SELECT nope FROM facts", "alice")).toThrow(/no such column: nope/);
    });

    it("merges the user scope into the query's own WITH and keeps its CTEs", () => {
      const result = sandbox.run(
        "WITH liked AS (SELECT object FROM facts WHERE relation = 'likes') SELECT object FROM liked;",
        "alice",
      );
      expect(result.rows).toEqual([["jazz"]]);
      expect(definedCteNames("WITH a AS (SELECT 1), b(x) AS (SELECT 2) SELECT * FROM a, b")).toEqual([
        "a",
        "b",
      ]);
    });

    it("caps the rows and says so", () => {
      const result = sandbox.run("SELECT subject, relation, object FROM facts ORDER BY id", "alice");
      expect(result.rows).toHaveLength(2);
      expect(result.truncated).toBe(true);
    });

    const attempts = [
      "INSERT INTO facts (user_id, subject) VALUES ('alice', 'x')",
      "UPDATE facts SET object = 'Paris'",
      "DELETE FROM facts",
      "REPLACE INTO facts (id) VALUES (1)",
      "DROP TABLE facts",
      "ALTER TABLE facts ADD COLUMN x",
      "CREATE TABLE t (x)",
      "CREATE TEMP VIEW v AS SELECT * FROM main.facts",
      "ATTACH DATABASE '/tmp/x.db' AS x",
      "DETACH DATABASE main",
      "PRAGMA writable_schema = ON",
      "VACUUM",
      "REINDEX facts",
      "ANALYZE",
      "BEGIN; DELETE FROM facts; COMMIT",
      "SELECT 1; DELETE FROM facts",
      "SELECT 1; SELECT 2",
      "SELECT * FROM facts; DROP TABLE facts;",
      "SELECT * FROM main.facts",
      'SELECT * FROM "main"."facts"',
      "SELECT * FROM [main].facts",
      "SELECT * FROM `main`.facts",
      "SELECT * FROM temp.facts",
      "SELECT * FROM 'main'.facts",
      "SELECT * FROM 'main'.'facts'",
      "SELECT * FROM facts WHERE object IN 'main'.facts",
      "SELECT * FROM 'secrets'",
      "SELECT * FROM 'sqlite_master'",
      "SELECT * FROM sqlite_master",
      "SELECT * FROM sqlite_schema",
      "SELECT sql FROM sqlite_temp_master",
      "SELECT * FROM pragma_table_info('facts')",
      "SELECT * FROM json_each('[1]')",
      "SELECT * FROM facts WHERE user_id = 'bob'",
      "SELECT * FROM facts WHERE id = ?",
      "SELECT * FROM facts WHERE id = :id",
      "WITH facts AS (SELECT * FROM main.facts) SELECT * FROM facts",
      "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
      "WITH x AS (DELETE FROM facts RETURNING *) SELECT * FROM x",
      "SELECT load_extension('/tmp/evil.so')",
      "SELECT length(hex(randomblob(200000000)))",
      "SELECT zeroblob(900000000) FROM facts",
      "SELECT * FROM secrets",
      "SELECT * FROM facts WHERE object IN secrets",
      "SELECT * FROM facts WHERE object IN (SELECT object FROM facts, secrets)",
      "SELECT * FROM facts a JOIN facts b JOIN facts c JOIN facts d",
      "SELECT 'x' /* unterminated",
      "",
      "EXPLAIN SELECT 1",
      "VALUES (1)",
    ];

    it.each(attempts)("refuses %j and leaves the database unchanged", (sql) => {
      const before = digest();
      expect(() => sandbox.run(sql, "alice")).toThrow();
      expect(digest()).toBe(before);
    });

    it.each(attempts)("refuses %j in a dry run too", (sql) => {
      const before = digest();
      expect(() => sandbox.dryRun(sql, "alice")).toThrow();
      expect(digest()).toBe(before);
    });

    it("explains why before it runs anything", () => {
      expect(checkSqlScope("SELECT * FROM main.facts")).toMatchObject({ ok: false, error: /main/ });
      expect(checkSqlScope("SELECT 1; SELECT 2")).toMatchObject({ ok: false, error: /one statement/ });
      expect(checkSqlScope("DELETE FROM facts")).toMatchObject({ ok: false, error: /SELECT/ });
      expect(checkSqlScope("SELECT subject FROM facts WHERE object = 'main.facts; DROP'")).toEqual({
        ok: true,
      });
    });

    it("keeps working, and refusing, after the store is vacuumed", () => {
      sandbox.run("SELECT 1 FROM facts", "alice");
      const store = EntityStore.open({ file });
      store.vacuum();
      store.close();
      expect(sandbox.run("SELECT object FROM facts WHERE relation = 'likes'", "alice").rows).toEqual([
        ["jazz"],
      ]);
      expect(() => sandbox.run("SELECT * FROM facts WHERE object IN secrets", "alice")).toThrow(
        /not allowed/,
      );
    });

    it("refuses, from the compiled program, a table the text checks cannot see", () => {
      const sql = "SELECT * FROM facts WHERE object IN secrets";
      expect(checkSqlScope(sql)).toEqual({ ok: true });
      expect(() => sandbox.run(sql, "alice")).toThrow(/not allowed/);
    });
  });
});
