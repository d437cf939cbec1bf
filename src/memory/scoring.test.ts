import { describe, expect, it } from "vitest";
import { factKey, relationFactKey, scoreExtraction, type LabelledUtterance } from "./scoring.js";
import type { ExtractedFact } from "./types.js";

const item: LabelledUtterance = {
  id: "t1",
  lang: "es",
  text: "Vivo en Cádiz",
  facts: [{ subject: "usuario", relation: "lives_in", object: "Cádiz", negated: false }],
};

function extracted(relation: string): ExtractedFact[] {
  return [{ subject: "Usuario", relation, object: "cadiz", negated: false } as ExtractedFact];
}

describe("memory", () => {
  describe("extraction scoring", () => {
    it("folds case and accents, and scores the relation only with the strict key", () => {
      expect(factKey({ subject: "Usuario", object: "cadiz", negated: false })).toBe(
        factKey({ subject: "usuario", object: "Cádiz", negated: false }),
      );
      const loose = scoreExtraction([item], () => extracted("works_at"));
      expect(loose).toMatchObject({ truePositives: 1, falsePositives: 0, falseNegatives: 0 });
      const strict = scoreExtraction([item], () => extracted("works_at"), relationFactKey);
      expect(strict).toMatchObject({ truePositives: 0, falsePositives: 1, falseNegatives: 1, recall: 0 });
      const right = scoreExtraction([item], () => extracted("lives_in"), relationFactKey);
      expect(right).toMatchObject({ truePositives: 1, precision: 1, recall: 1, f1: 1 });
    });
  });
});
