import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { extractFacts } from "./extract/index.js";
import { kinEn, kinEs } from "./extract/lexicon.js";
import { parseModelFacts } from "./model-extraction.js";
import { isKnownRelation, normalizeRelation, relationVocabulary } from "./relations.js";
import { parseLabelledSet } from "./scoring.js";

const kin = new Set([...kinEs.values(), ...kinEn.values()].map((entry) => entry.relation));

describe("memory", () => {
  describe("relation vocabulary", () => {
    it("folds spelling and maps aliases in both languages onto one canonical id", () => {
      for (const raw of [
        "lives in",
        "Lives-In",
        "resides_in",
        "moved_to",
        "vive_en",
        "Reside en",
        "se_mudó_a",
      ])
        expect(normalizeRelation(raw), raw).toBe("lives_in");
      expect(normalizeRelation("trabaja para")).toBe("works_at");
      expect(normalizeRelation("Apellido")).toBe("surname");
      expect(normalizeRelation("collects_stamps")).toBe("collects_stamps");
      expect(normalizeRelation("¿?")).toBeUndefined();
    });

    it("has no alias that is also a canonical id, nor one alias for two ids", () => {
      const aliases = Object.values(relationVocabulary).flat();
      expect(new Set(aliases).size).toBe(aliases.length);
      for (const alias of aliases) expect(Object.hasOwn(relationVocabulary, alias), alias).toBe(false);
    });

    it("knows every relation the rules extract from the labelled sets", () => {
      const dir = path.resolve(import.meta.dirname, "..", "..", "bench", "data");
      const unknown = new Set<string>();
      let seen = 0;
      for (const name of [
        "memory-facts.jsonl",
        "memory-facts-holdout.jsonl",
        "memory-facts-holdout2.jsonl",
      ]) {
        const file = path.join(dir, name);
        for (const item of parseLabelledSet(readFileSync(file, "utf8"), file))
          for (const fact of extractFacts(item.text, item.lang)) {
            seen++;
            const relation = normalizeRelation(fact.relation) ?? fact.relation;
            if (!isKnownRelation(relation, kin)) unknown.add(fact.relation);
          }
      }
      expect(seen).toBeGreaterThan(300);
      expect([...unknown]).toEqual([]);
    });

    it("keeps a model's facts only under known relations, canonicalised", () => {
      const facts = parseModelFacts({
        facts: [
          { subject: "user", relation: "resides_in", object: "Lisboa", negated: false },
          { subject: "user", relation: "sister", object: "Marta", negated: false },
          { subject: "user", relation: "favorite color", object: "verde", negated: false },
          { subject: "user", relation: "vibes_with", object: "jazz", negated: false },
        ],
      });
      expect(facts.map((fact) => [fact.relation, fact.object])).toEqual([
        ["lives_in", "Lisboa"],
        ["sister", "Marta"],
        ["favorite_color", "verde"],
      ]);
    });
  });
});
