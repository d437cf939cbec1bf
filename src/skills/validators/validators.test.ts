import { describe, expect, it } from "vitest";
import { pythonAvailable, validateJson, validateMarkdown, validatePython } from "./index.js";

describe("validators", () => {
  describe("validateJson", () => {
    const schema = {
      type: "object",
      properties: { name: { type: "string" }, age: { type: "integer", minimum: 0 } },
      required: ["name"],
      additionalProperties: false,
    };

    it("returns the parsed value", () => {
      expect(validateJson('{"a": [1, 2.5, null, true, "x"]}')).toEqual({
        ok: true,
        value: { a: [1, 2.5, null, true, "x"] },
      });
    });

    it("accepts a value that matches the schema", () => {
      expect(validateJson('{"name": "Ana", "age": 3}', schema)).toEqual({
        ok: true,
        value: { name: "Ana", age: 3 },
      });
    });

    it.each([
      ['{"age": 3}', /must have required property 'name'/],
      ['{"name": "Ana", "age": -1}', /\/age must be >= 0/],
      ['{"name": "Ana", "extra": 1}', /must NOT have additional properties/],
      ['{"name": 5}', /\/name must be string/],
    ])("refuses %s against the schema", (text, error) => {
      const result = validateJson(text, schema);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toMatch(error);
    });

    it("says where a syntax error is", () => {
      const result = validateJson('{\n  "a": 1,\n  "b": }');
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toMatch(/^not valid JSON: line 3, column 8: /);
    });

    it.each([
      ["", "the output is empty"],
      ['{"a": 1e999}', "not valid JSON: a number is out of range"],
      ['{"a": "\uFFFD"}', "the output contains invalid UTF-8"],
    ])("refuses %j", (text, error) => {
      expect(validateJson(text)).toEqual({ ok: false, error });
    });

    it("reports a schema Ajv cannot compile", () => {
      const result = validateJson("{}", { type: "nonsense" });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toMatch(/^the JSON schema is not valid/);
    });
  });

  describe("validateMarkdown", () => {
    it("returns the kinds of the blocks", () => {
      const text =
        "# Title\n\nSome *text* with `code`.\n\n- one\n- two\n\n1. first\n\n```ts\nconst x = 1;\n```\n";
      expect(validateMarkdown(text)).toEqual({
        ok: true,
        value: { blocks: ["heading", "paragraph", "list", "list", "code"] },
      });
    });

    it("accepts HTML inside a code block", () => {
      expect(validateMarkdown("```html\n<script>alert(1)</script>\n```\n").ok).toBe(true);
    });

    it.each([
      ["", /empty/],
      [" \n\n", /empty/],
      ["Intro\n\n```js\nconst x = 1;\n", /line 3: a code block is not closed/],
      ["<script>alert(1)</script>\n", /raw HTML is not allowed: <script>/],
      ["Text\n\n<div>\nhi\n</div>\n", /line 3: raw HTML is not allowed/],
      ["Click <img src=x onerror=alert(1)> here\n", /raw HTML is not allowed/],
      ["- item with <b>bold</b>\n", /raw HTML is not allowed/],
    ])("refuses %j", (text, error) => {
      const result = validateMarkdown(text);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toMatch(error);
    });
  });

  describe.skipIf(!pythonAvailable())("validatePython", () => {
    it("accepts the safe subset and returns the code", async () => {
      const code = [
        "import math",
        "from collections import Counter",
        "",
        "class Shape:",
        "    def area(self, r=1):",
        "        # comment",
        "        return math.pi * r ** 2",
        "",
        "for i in range(3):",
        "    if i % 2 == 0:",
        "        print(Counter([i]))",
        "    elif i > 1:",
        "        pass",
        "    else:",
        "        break",
        "",
      ].join("\n");
      await expect(validatePython(code)).resolves.toEqual({ ok: true, value: code });
    });

    it("allows re.compile (an attribute, not the built-in)", async () => {
      await expect(validatePython("import re\np = re.compile('a+')\n")).resolves.toMatchObject({ ok: true });
    });

    it("reports a syntax error with its line and column", async () => {
      await expect(validatePython("def f(:\n    pass\n")).resolves.toMatchObject({
        ok: false,
        error: expect.stringMatching(/^line 1, column \d+: /) as unknown,
      });
      await expect(validatePython("if x:\npass\n")).resolves.toMatchObject({
        ok: false,
        error: expect.stringMatching(/^line 2, column \d+: expected an indented block/) as unknown,
      });
    });

    it.each([
      ["exec('x = 1')\n", "line 1, column 1: 'exec' is not allowed"],
      ["y = eval('1+1')\n", "line 1, column 5: 'eval' is not allowed"],
      ["f = open('/etc/passwd')\n", "line 1, column 5: 'open' is not allowed"],
      ["m = __import__('os')\n", "line 1, column 5: '__import__' is not allowed"],
      ["c = compile('1', 'f', 'eval')\n", "line 1, column 5: 'compile' is not allowed"],
      ["import os\n", "line 1, column 1: import of 'os' is not allowed"],
      ["import math, subprocess\n", "line 1, column 1: import of 'subprocess' is not allowed"],
      ["from sys import argv\n", "line 1, column 1: import from 'sys' is not allowed"],
      ["import shutil as s\n", "line 1, column 1: import of 'shutil' is not allowed"],
      ["def f():\n    import socket\n", "line 2, column 5: import of 'socket' is not allowed"],
      ["from os.path import join\n", "line 1, column 1: import from 'os.path' is not allowed"],
      ["from . import x\n", "line 1, column 1: import from '.' is not allowed"],
      ["x = ().__class__.__bases__\n", "line 1, column 5: '.__bases__' is not allowed"],
    ])("refuses %j", async (code, error) => {
      await expect(validatePython(code)).resolves.toEqual({ ok: false, error });
    });

    it("refuses empty code", async () => {
      await expect(validatePython("  \n")).resolves.toEqual({ ok: false, error: "the code is empty" });
    });

    it("kills a check that runs past its timeout", async () => {
      const huge = `x = ${"(".repeat(50)}1${")".repeat(50)}\n`.repeat(20_000);
      const result = await validatePython(huge, { timeoutMs: 1 });
      expect(result).toMatchObject({
        ok: false,
        error: expect.stringMatching(/did not finish in 1 ms/) as unknown,
      });
    });
  });
});
