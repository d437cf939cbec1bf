import { describe, expect, it } from "vitest";
import { createTypoIndex, withinOneEdit } from "./typo.js";

describe("memory", () => {
  describe("withinOneEdit", () => {
    it.each([
      ["trabajo", "trabjo", true],
      ["works", "wroks", true],
      ["vive", "viive", true],
      ["lives", "livse", true],
      ["lives", "loves", true],
      ["works", "words", true],
      ["works", "wrods", false],
      ["vive", "vivimos", false],
      ["same", "same", true],
    ] as const)("%s ~ %s is %s", (a, b, expected) => {
      expect(withinOneEdit(a, b)).toBe(expected);
      expect(withinOneEdit(b, a)).toBe(expected);
    });
  });

  describe("createTypoIndex", () => {
    const index = createTypoIndex(["trabajo", "trabaja", "vive", "works", "lives", "loves", "work"]);

    it("corrects one slip in a long word", () => {
      expect(index.correct("trabjo")).toBe("trabajo");
      expect(index.correct("wroks")).toBe("works");
      expect(index.correct("viive")).toBe("vive");
    });

    it("leaves short slips, exact words and ambiguous slips alone", () => {
      expect(index.correct("wrok")).toBeUndefined();
      expect(index.correct("trabajo")).toBeUndefined();
      // "trabaje" is one edit from both "trabajo" and "trabaja"
      expect(index.correct("trabaje")).toBeUndefined();
      expect(index.correct("lxves")).toBeUndefined();
      expect(index.correct("completely")).toBeUndefined();
    });
  });
});
