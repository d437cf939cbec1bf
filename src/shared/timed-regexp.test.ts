import { describe, expect, it } from "vitest";
import { createTimedRegExp, RegExpTimeoutError } from "./timed-regexp.js";

describe("shared", () => {
  describe("createTimedRegExp", () => {
    it("matches like a RegExp, with flags", () => {
      expect(createTimedRegExp("^a+b$").test("aaab")).toBe(true);
      expect(createTimedRegExp("^a+b$").test("aaac")).toBe(false);
      expect(createTimedRegExp("^ñ+$", "u").test("ññ")).toBe(true);
      expect(createTimedRegExp("^A", "i").test("abc")).toBe(true);
    });

    it("stops a catastrophically backtracking match at its timeout instead of blocking", () => {
      const started = performance.now();
      expect(() => createTimedRegExp("^(a+)+$", "", 50).test(`${"a".repeat(40)}!`)).toThrow(
        RegExpTimeoutError,
      );
      // Without the timeout this match takes minutes; the bound is generous for a loaded machine.
      expect(performance.now() - started).toBeLessThan(5_000);
      // The same object keeps working afterwards.
      const again = createTimedRegExp("^(a+)+$", "", 50);
      expect(again.test("aaaa")).toBe(true);
    });

    it("refuses a pattern that does not compile", () => {
      expect(() => createTimedRegExp("(")).toThrow(SyntaxError);
    });
  });
});
