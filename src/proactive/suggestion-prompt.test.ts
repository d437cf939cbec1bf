import { describe, expect, it } from "vitest";
import type { Fact } from "../memory/index.js";
import { buildSuggestionMessages, suggestionLanguage } from "./suggestion-prompt.js";

// Tuesday 24 November 2026, noon local time.
const now = new Date(2026, 10, 24, 12).getTime();

let nextId = 1;
function fact(overrides: Partial<Fact>): Fact {
  return {
    id: nextId++,
    userId: "ana",
    subject: "usuario",
    relation: "birthday",
    object: "27 de noviembre",
    negated: false,
    confidence: 0.9,
    source: "user_input",
    messageId: null,
    when: null,
    mentions: 1,
    pinned: false,
    createdAt: now - 3_600_000,
    updatedAt: now - 3_600_000,
    validFrom: now - 3_600_000,
    validTo: null,
    supersededBy: null,
    ...overrides,
  };
}

describe("proactive loop", () => {
  describe("suggestion prompt", () => {
    it("writes a Spanish prompt with today's date and the day each fact falls on", () => {
      const messages = buildSuggestionMessages(
        [fact({}), fact({ relation: "appointment", object: "dentista", when: "mañana a las 10" })],
        now,
      );
      expect(messages.map((m) => m.role)).toEqual(["system", "user"]);
      expect(messages[0]?.content).toMatch(/UNA sugerencia breve/);
      const user = messages[1]?.content ?? "";
      expect(user).toMatch(/^Hoy es martes, 24 de noviembre de 2026\./);
      expect(user).toContain(
        "- el usuario — cumpleaños: 27 de noviembre (dentro de 3 días: viernes, 27 de noviembre de 2026)",
      );
      expect(user).toContain(
        "- el usuario — cita: dentista, mañana a las 10 (mañana: miércoles, 25 de noviembre de 2026)",
      );
    });

    it("writes an English prompt for facts told in English", () => {
      const messages = buildSuggestionMessages(
        [fact({ subject: "user", relation: "appointment", object: "dentist", when: "on Friday at 10" })],
        now,
      );
      expect(messages[0]?.content).toMatch(/ONE short, useful suggestion/);
      expect(messages[1]?.content).toMatch(/^Today is Tuesday/);
      expect(messages[1]?.content).toContain(
        "- the user — appointment: dentist, on Friday at 10 (in 3 days: Friday",
      );
    });

    it("follows the majority language, Spanish on a tie", () => {
      const en = fact({ subject: "user", object: "May 3" });
      const es = fact({});
      expect(suggestionLanguage([en, en, es])).toBe("en");
      expect(suggestionLanguage([en, es])).toBe("es");
      expect(suggestionLanguage([])).toBe("es");
    });
  });
});
