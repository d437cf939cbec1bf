import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { beforeAll, describe, expect, it } from "vitest";
import {
  createMarkdownGrammar,
  createPythonGrammar,
  createSqlReadOnlyGrammar,
  grammarForJsonSchema,
  identifierRules,
  jsonGrammar,
  jsonGrammarDefault,
  markdownGrammar,
  pythonGrammar,
  sqlReadOnlyGrammar,
} from "./index.js";

let llama: Llama;
beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
}, 60_000);

const grammars: [string, string][] = [
  ["jsonGrammarDefault", jsonGrammarDefault],
  ["jsonGrammar (bounded)", jsonGrammar({ maxDepth: 2, maxItems: 3, maxStringLength: 6, root: "value" })],
  ["sqlReadOnlyGrammar", sqlReadOnlyGrammar],
  ["createSqlReadOnlyGrammar (bounded)", createSqlReadOnlyGrammar({ maxIdentifierLength: 4, maxSubqueryDepth: 0 })],
  ["pythonGrammar", pythonGrammar],
  ["createPythonGrammar (bounded)", createPythonGrammar({ maxBlockDepth: 1, maxNameLength: 3, maxExpressionDepth: 1 })],
  ["markdownGrammar", markdownGrammar],
  ["createMarkdownGrammar (bounded)", createMarkdownGrammar({ maxBlocks: 1, maxLines: 1, maxTextLength: 1 })],
]; // prettier-ignore

describe("grammars", () => {
  describe("compilation", () => {
    it.each(grammars)("%s compiles with llama.createGrammar", async (_name, grammar) => {
      const compiled = await llama.createGrammar({ grammar });
      expect(compiled.grammar).toBe(grammar);
    });
  });

  describe("jsonGrammar", () => {
    it("has one set of rules per depth level, and scalars only at the deepest", () => {
      const grammar = jsonGrammar({ maxDepth: 2 });
      expect(grammar).toMatch(/^member2 ::= string ws ":" ws scalar$/m);
      expect(grammar).not.toMatch(/value3/);
    });

    it("bounds strings, items and whitespace with GBNF repetition", () => {
      const grammar = jsonGrammar({ maxStringLength: 5, maxItems: 3, maxWhitespace: 1 });
      expect(grammar).toContain("char{0,5}");
      expect(grammar).toContain("{0,2}");
      expect(grammar).toContain("ws ::= [ \\t\\n]{0,1}");
    });

    it("refuses a depth below 1", () => {
      expect(() => jsonGrammar({ maxDepth: 0 })).toThrow(RangeError);
    });
  });

  describe("identifierRules", () => {
    it("never lets an excluded word end an identifier, but lets longer words through", () => {
      const rules = identifierRules({ name: "id", exclude: ["as"], caseInsensitive: true, maxLength: 3 });
      // The node for the prefix "as" has no way to end (no trailing `?`) and only continues with another char.
      expect(rules).toMatch(/^id-t\d+ ::= \( \[[^\]]+\] \)$/m);
      expect(rules).toContain("[aA]");
    });
  });

  describe("grammarForJsonSchema", () => {
    it("tightens node-llama-cpp's number rules", async () => {
      const grammar = await grammarForJsonSchema(llama, {
        type: "object",
        properties: { n: { type: "integer" }, x: { type: "number" } },
      });
      expect(grammar.grammar).toMatch(
        /^integer-number-rule ::= "-"\? \("0" \| \[1-9\] \[0-9\]\{0,15\}\) ?$/m,
      );
      expect(grammar.grammar).toContain(`([eE] [-+]? [0-9]{1,2})?`);
    });

    it("accepts properties named like keywords", async () => {
      await expect(
        grammarForJsonSchema(llama, {
          type: "object",
          properties: { type: { type: "string" }, not: { type: "null" } },
        }),
      ).resolves.toBeDefined();
    });

    it.each([
      [{ type: "foo" }, "#/type"],
      [{ type: "object", properties: { a: { not: { type: "string" } } } }, "#/properties/a/not"],
      [{ $ref: "#/nothing" }, "#/$ref"],
    ])("refuses %j with GRAMMAR_INVALID naming %s", async (schema, where) => {
      await expect(grammarForJsonSchema(llama, schema)).rejects.toMatchObject({
        code: "GRAMMAR_INVALID",
        message: expect.stringContaining(where) as unknown,
      });
    });
  });
});
