import { describe, expect, it } from "vitest";
import type { Fact } from "../../memory/index.js";
import { actionableFacts, factLanguage, readDate } from "./actionable-facts.js";

/** Local times: the selector works in the server's calendar days. */
const at = (month: number, day: number, hour = 12, year = 2026) =>
  new Date(year, month - 1, day, hour).getTime();
// Tuesday 24 November 2026, noon.
const now = at(11, 24);

let nextId = 1;
function fact(overrides: Partial<Fact>): Fact {
  return {
    id: nextId++,
    userId: "ana",
    subject: "usuario",
    relation: "likes",
    object: "café",
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

const picked = (facts: Fact[], time = now) => actionableFacts(facts, time).map((a) => a.fact.object);

describe("proactive loop", () => {
  describe("actionableFacts", () => {
    describe("birthdays (es)", () => {
      it("picks a birthday in the next week, with the days left", () => {
        const birthday = fact({ relation: "birthday", object: "27 de noviembre" });
        const [found] = actionableFacts([birthday], now);
        expect(found).toMatchObject({ kind: "yearly", inDays: 3, dueAt: at(11, 27, 0) });
      });

      it("picks a birthday today and skips one months away", () => {
        expect(picked([fact({ relation: "birthday", object: "24 de noviembre" })])).toEqual([
          "24 de noviembre",
        ]);
        expect(picked([fact({ relation: "birthday", object: "3 de mayo" })])).toEqual([]);
      });

      it("finds a birthday across the new year and a numeric day/month one", () => {
        const late = at(12, 29);
        expect(picked([fact({ relation: "birthday", object: "2 de enero" })], late)).toEqual(["2 de enero"]);
        expect(picked([fact({ relation: "birthday", object: "14/02" })], at(2, 10))).toEqual(["14/02"]);
      });

      it("skips a birthday it cannot read, a negated one and a historic one", () => {
        expect(
          picked([
            fact({ relation: "birthday", object: "en primavera" }),
            fact({ relation: "birthday", object: "25 de noviembre", negated: true }),
            fact({ relation: "birthday", object: "26 de noviembre", validTo: now - 1000 }),
          ]),
        ).toEqual([]);
      });
    });

    describe("birthdays (en)", () => {
      it("reads 'May 3rd' and '3 May', month first for numeric dates", () => {
        const may1 = at(5, 1);
        expect(picked([fact({ subject: "user", relation: "birthday", object: "May 3rd" })], may1)).toEqual([
          "May 3rd",
        ]);
        expect(picked([fact({ subject: "Lucy", relation: "birthday", object: "3 May" })], may1)).toEqual([
          "3 May",
        ]);
        // 05/03 is 3 May in English, 5 March in Spanish.
        expect(picked([fact({ subject: "user", relation: "birthday", object: "05/03" })], may1)).toEqual([
          "05/03",
        ]);
        expect(picked([fact({ subject: "usuario", relation: "birthday", object: "05/03" })], may1)).toEqual(
          [],
        );
      });
    });

    describe("events", () => {
      it("reads a weekday relative to when it was said (es)", () => {
        // Said on Monday the 23rd: "el viernes" is Friday the 27th.
        const said = at(11, 23, 9);
        const dentist = fact({
          relation: "appointment",
          object: "dentista",
          when: "el viernes a las 10",
          updatedAt: said,
        });
        expect(actionableFacts([dentist], now)[0]).toMatchObject({
          kind: "event",
          dueAt: at(11, 27, 0),
          inDays: 3,
        });
      });

      it("reads 'on Friday at 10', 'tomorrow' and 'next week' (en)", () => {
        const said = at(11, 23, 9);
        const facts = [
          fact({
            subject: "user",
            relation: "appointment",
            object: "dentist",
            when: "on Friday at 10",
            updatedAt: said,
          }),
          fact({
            subject: "user",
            relation: "appointment",
            object: "doctor",
            when: "tomorrow",
            updatedAt: said,
          }),
          fact({
            subject: "user",
            relation: "travels_to",
            object: "Rome",
            when: "next week",
            updatedAt: said,
          }),
        ];
        // Soonest first: tomorrow (the 24th, today), Friday, next week.
        expect(picked(facts)).toEqual(["doctor", "dentist", "Rome"]);
      });

      it("drops an appointment whose day has passed", () => {
        const said = at(11, 16);
        expect(
          picked([fact({ relation: "appointment", object: "dentista", when: "mañana", updatedAt: said })]),
        ).toEqual([]);
      });

      it("keeps a fresh appointment with no readable day, and not a stale one", () => {
        const fresh = fact({
          relation: "appointment",
          object: "médico",
          when: null,
          updatedAt: now - 3_600_000,
        });
        const stale = fact({ relation: "appointment", object: "notario", when: null, updatedAt: at(11, 10) });
        const found = actionableFacts([fresh, stale], now);
        expect(found.map((a) => a.fact.object)).toEqual(["médico"]);
        expect(found[0]).toMatchObject({ dueAt: undefined, inDays: undefined });
      });

      it("takes any fact whose time is a near date, never a habitual or past one", () => {
        expect(
          picked([
            fact({ relation: "moves_to", object: "Sevilla", when: "el 1 de diciembre" }),
            fact({ relation: "lives_in", object: "Madrid", when: "desde 2019" }),
            fact({ relation: "plays", object: "tenis", when: "los viernes" }),
            fact({ subject: "user", relation: "plays", object: "chess", when: "on Fridays" }),
            fact({ subject: "user", relation: "appointment", object: "gym", when: "every Friday" }),
          ]),
        ).toEqual(["Sevilla"]);
      });
    });

    describe("readDate", () => {
      it("tells 'mañana' (tomorrow) from 'por la mañana' (in the morning)", () => {
        expect(readDate("mañana", "es", now)?.at).toBe(at(11, 25, 0));
        expect(readDate("mañana por la mañana", "es", now)?.at).toBe(at(11, 25, 0));
        expect(readDate("esta mañana", "es", now)?.at).toBe(at(11, 24, 0));
        expect(readDate("el lunes que viene", "es", at(11, 23))?.at).toBe(at(11, 30, 0));
      });

      it("rejects 30 February", () => {
        expect(readDate("30 de febrero", "es", now)).toBeUndefined();
      });
    });

    describe("factLanguage", () => {
      it("reads the speaker's subject first, then the words", () => {
        expect(factLanguage({ subject: "usuario", object: "dentist", when: null })).toBe("es");
        expect(factLanguage({ subject: "user", object: "dentista", when: null })).toBe("en");
        expect(factLanguage({ subject: "Lucía", object: "12 de junio", when: null })).toBe("es");
      });
    });
  });
});
