import { describe, expect, it } from "vitest";
import {
  buildExtractionRequest,
  factExtractionSchema,
  mergeFacts,
  parseModelOutput,
} from "./model-extraction.js";
import type { ExtractedFact } from "./types.js";

const item = (overrides: Record<string, unknown> = {}) => ({
  subject: "user",
  relation: "lives_in",
  object: "Lisboa",
  negated: false,
  ...overrides,
});

function rule(overrides: Partial<ExtractedFact> = {}): ExtractedFact {
  return {
    subject: "usuario",
    relation: "lives_in",
    object: "Madrid",
    confidence: 0.9,
    negated: false,
    ...overrides,
  };
}

describe("memory", () => {
  describe("model extraction", () => {
    describe("parseModelOutput", () => {
      it("says the answer is malformed when it is not {facts: [...]}, and keeps nothing", () => {
        for (const raw of [null, "garbage", 42, [], { facts: "no" }, { fact: [] }])
          expect(parseModelOutput(raw, "en"), JSON.stringify(raw)).toEqual({
            facts: [],
            invalid: 0,
            unknownRelation: 0,
            malformed: true,
          });
        expect(parseModelOutput({ facts: [] }, "en").malformed).toBe(false);
      });

      it("drops items of the wrong types one by one and counts them", () => {
        const output = parseModelOutput(
          {
            facts: [
              item(),
              item({ negated: "no" }),
              item({ subject: 7 }),
              item({ object: "" }),
              item({ relation: "x".repeat(41) }),
              { subject: "Ana", relation: "is", object: "médica" },
              "junk",
              null,
              item({ extra: true }),
            ],
          },
          "en",
        );
        expect(output.facts.map((f) => [f.subject, f.relation, f.object])).toEqual([
          ["user", "lives_in", "Lisboa"],
        ]);
        expect(output.invalid).toBe(8);
        expect(output.malformed).toBe(false);
      });

      it("canonicalises relation aliases and drops (and counts) relations outside the vocabulary", () => {
        const output = parseModelOutput(
          {
            facts: [
              item({ relation: "resides in" }),
              item({ relation: "Employed-By", object: "Siemens" }),
              item({ relation: "hermana", object: "Marta" }),
              item({ relation: "favourite colour", object: "verde" }),
              item({ relation: "vibes_with", object: "jazz" }),
              item({ relation: "collects", object: "stamps" }),
            ],
          },
          "en",
        );
        expect(output.facts.map((f) => [f.relation, f.object])).toEqual([
          ["lives_in", "Lisboa"],
          ["works_at", "Siemens"],
          ["sister", "Marta"],
          ["favorite_color", "verde"],
        ]);
        expect(output.unknownRelation).toBe(2);
      });

      it("writes subjects and objects as the rules do, in each language", () => {
        const en = parseModelOutput(
          {
            facts: [
              item({ subject: "I", object: "the Hague." }),
              item({ subject: "The user", relation: "works_at", object: "a bakery" }),
              item({ subject: "my sister", relation: "lives_in", object: "Porto" }),
              item({ subject: "lucía", relation: "likes", object: "jazz" }),
            ],
          },
          "en",
        ).facts;
        expect(en.map((f) => [f.subject, f.object])).toEqual([
          ["user", "Hague"],
          ["user", "bakery"],
          ["user's sister", "Porto"],
          ["Lucía", "jazz"],
        ]);
        const es = parseModelOutput(
          {
            facts: [
              item({ subject: "yo", object: "la Coruña" }),
              item({ subject: "user", relation: "trabaja en", object: "el Hospital La Paz" }),
              item({ subject: "mi hermana", relation: "vive en", object: "Sevilla" }),
              item({ subject: "juan carlos", relation: "es", object: "médico" }),
            ],
          },
          "es",
        ).facts;
        expect(es.map((f) => [f.subject, f.relation, f.object])).toEqual([
          ["usuario", "lives_in", "Coruña"],
          ["usuario", "works_at", "Hospital La Paz"],
          ["hermana de usuario", "lives_in", "Sevilla"],
          ["Juan Carlos", "is", "médico"],
        ]);
        for (const fact of [...en, ...es]) expect(fact.confidence).toBe(0.75);
      });

      it("reads at most the schema's number of facts", () => {
        const output = parseModelOutput(
          { facts: Array.from({ length: 15 }, (_, i) => item({ object: `C${i}` })) },
          "en",
        );
        expect(output.facts).toHaveLength(12);
        expect(output.invalid).toBe(3);
        expect(factExtractionSchema.properties.facts.maxItems).toBe(12);
      });
    });

    describe("mergeFacts", () => {
      it("keeps provenance per fact: rules, model, or both when they agree", () => {
        const merged = mergeFacts(
          [
            rule(),
            rule({ relation: "likes", object: "café", negated: true }),
            rule({ relation: "age", object: "34" }),
          ],
          [
            rule({ subject: "user", object: "MADRID", confidence: 0.75 }),
            rule({ relation: "likes", object: "cafe", negated: false, confidence: 0.75 }),
            rule({ subject: "Ana", relation: "is", object: "médica", confidence: 0.75 }),
          ],
        );
        expect(
          merged.map((f) => [f.subject, f.relation, f.object, f.negated, f.confidence, f.extractor]),
        ).toEqual([
          ["usuario", "lives_in", "Madrid", false, 0.95, "both"],
          ["usuario", "likes", "café", true, 0.9, "rules"],
          ["usuario", "age", "34", false, 0.9, "rules"],
          ["Ana", "is", "médica", false, 0.75, "model"],
        ]);
      });

      it("counts a fact the model repeats once", () => {
        const merged = mergeFacts([rule()], [rule({ confidence: 0.75 }), rule({ confidence: 0.75 })]);
        expect(merged.map((f) => [f.confidence, f.extractor])).toEqual([[0.95, "both"]]);
      });
    });

    it("asks in the text's language for the speaker", () => {
      expect(buildExtractionRequest("Vivo en Vigo", "es").system).toContain('"usuario"');
      expect(buildExtractionRequest("I live in York", "en").system).toContain('"user"');
    });
  });
});
