import { describe, expect, it } from "vitest";

import {
  checkDraftPairs,
  defaultModelAlias,
  findModelAlias,
  isDraftCompatible,
  modelAliases,
} from "./model-aliases.js";
import type { ModelAlias } from "./model-aliases.js";
import { parseModelSource } from "./model-source.js";

function getAlias(name: string): ModelAlias {
  const alias = findModelAlias(name);
  if (alias === undefined) throw new Error(`no alias ${name}`);
  return alias;
}

describe("model-aliases", () => {
  describe("catalogue", () => {
    it("has unique lower-case names and hf: URIs naming a .gguf file in the publisher's GGUF repo", () => {
      const names = modelAliases.map((alias) => alias.name);
      expect(new Set(names).size).toBe(names.length);
      for (const alias of modelAliases) {
        expect(alias.name).toBe(alias.name.toLowerCase());
        const source = parseModelSource(alias.uri);
        expect(source.kind, alias.name).toBe("hf");
        if (source.kind !== "hf") continue;
        expect(source.repo.endsWith("-GGUF"), alias.name).toBe(true);
        expect(["Qwen", "LiquidAI"]).toContain(source.user);
        expect(source.file.toLowerCase()).toContain(alias.quantization.toLowerCase());
      }
    });

    it("defaults to the small Qwen2.5 main model", () => {
      const alias = getAlias(defaultModelAlias);
      expect(alias.name).toBe("qwen2.5-1.5b");
      expect(alias.role).toBe("main");
      expect(alias.uri).toBe("hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf");
    });

    it("records the Qwen2.5 and LFM2 vocabularies", () => {
      for (const name of ["qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-3b"]) {
        expect(getAlias(name).vocabulary).toEqual({ family: "qwen2", size: 151_936 });
      }
      expect(getAlias("qwen2.5-7b").vocabulary).toEqual({ family: "qwen2", size: 152_064 });
      expect(getAlias("lfm2-1.2b").vocabulary).toEqual({ family: "lfm2", size: 65_536 });
    });

    it("has one draft model, for every Qwen2.5 main model, and a fallback that drafts for nothing", () => {
      const drafts = modelAliases.filter((alias) => alias.role === "draft");
      expect(drafts.map((alias) => alias.name)).toEqual(["qwen2.5-0.5b"]);
      const qwenMains = modelAliases.filter((alias) => alias.role === "main").map((alias) => alias.name);
      expect([...(drafts[0]?.draftFor ?? [])].sort()).toEqual(qwenMains.sort());
      expect(getAlias("lfm2-1.2b")).toMatchObject({ role: "fallback", draftFor: [] });
    });

    it("finds aliases ignoring case and surrounding spaces", () => {
      expect(findModelAlias("  LFM2-1.2B ")?.name).toBe("lfm2-1.2b");
      expect(findModelAlias("qwen2.5")).toBeUndefined();
    });
  });

  describe("checkDraftPairs", () => {
    it("finds no problem in the catalogue: every draft shares its main models' vocabulary", () => {
      expect(checkDraftPairs()).toEqual([]);
    });

    it("reports a draft whose vocabulary family differs from its main model's", () => {
      const lfm2 = getAlias("lfm2-1.2b");
      const badCatalogue = [
        ...modelAliases.filter((a) => a !== lfm2),
        { ...lfm2, draftFor: ["qwen2.5-1.5b"] },
      ];
      expect(checkDraftPairs(badCatalogue)).toEqual([
        { draft: "lfm2-1.2b", main: "qwen2.5-1.5b", reason: "vocabulary family lfm2 differs from qwen2" },
      ]);
    });

    it("reports vocabulary sizes more than 128 apart, unknown main models and self-drafting", () => {
      const draft = getAlias("qwen2.5-0.5b");
      const catalogue: ModelAlias[] = [
        getAlias("qwen2.5-1.5b"),
        { ...getAlias("qwen2.5-7b"), vocabulary: { family: "qwen2", size: 151_936 + 129 } },
        { ...draft, draftFor: ["qwen2.5-1.5b", "qwen2.5-7b", "qwen2.5-14b", "qwen2.5-0.5b"] },
      ];
      expect(checkDraftPairs(catalogue).map((problem) => [problem.main, problem.reason])).toEqual([
        ["qwen2.5-7b", "vocabulary sizes 151936 and 152065 differ by more than 128"],
        ["qwen2.5-14b", "no alias has this name"],
        ["qwen2.5-0.5b", "a model cannot draft for itself"],
      ]);
    });
  });

  describe("isDraftCompatible", () => {
    it("accepts the 128-token padding difference between Qwen2.5 7B and 0.5B, as llama.cpp does", () => {
      expect(isDraftCompatible(getAlias("qwen2.5-7b"), getAlias("qwen2.5-0.5b"))).toBe(true);
      expect(isDraftCompatible(getAlias("lfm2-1.2b"), getAlias("qwen2.5-0.5b"))).toBe(false);
    });
  });
});
