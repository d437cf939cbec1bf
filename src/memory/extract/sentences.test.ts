import { describe, expect, it } from "vitest";
import { splitSentences } from "./sentences.js";

describe("memory", () => {
  describe("splitSentences", () => {
    it("splits at stops, line breaks and before an opening ¿ or ¡", () => {
      expect(splitSentences("Me llamo Ana. Vivo en Madrid, ¿y tú?\n¡Hola! Adiós")).toEqual([
        { text: "Me llamo Ana.", question: false },
        { text: "Vivo en Madrid,", question: false },
        { text: "¿y tú?", question: true },
        { text: "¡Hola!", question: false },
        { text: "Adiós", question: false },
      ]);
    });

    it("keeps abbreviations, initials, decimals and times inside a sentence", () => {
      expect(splitSentences("I work at St. Mary's Hospital. It opens at 10 a.m. on Mondays.")).toEqual([
        { text: "I work at St. Mary's Hospital.", question: false },
        { text: "It opens at 10 a.m. on Mondays.", question: false },
      ]);
      expect(splitSentences("Mi libro favorito es de J. K. Rowling y cuesta 9.99")).toHaveLength(1);
    });

    it("marks questions and drops empty pieces", () => {
      expect(splitSentences("Where do I work?!  ... ")).toEqual([
        { text: "Where do I work?!", question: true },
      ]);
      expect(splitSentences("")).toEqual([]);
      expect(splitSentences("?!?!")).toEqual([]);
    });

    it("stops at the sentence limit", () => {
      expect(splitSentences("Hola. ".repeat(1000), 10)).toHaveLength(10);
    });
  });
});
