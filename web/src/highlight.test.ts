import { describe, expect, it } from "vitest";
import { escapeHtml, highlightCode, tokenizeCode } from "./highlight.js";

describe("web", () => {
  describe("highlightCode", () => {
    it("splits Python into keywords, strings, numbers and comments", () => {
      const tokens = tokenizeCode('def f(x):\n    return x + 1  # add\ns = """a\nb"""', "python");
      const kinds = (kind: string) => tokens.filter((t) => t.kind === kind).map((t) => t.text);
      expect(kinds("keyword")).toEqual(["def", "return"]);
      expect(kinds("number")).toEqual(["1"]);
      expect(kinds("comment")).toEqual(["# add"]);
      expect(kinds("string")).toEqual(['"""a\nb"""']);
    });

    it("treats SQL keywords case-insensitively and keeps the text of every token", () => {
      const code = "SELECT name FROM users WHERE id = 'a''b' -- why";
      const tokens = tokenizeCode(code, "sql");
      expect(tokens.map((t) => t.text).join("")).toBe(code);
      expect(tokens.filter((t) => t.kind === "keyword").map((t) => t.text)).toEqual([
        "SELECT",
        "FROM",
        "WHERE",
      ]);
    });

    it("does not take a number inside an identifier or a # inside a word", () => {
      expect(tokenizeCode("x1 = a#b", "bash").filter((t) => t.kind !== "plain")).toEqual([]);
    });

    it("escapes every token and leaves unknown languages as escaped plain text", () => {
      expect(highlightCode('"<script>"', "ts")).toBe(
        '<span class="tok-string">&quot;&lt;script&gt;&quot;</span>',
      );
      expect(highlightCode("<a href='x'>", "klingon")).toBe(escapeHtml("<a href='x'>"));
      expect(escapeHtml(`&<>"'`)).toBe("&amp;&lt;&gt;&quot;&#39;");
    });
  });
});
