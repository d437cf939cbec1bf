import { describe, expect, it } from "vitest";
import {
  compileJsonSchemaValidator,
  OutputInvalidError,
  parseJsonOutput,
  retainedSchemaCount,
} from "./json-output.js";

describe("inference", () => {
  describe("JSON output", () => {
    it("treats a schema pattern that backtracks catastrophically as a failed check, quickly", () => {
      const validate = compileJsonSchemaValidator({ type: "string", pattern: "^(a+)+$" });
      const started = performance.now();
      let error: unknown;
      try {
        parseJsonOutput(JSON.stringify(`${"a".repeat(40)}!`), validate, "stop", 100);
      } catch (caught) {
        error = caught;
      }
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(error).toBeInstanceOf(OutputInvalidError);
      expect((error as Error).message).toMatch(/could not be checked: matching .* took longer than 100 ms/);
      expect(parseJsonOutput('"aaa"', validate, "stop", 100)).toBe("aaa");
    });

    it("forgets every $id of a compiled schema, nested ones too, so the next request may reuse them", () => {
      for (const type of ["string", "integer", "boolean"]) {
        const validate = compileJsonSchemaValidator({
          $id: "https://example.org/outer",
          type: "object",
          properties: { a: { $ref: "inner" } },
          $defs: { inner: { $id: "https://example.org/inner", type } },
        });
        const sample = type === "string" ? "x" : type === "integer" ? 3 : true;
        expect(validate({ a: sample })).toBe(true);
        expect(validate({ a: [] })).toBe(false);
      }
      const before = retainedSchemaCount();
      for (let i = 0; i < 50; i++) {
        compileJsonSchemaValidator({
          $id: `https://example.org/s${i}`,
          $defs: { part: { $id: `https://example.org/s${i}/part`, type: "string" } },
          $ref: `https://example.org/s${i}/part`,
        });
      }
      expect(retainedSchemaCount()).toBe(before);
    });
  });
});
