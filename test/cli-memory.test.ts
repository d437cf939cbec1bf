import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCliRunner, expectNoStackTrace } from "./cli-helpers.js";

let dataDir: string;
const runCli = createCliRunner(() => dataDir);

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-cli-memory-"));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

async function json<T>(args: string[], input?: string | Buffer): Promise<T> {
  const result = await runCli(args, input === undefined ? {} : { input });
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as T;
}

describe("cli", () => {
  describe("memory", () => {
    it("extract --json prints one array of {subject, relation, object, confidence, negated}", async () => {
      const facts = await json<Record<string, unknown>[]>([
        "memory",
        "extract",
        "--json",
        "Mi hermana Lucía vive en Madrid y no le gusta el café.",
      ]);
      expect(facts.length).toBeGreaterThanOrEqual(2);
      for (const fact of facts) {
        expect(
          Object.keys(fact)
            .filter((key) => key !== "when")
            .sort(),
        ).toEqual(["confidence", "negated", "object", "relation", "subject"]);
      }
      expect(facts).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ subject: "usuario", object: "Lucía", negated: false }),
          expect.objectContaining({
            subject: "Lucía",
            relation: "lives_in",
            object: "Madrid",
            negated: false,
          }),
        ]),
      );
      expect(await json(["memory", "extract", "--json", "¿Dónde vive Lucía?"])).toEqual([]);
    });

    it("reads stdin, and refuses input that is not UTF-8", async () => {
      expect(await json(["memory", "extract", "--json", "-"], "I work at Siemens.")).toEqual([
        expect.objectContaining({ subject: "user", relation: "works_at", object: "Siemens" }),
      ]);
      const bad = await runCli(["memory", "extract", "-"], { input: Buffer.from([0x49, 0xff, 0xfe]) });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/stdin is not valid UTF-8/);
      expectNoStackTrace(bad);
    });

    it("adds, recalls, replaces with history, exports, imports, forgets, rotates and vacuums", async () => {
      await json([
        "memory",
        "extract",
        "--store",
        "--user",
        "ana",
        "--json",
        "Vivo en Quito. Mi perro se llama Toby.",
      ]);
      const added = await json<{ outcome: string; id: number }>([
        "memory",
        "add",
        "--user",
        "ana",
        "--json",
        "usuario",
        "lives in",
        "Lima",
      ]);
      expect(added.outcome).toBe("inserted");
      const active = await json<{ object: string }[]>([
        "memory",
        "recall",
        "--user",
        "ana",
        "--json",
        "--relation",
        "lives_in",
      ]);
      expect(active.map((fact) => fact.object)).toEqual(["Lima"]);
      const history = await json<{ object: string; valid_to: string | null }[]>([
        "memory",
        "recall",
        "--user",
        "ana",
        "--json",
        "--relation",
        "lives_in",
        "--history",
      ]);
      expect(history.map((fact) => [fact.object, fact.valid_to === null])).toEqual([
        ["Lima", true],
        ["Quito", false],
      ]);
      // Another user sees none of it.
      expect(await json(["memory", "recall", "--user", "bea", "--json"])).toEqual([]);

      const file = path.join(dataDir, "ana.json");
      const exported = await runCli(["memory", "export", "--user", "ana", "-o", file]);
      expect(exported.code, exported.stderr).toBe(0);
      const document = JSON.parse(await readFile(file, "utf8")) as { facts: unknown[] };
      expect(document.facts).toHaveLength(3);
      expect(await json(["memory", "import", "--user", "bea", "--json", file])).toEqual({
        imported: 2,
        reinforced: 0,
        historic: 1,
      });
      expect(await json(["memory", "stats", "--user", "bea", "--json"])).toMatchObject({
        facts: 3,
        activeFacts: 2,
        historicFacts: 1,
      });

      expect(await json(["memory", "forget", "--user", "bea", "--json", "--subject", "usuario"])).toEqual({
        deleted: 3,
      });
      const missing = await runCli(["memory", "forget", "--user", "bea", String(added.id)]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/NOT_FOUND/);
      expect(await json(["memory", "rotate", "--days", "1", "--json"])).toEqual({ removed: 0, days: 1 });
      const vacuum = await json<{ bytesBefore: number; bytesAfter: number }>(["memory", "vacuum", "--json"]);
      expect(vacuum.bytesAfter).toBeGreaterThan(0);
      expect(vacuum.bytesAfter).toBeLessThanOrEqual(vacuum.bytesBefore);
    }, 180_000);

    it("names the problem in a bad import and stores nothing", async () => {
      const file = path.join(dataDir, "bad.json");
      await writeFile(
        file,
        JSON.stringify({ facts: [{ subject: "a", relation: "b", object: "c" }, { subject: "a" }] }),
      );
      const result = await runCli(["memory", "import", "--user", "cid", file]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/INVALID_REQUEST.*facts\[1\]\.relation/);
      expectNoStackTrace(result);
      expect(await json(["memory", "stats", "--user", "cid", "--json"])).toMatchObject({ facts: 0 });
      await writeFile(file, "{not json");
      const notJson = await runCli(["memory", "import", file]);
      expect(notJson.code).toBe(2);
      expect(notJson.stderr).toMatch(/bad\.json is not valid JSON/);
    });

    it("refuses bad flags with exit 2 and a message", async () => {
      const noTarget = await runCli(["memory", "forget"]);
      expect(noTarget.code).toBe(2);
      expect(noTarget.stderr).toMatch(/say what to forget/);
      const badLang = await runCli(["memory", "extract", "--lang", "fr", "hola"]);
      expect(badLang.code).not.toBe(0);
      expect(badLang.stderr).toMatch(/--lang must be es or en/);
      const badConfidence = await runCli(["memory", "add", "a", "b", "c", "--confidence", "7"]);
      expect(badConfidence.code).not.toBe(0);
      expect(badConfidence.stderr).toMatch(/--confidence must be a number from 0 to 1/);
    });
  });
});
