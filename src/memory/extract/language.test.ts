import { describe, expect, it } from "vitest";
import { detectLanguage, languageScores } from "./language.js";

describe("memory", () => {
  describe("detectLanguage", () => {
    it.each([
      ["Mi hermana vive en Madrid", "es"],
      ["me llamo ana y tengo 30 años", "es"],
      ["¿Dónde trabaja Ana?", "es"],
      ["Odio los lunes", "es"],
      ["Tengo cita con el dentista", "es"],
      ["My sister lives in Madrid", "en"],
      ["I'm a nurse", "en"],
      ["Where do I work?", "en"],
      ["I don't like broccoli", "en"],
      ["Hola, I live in London and I work at Google", "en"],
      ["Vivo en New York con mi novio", "es"],
    ] as const)("reads %s as %s", (text, expected) => {
      expect(detectLanguage(text)).toBe(expected);
    });

    it("falls back when there is no evidence either way", () => {
      expect(detectLanguage("Toby")).toBe("es");
      expect(detectLanguage("ok", "en")).toBe("en");
      expect(detectLanguage("")).toBe("es");
      expect(detectLanguage("12345 !!!")).toBe("es");
    });

    it("counts Spanish-only characters and English contractions", () => {
      expect(languageScores("ñ").es).toBeGreaterThan(0);
      expect(languageScores("¿?").es).toBeGreaterThan(0);
      expect(languageScores("can't won't").en).toBeGreaterThan(0);
      expect(languageScores("Toby")).toEqual({ es: 0, en: 0 });
    });

    it("never throws", () => {
      for (const text of ["\u0000", "😀", "a".repeat(100_000), "\uD800", null as unknown as string]) {
        expect(() => detectLanguage(text)).not.toThrow();
      }
    });
  });
});
