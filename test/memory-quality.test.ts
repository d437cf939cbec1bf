import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { detectLanguage, extractFacts, parseLabelledSet, scoreExtraction } from "../src/memory/index.js";

const dataDir = path.resolve(import.meta.dirname, "..", "bench", "data");
const load = (name: string) => {
  const file = path.join(dataDir, name);
  return parseLabelledSet(readFileSync(file, "utf8"), file);
};

const allSets = () => [
  ...load("memory-facts.jsonl"),
  ...load("memory-facts-holdout.jsonl"),
  ...load("memory-facts-holdout2.jsonl"),
];

describe("memory", () => {
  describe("extraction quality on the labelled sets", () => {
    for (const name of ["memory-facts.jsonl", "memory-facts-holdout.jsonl", "memory-facts-holdout2.jsonl"]) {
      it(`reaches 90% precision and 90% recall on (subject, object, polarity) in ${name}`, () => {
        const items = load(name);
        const score = scoreExtraction(items, (text) => extractFacts(text));
        const report = score.misses
          .slice(0, 15)
          .map(
            (miss) =>
              `${miss.id} ${miss.text}\n  missing ${miss.missing.join("; ")}\n  extra ${miss.extra.join("; ")}`,
          )
          .join("\n");
        expect(score.precision, report).toBeGreaterThanOrEqual(0.9);
        expect(score.recall, report).toBeGreaterThanOrEqual(0.9);
        for (const lang of ["es", "en"] as const) {
          expect(score.byLanguage[lang].precision, lang).toBeGreaterThanOrEqual(0.85);
          expect(score.byLanguage[lang].recall, lang).toBeGreaterThanOrEqual(0.85);
        }
      });
    }

    it("gives no fact for the questions, requests, chit-chat and hypotheticals", () => {
      const empty = allSets().filter((item) => item.facts.length === 0);
      expect(empty.length).toBeGreaterThanOrEqual(50);
      const spurious = empty.filter((item) => extractFacts(item.text).length > 0).map((item) => item.text);
      expect(spurious.length / empty.length, spurious.join("\n")).toBeLessThanOrEqual(0.05);
    });

    it("detects the language of at least 97% of the utterances", () => {
      const items = allSets();
      const wrong = items.filter((item) => detectLanguage(item.text) !== item.lang).map((item) => item.text);
      expect(wrong.length / items.length, wrong.join("\n")).toBeLessThanOrEqual(0.03);
    });
  });
});
