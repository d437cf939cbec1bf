import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EntityStore } from "../memory/index.js";
import { FactQuerySandbox, pythonAvailable } from "../skills/index.js";
import { AppError } from "../shared/index.js";
import { combine } from "./reflexive-loop.js";
import { createVerifier, parseVerifySpec } from "./verifiers.js";

const signal = new AbortController().signal;

describe("assistant", () => {
  describe("verifiers", () => {
    it("checks text tests and names each one that fails", async () => {
      const verifier = createVerifier(
        parseVerifySpec({
          kind: "tests",
          tests: [{ contains: "Lisboa" }, { notContains: "Madrid" }, { regex: "^\\w+ es" }],
        }),
        "ana",
      );
      expect(await verifier.verify("Lisboa es la capital", signal)).toEqual({
        name: "tests",
        ok: true,
        issues: [],
      });
      const failed = await verifier.verify("Madrid, quizá", signal);
      expect(failed.ok).toBe(false);
      expect(failed.issues).toEqual([
        'the answer must contain "Lisboa"',
        'the answer must not contain "Madrid"',
        "the answer must match /^\\w+ es/",
      ]);
    });

    it("stops catastrophically backtracking regexes instead of blocking the server", async () => {
      // Each would take minutes; the tests of one check share a 100 ms budget, so both fail fast.
      const verifier = createVerifier(
        parseVerifySpec({ kind: "tests", tests: [{ regex: "(a+)+$" }, { regex: "^(\\w+\\s?)*$" }] }),
        "ana",
      );
      const started = performance.now();
      const verdict = await verifier.verify(`${"a".repeat(40)}!`, signal);
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(verdict.ok).toBe(false);
      expect(verdict.issues).toHaveLength(2);
      for (const issue of verdict.issues)
        expect(issue).toMatch(/ran out of the 100 ms the regex tests share/);
    });

    it("compiles schemas that share an $id, one request after another (Ajv keeps none of them)", () => {
      // Ajv refuses a second schema under an $id it holds, unless the first was removed after compiling.
      for (const type of ["object", "array", "string"]) {
        const spec = parseVerifySpec({ kind: "json", schema: { $id: "https://example.org/s", type } });
        expect(spec.kind).toBe("json");
      }
    });

    it("validates JSON against an optional schema", async () => {
      const verifier = createVerifier(
        parseVerifySpec({ kind: "json", schema: { type: "object", required: ["a"] } }),
        "ana",
      );
      expect((await verifier.verify('{"a": 1}', signal)).ok).toBe(true);
      expect((await verifier.verify('{"b": 1}', signal)).issues[0]).toMatch(/a/);
      expect((await verifier.verify("{nope", signal)).ok).toBe(false);
    });

    it("refuses writes in SQL and dry-runs read-only SQL in the user's read-only sandbox", async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "sarai-verify-sql-"));
      const store = EntityStore.open({ file: path.join(dir, "sarai.db") });
      const sandbox = new FactQuerySandbox({ file: store.file });
      try {
        store.remember({
          userId: "ana",
          subject: "usuario",
          relation: "likes",
          object: "té",
          confidence: 0.9,
          source: "user_input",
        });
        const verifier = createVerifier({ kind: "sql" }, "ana", { factQueries: sandbox });
        expect((await verifier.verify("DELETE FROM facts", signal)).ok).toBe(false);
        expect((await verifier.verify("```sql\nSELECT object FROM facts\n```", signal)).ok).toBe(true);
        const bad = await verifier.verify("SELECT nope FROM facts", signal);
        expect(bad.ok).toBe(false);
        expect(bad.issues[0]).toMatch(/no such column: nope/);
        expect(store.list("ana").map((fact) => fact.object)).toEqual(["té"]);
      } finally {
        sandbox.dispose();
        store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it.runIf(pythonAvailable())("parses Python with the ast module, inside or outside a fence", async () => {
      const verifier = createVerifier({ kind: "python" }, "ana");
      expect((await verifier.verify("```python\ndef f(x):\n    return x + 1\n```", signal)).ok).toBe(true);
      expect((await verifier.verify("def f(x) return x", signal)).ok).toBe(false);
    });

    it.runIf(pythonAvailable())("runs the request's Python tests on the answer in the sandbox", async () => {
      const spec = parseVerifySpec({
        kind: "python",
        tests: "assert add(2, 3) == 5\nassert add(-1, 1) == 0",
      });
      const verifier = createVerifier(spec, "ana");
      expect(await verifier.verify("```python\ndef add(a, b):\n    return a + b\n```", signal)).toEqual({
        name: "python",
        ok: true,
        issues: [],
      });
      const wrong = await verifier.verify("def add(a, b):\n    return a - b", signal);
      expect(wrong.ok).toBe(false);
      expect(wrong.issues[0]).toMatch(/the tests failed: .*AssertionError/);
      // The answer cannot reach out: writing outside /tmp fails the tests.
      const sneaky = await verifier.verify(
        "open('/etc/owned', 'w')\ndef add(a, b):\n    return a + b",
        signal,
      );
      expect(sneaky.issues[0]).toMatch(/Read-only file system/);
    });

    it.runIf(pythonAvailable())(
      "fails an answer whose tests never finish",
      async () => {
        const verifier = createVerifier(parseVerifySpec({ kind: "python", tests: "f()" }), "ana");
        const verdict = await verifier.verify("def f():\n    while True:\n        pass", signal);
        expect(verdict).toMatchObject({ ok: false, issues: ["the tests did not finish within 5000 ms"] });
      },
      20_000,
    );

    it("refuses a malformed verify value, naming the field", () => {
      const cases: [unknown, string][] = [
        [null, "verify"],
        [{ kind: "lua" }, "verify.kind"],
        [{ kind: "tests" }, "verify.tests"],
        [{ kind: "tests", tests: [{ contains: "" }] }, "verify.tests[0].contains"],
        [{ kind: "tests", tests: [{ regex: "[" }] }, "verify.tests[0].regex"],
        [{ kind: "tests", tests: [{}] }, "verify.tests[0]"],
        [{ kind: "tests", tests: [{ contains: "a", other: "b" }] }, "verify.tests[0].other"],
        [{ kind: "json", schema: [] }, "verify.schema"],
        [{ kind: "json", schema: { type: "nonsense" } }, "verify.schema"],
        [{ kind: "python", tests: 3 }, "verify.tests"],
        [{ kind: "python", tests: " " }, "verify.tests"],
      ];
      for (const [value, param] of cases) {
        let error: unknown;
        try {
          parseVerifySpec(value);
        } catch (caught) {
          error = caught;
        }
        expect(error, JSON.stringify(value)).toBeInstanceOf(AppError);
        expect((error as AppError).param).toBe(param);
      }
    });
  });

  describe("confidence", () => {
    it("weighs the signals present and caps an answer that fails a check", () => {
      expect(combine({})).toBeNull();
      expect(combine({ tokenProbability: 0.6 })).toBeCloseTo(0.6);
      expect(
        combine({ verifiers: [{ name: "t", ok: true, issues: [] }], tokenProbability: 0.6 }),
      ).toBeCloseTo((0.5 + 0.3 * 0.6) / 0.8);
      expect(
        combine({
          verifiers: [{ name: "t", ok: true, issues: [] }],
          tokenProbability: 0.9,
          selfAssessment: { score: 1, issues: [] },
        }),
      ).toBeCloseTo(0.5 + 0.27 + 0.2);
      // One failed check of two: the mean would be (0.25 + 0.3) / 0.8 = 0.69; the cap keeps it at 0.5.
      expect(
        combine({
          verifiers: [
            { name: "a", ok: true, issues: [] },
            { name: "b", ok: false, issues: ["x"] },
          ],
          tokenProbability: 1,
        }),
      ).toBe(0.5);
    });
  });
});
