import { describe, expect, it } from "vitest";
import { matchDate, matchTime, readNumber } from "./time.js";
import { tokenize } from "./tokens.js";
import type { Language } from "../types.js";

/** The time expression that starts at the first token, as written, or undefined. */
function timeAtStart(text: string, lang: Language): string | undefined {
  const toks = tokenize(text, lang === "en");
  const end = matchTime(toks, 0, lang);
  const last = toks[end - 1];
  return end > 0 && last !== undefined ? text.slice(0, last.end) : undefined;
}

describe("memory", () => {
  describe("matchTime", () => {
    it.each([
      ["el martes a las 10 tengo cita", "el martes a las 10"],
      ["desde 2019 vivo aquí", "desde 2019"],
      ["desde hace tres años", "desde hace tres años"],
      ["el año pasado me mudé", "el año pasado"],
      ["la semana que viene", "la semana que viene"],
      ["mañana por la tarde", "mañana por la tarde"],
      ["todos los días", "todos los días"],
      ["el 3 de mayo de 1990", "el 3 de mayo de 1990"],
      ["hace dos años que", "hace dos años"],
    ] as const)("reads %s (es)", (text, expected) => {
      expect(timeAtStart(text, "es")).toBe(expected);
    });

    it.each([
      ["on Monday at 10am I have", "on Monday at 10am"],
      ["since 2019 I have", "since 2019"],
      ["for five years", "for five years"],
      ["last year I moved", "last year"],
      ["next Friday at 3 pm", "next Friday at 3 pm"],
      ["two years ago", "two years ago"],
      ["every day", "every day"],
    ] as const)("reads %s (en)", (text, expected) => {
      expect(timeAtStart(text, "en")).toBe(expected);
    });

    it("does not take places or things for times", () => {
      expect(timeAtStart("en Madrid", "es")).toBeUndefined();
      expect(timeAtStart("la casa", "es")).toBeUndefined();
      expect(timeAtStart("for Google", "en")).toBeUndefined();
      expect(timeAtStart("in London", "en")).toBeUndefined();
      expect(timeAtStart("may be", "en")).toBeUndefined();
    });
  });

  describe("matchDate", () => {
    it("reads dates that are a fact's value", () => {
      const es = tokenize("15 de agosto de 1992 en Bilbao", false);
      expect(matchDate(es, 0, "es")).toBe(5);
      const en = tokenize("August 15, 1992 in Bilbao", true);
      expect(matchDate(en, 0, "en")).toBe(4);
      expect(matchDate(tokenize("March 3rd", true), 0, "en")).toBe(2);
      expect(matchDate(tokenize("Madrid", false), 0, "es")).toBe(-1);
    });
  });

  describe("readNumber", () => {
    it("reads digits and number words", () => {
      expect(readNumber(tokenize("34 años", false), 0, "es")?.value).toBe(34);
      expect(readNumber(tokenize("treinta y cuatro años", false), 0, "es")).toEqual({ value: 34, end: 3 });
      expect(readNumber(tokenize("thirty-four", true), 0, "en")?.value).toBe(34);
      expect(readNumber(tokenize("thirty four", true), 0, "en")).toEqual({ value: 34, end: 2 });
      expect(readNumber(tokenize("many", true), 0, "en")).toBeUndefined();
    });
  });
});
