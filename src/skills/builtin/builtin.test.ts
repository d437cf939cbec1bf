import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatRequest, ChatResponse, LlmBackend } from "../../inference/index.js";
import { EntityMemory, EntityStore } from "../../memory/index.js";
import { FactQuerySandbox } from "../fact-query-sandbox.js";
import { runSkill } from "../runner.js";
import { SkillService } from "../skill-service.js";
import type { SkillServices } from "../skill.js";
import { extractEntitiesSkill, jsonExtractSkill, sqlQuerySkill } from "./index.js";

/** The model at the port: answers the given texts in order (what a model might write under the grammar). */
function scriptedBackend(texts: string[]): LlmBackend & { requests: ChatRequest[] } {
  const requests: ChatRequest[] = [];
  return {
    requests,
    chat(request) {
      requests.push(request);
      const text = texts.shift();
      if (text === undefined) return Promise.reject(new Error("no more scripted replies"));
      const response: ChatResponse = {
        text,
        finishReason: "stop",
        usage: { promptTokens: 1, completionTokens: 1 },
        timings: { timeToFirstTokenMs: 1, totalMs: 1, tokensPerSecond: 1 },
        model: "scripted",
      };
      return Promise.resolve(response);
    },
    chatStream() {
      throw new Error("not used");
    },
  };
}

const signal = new AbortController().signal;
let dir: string;
let file: string;
let store: EntityStore;
let memory: EntityMemory;
let sandbox: FactQuerySandbox;
let services: SkillServices;

/** The database as it is on disk: the main file and its write-ahead log (the store is open in WAL mode). */
function digest(): string {
  const hash = createHash("sha256").update(readFileSync(file));
  if (existsSync(`${file}-wal`)) hash.update(readFileSync(`${file}-wal`));
  return hash.digest("hex");
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "sarai-skills-"));
  file = path.join(dir, "sarai.db");
  store = EntityStore.open({ file });
  memory = new EntityMemory({
    store,
    maxExtractChars: 4000,
    recallTokens: 256,
    recallLimit: 24,
    storeAssistantFacts: true,
  });
  for (const [userId, relation, object] of [
    ["alice", "lives_in", "Madrid"],
    ["alice", "likes", "jazz"],
    ["bob", "lives_in", "Oslo"],
    ["bob", "likes", "bob-only-secret"],
  ] as const)
    store.remember({ userId, subject: "user", relation, object, confidence: 0.9, source: "user_input" });
  sandbox = new FactQuerySandbox({ file, maxRows: 200 });
  services = { memory, factQueries: sandbox };
});

afterAll(() => {
  sandbox.dispose();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("skills", () => {
  describe("sql_query", () => {
    it("runs the model's query over the calling user's facts only", async () => {
      const sql = "SELECT relation, object FROM facts ORDER BY object";
      const alice = await runSkill(sqlQuerySkill, {
        backend: scriptedBackend([sql]),
        input: "What do you know about me?",
        userId: "alice",
        services,
        signal,
      });
      expect(alice.value).toEqual({
        sql,
        columns: ["relation", "object"],
        // Binary collation: upper case sorts first.
        rows: [
          ["lives_in", "Madrid"],
          ["likes", "jazz"],
        ],
        truncated: false,
      });
      const bob = await runSkill(sqlQuerySkill, {
        backend: scriptedBackend(["SELECT COUNT(*) AS n FROM facts WHERE object LIKE '%secret%'"]),
        input: "count",
        userId: "alice",
        services,
        signal,
      });
      expect(bob.value).toMatchObject({ rows: [[0]] });
    });

    it("retries a refused query and returns the next valid one", async () => {
      const result = await runSkill(sqlQuerySkill, {
        backend: scriptedBackend([
          "SELECT * FROM main.facts",
          "SELECT object FROM facts WHERE relation = 'lives_in'",
        ]),
        input: "Where do I live?",
        userId: "bob",
        services,
        signal,
      });
      expect(result.attempts).toBe(2);
      expect(result.value).toMatchObject({ rows: [["Oslo"]] });
    });

    // Write, DDL and multi-statement attempts as a model might emit them (the grammar would not let a model
    // write most of these; the validator and the sandbox refuse them even when it does).
    const attempts = [
      "INSERT INTO facts (subject, relation, object) VALUES ('user', 'is', 'admin')",
      "insert into facts select * from facts",
      "UPDATE facts SET object = 'Paris' WHERE relation = 'lives_in'",
      "DELETE FROM facts",
      "delete from facts where 1=1;",
      "REPLACE INTO facts (id, object) VALUES (1, 'x')",
      "INSERT OR REPLACE INTO facts (id) VALUES (1)",
      "DROP TABLE facts",
      "DROP INDEX facts_by_subject",
      "ALTER TABLE facts RENAME TO gone",
      "CREATE TABLE stolen AS SELECT * FROM facts",
      "CREATE TRIGGER t AFTER INSERT ON facts BEGIN DELETE FROM facts; END",
      "ATTACH DATABASE '/tmp/evil.db' AS evil",
      "PRAGMA journal_mode = DELETE",
      "PRAGMA query_only = OFF",
      "VACUUM INTO '/tmp/copy.db'",
      "REINDEX",
      "BEGIN IMMEDIATE",
      "SELECT 1; DELETE FROM facts",
      "SELECT object FROM facts; DROP TABLE facts",
      "SELECT 1;\nUPDATE facts SET pinned = 1",
      "WITH gone AS (DELETE FROM facts RETURNING id) SELECT * FROM gone",
      "SELECT * FROM main.facts",
      "SELECT * FROM sqlite_master",
      "SELECT * FROM facts WHERE user_id = 'bob'",
    ];

    it.each(attempts)("refuses %j on every attempt and leaves the database unchanged", async (sql) => {
      const before = digest();
      const rows = store.stats().facts;
      await expect(
        runSkill(sqlQuerySkill, {
          backend: scriptedBackend([sql, sql, sql]),
          input: "do it",
          userId: "alice",
          services,
          signal,
        }),
      ).rejects.toMatchObject({ code: "SKILL_OUTPUT_INVALID", message: /sql_query.*3 attempts/ });
      expect(digest()).toBe(before);
      expect(store.stats().facts).toBe(rows);
    });
  });

  describe("extract_entities", () => {
    it("stores the valid facts for the calling user and lists their ids", async () => {
      const output = JSON.stringify({
        facts: [
          { subject: "Lucía", relation: "lives_in", object: "Sevilla", negated: false },
          { subject: "user", relation: "likes", object: "tea", negated: true },
        ],
      });
      const result = await runSkill(extractEntitiesSkill, {
        backend: scriptedBackend(['{"facts": [{"subject": 1}]}', output]),
        input: "Lucía vive en Sevilla. No me gusta el té.",
        userId: "carol",
        services,
        signal,
      });
      expect(result.attempts).toBe(2);
      const value = result.value as { facts: unknown[]; stored: number[] };
      expect(value.facts).toEqual(
        expect.arrayContaining([
          { subject: "Lucía", relation: "lives_in", object: "Sevilla", negated: false },
        ]),
      );
      expect(value.stored.length).toBeGreaterThanOrEqual(2);
      for (const id of value.stored) expect(store.get("carol", id)).toBeDefined();
      expect(store.get("alice", value.stored[0] as number)).toBeUndefined();
      expect(store.recall({ userId: "carol", subject: "Lucía" })).toEqual([
        expect.objectContaining({ relation: "lives_in", object: "Sevilla", source: "skill" }),
      ]);
    });
  });

  describe("extract_entities without memory", () => {
    it("returns the facts but stores nothing when the call says noMemory", async () => {
      const output = JSON.stringify({
        facts: [{ subject: "Pablo", relation: "works_at", object: "Acme", negated: false }],
      });
      const service = new SkillService({
        backend: scriptedBackend([output]),
        skills: [extractEntitiesSkill],
        services,
      });
      const before = store.stats().facts;
      const result = await service.run("extract_entities", {
        input: "Pablo trabaja en Acme.",
        userId: "dave",
        signal,
        noMemory: true,
      });
      expect(result.value).toEqual({
        facts: [{ subject: "Pablo", relation: "works_at", object: "Acme", negated: false }],
        stored: [],
      });
      expect(store.stats().facts).toBe(before);
    });
  });

  describe("json_extract", () => {
    it("returns the parsed object, and retries output that is not a JSON object", async () => {
      const result = await runSkill(jsonExtractSkill, {
        backend: scriptedBackend(["[1, 2]", '{"name": "Ana", "age": 31}']),
        input: "Ana tiene 31 años",
        userId: "u",
        signal,
      });
      expect(result).toMatchObject({ attempts: 2, value: { name: "Ana", age: 31 } });
    });

    it("validates against a per-call schema and puts the schema into the prompt", async () => {
      const schema = {
        type: "object",
        properties: { age: { type: "integer" } },
        required: ["age"],
        additionalProperties: false,
      };
      const backend = scriptedBackend(['{"age": "31"}', '{"age": 31}']);
      const result = await runSkill(jsonExtractSkill, {
        backend,
        input: "Ana, 31",
        userId: "u",
        schema,
        signal,
      });
      expect(result).toMatchObject({ attempts: 2, value: { age: 31 } });
      expect(backend.requests[0]?.jsonSchema).toEqual(schema);
      expect(backend.requests[0]?.messages[0]?.content).toContain('"required":["age"]');
    });
  });
});
