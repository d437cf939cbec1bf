import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AppError } from "../shared/index.js";
import { EntityMemory, formatFact } from "./entity-memory.js";
import { EntityStore } from "./entity-store.js";
import { mergeFacts, parseModelFacts } from "./model-extraction.js";
import type { ExtractedFact } from "./types.js";

let store: EntityStore;
let memory: EntityMemory;

function createMemory(overrides: Partial<ConstructorParameters<typeof EntityMemory>[0]> = {}): EntityMemory {
  return new EntityMemory({
    store,
    maxExtractChars: 200,
    recallTokens: 256,
    recallLimit: 24,
    storeAssistantFacts: true,
    ...overrides,
  });
}

beforeEach(() => {
  store = EntityStore.open({ file: ":memory:" });
  memory = createMemory();
});
afterEach(() => store.close());

describe("memory", () => {
  describe("EntityMemory", () => {
    describe("learn", () => {
      it("files 'me mudé a' and 'I moved to' under lives_in, closing where the user lived before", () => {
        memory.learn({ userId: "u", text: "Vivo en Madrid.", source: "user_input" });
        memory.learn({ userId: "u", text: "Me mudé a Sevilla el año pasado.", source: "user_input" });
        const active = store.recall({ userId: "u", subject: "usuario", relation: "lives_in" });
        expect(active.map((fact) => fact.object)).toEqual(["Sevilla"]);
        const all = store.recall({
          userId: "u",
          subject: "usuario",
          relation: "lives_in",
          includeHistory: true,
        });
        expect(all.map((fact) => [fact.object, fact.validTo === null])).toEqual(
          expect.arrayContaining([
            ["Sevilla", true],
            ["Madrid", false],
          ]),
        );
        memory.learn({ userId: "e", text: "I live in Porto.", source: "user_input" });
        memory.learn({ userId: "e", text: "I moved to Lisbon.", source: "user_input" });
        expect(
          store.recall({ userId: "e", subject: "user", relation: "lives_in" }).map((f) => f.object),
        ).toEqual(["Lisbon"]);
      });

      it("stores the user's facts at 0.9 and a reply's third-party facts at 0.7", () => {
        memory.learn({ userId: "u", text: "Mi hermana Lucía vive en Madrid.", source: "user_input" });
        memory.learn({ userId: "u", text: "Pedro trabaja en Google.", source: "assistant" });
        const lucia = store.recall({ userId: "u", subject: "Lucía" });
        expect(lucia).toEqual([
          expect.objectContaining({ object: "Madrid", confidence: 0.9, source: "user_input" }),
        ]);
        expect(store.recall({ userId: "u", subject: "Pedro" })).toEqual([
          expect.objectContaining({ object: "Google", confidence: 0.7, source: "assistant" }),
        ]);
      });

      it("drops a reply's first-person facts: the assistant's I is not the user", () => {
        const { results } = memory.learn({
          userId: "u",
          text: "I live in Paris and I love jazz.",
          source: "assistant",
        });
        expect(results).toEqual([]);
        expect(store.stats("u").facts).toBe(0);
      });

      it("stores nothing from a reply when storeAssistantFacts is off", () => {
        memory = createMemory({ storeAssistantFacts: false });
        memory.learn({ userId: "u", text: "Pedro trabaja en Google.", source: "assistant" });
        expect(store.stats().facts).toBe(0);
      });

      it("reads only maxExtractChars and reports the cut", () => {
        const text = `Vivo en Bilbao. ${"x ".repeat(200)}Vivo en Cádiz.`;
        const { extraction } = memory.learn({ userId: "u", text, source: "user_input" });
        expect(extraction.truncated).toBe(true);
        expect(extraction.chars).toBe(200);
        expect(store.recall({ userId: "u" }).map((fact) => fact.object)).toEqual(["Bilbao"]);
      });

      it("refuses a lone surrogate naming the field", () => {
        expect(() => memory.learn({ userId: "u", text: "Vivo en \ud800", source: "user_input" })).toThrow(
          AppError,
        );
        expect(() => memory.extractRules("a\udc00")).toThrow(/lone surrogate at character 1/);
      });
    });

    describe("recallContext", () => {
      it("lists facts about the named entities and the user's own, within the token budget", () => {
        memory.learn({
          userId: "u",
          text: "Vivo en Bilbao. Mi hermana Lucía es médica.",
          source: "user_input",
        });
        store.remember({
          userId: "u",
          subject: "Marta",
          relation: "lives_in",
          object: "Sevilla",
          confidence: 0.9,
          source: "manual",
        });
        const context = memory.recallContext("u", "¿Qué hace lucia?");
        expect(context.prompt.split("\n")[0]).toMatch(/^Facts remembered/);
        expect(context.prompt).toContain("- Lucía · is · médica");
        expect(context.prompt).toContain("- usuario · lives in · Bilbao");
        expect(context.prompt).not.toContain("Marta");
        expect(context.tokens).toBe(Math.ceil(context.prompt.length / 4));

        const tight = createMemory({ recallTokens: 30 }).recallContext("u", "¿Qué hace lucia?");
        expect(tight.facts.length).toBeLessThan(context.facts.length);
        expect(tight.tokens).toBeLessThanOrEqual(30);
        expect(createMemory({ recallTokens: 0 }).recallContext("u", "lucia").prompt).toBe("");
      });

      it("is empty for a user with no facts", () => {
        memory.learn({ userId: "u", text: "Vivo en Bilbao.", source: "user_input" });
        expect(memory.recallContext("other", "Bilbao")).toEqual({ facts: [], prompt: "", tokens: 0 });
      });

      it("writes a negated fact with NOT and keeps the time qualifier", () => {
        const fact = store.remember({
          userId: "u",
          subject: "user",
          relation: "likes",
          object: "café",
          negated: true,
          when: "desde 2019",
          confidence: 0.9,
          source: "manual",
        }).fact;
        expect(formatFact(fact)).toBe("- user · NOT likes · café (desde 2019)");
      });
    });

    describe("model extraction", () => {
      const rule = (overrides: Partial<ExtractedFact> = {}): ExtractedFact => ({
        subject: "Lucía",
        relation: "lives_in",
        object: "Madrid",
        confidence: 0.9,
        negated: false,
        ...overrides,
      });

      it("keeps valid items of the model's output and drops the rest one by one", () => {
        expect(
          parseModelFacts({
            facts: [
              { subject: "Ana", relation: "Works At", object: "Repsol", negated: false },
              { subject: "", relation: "is", object: "x", negated: false },
              { subject: "Ana", relation: "!!", object: "x", negated: false },
              { subject: "Ana", relation: "is", object: "x" },
              "junk",
            ],
          }),
        ).toEqual([
          { subject: "Ana", relation: "works_at", object: "Repsol", negated: false, confidence: 0.75 },
        ]);
        expect(parseModelFacts(null)).toEqual([]);
        expect(parseModelFacts({ facts: "no" })).toEqual([]);
      });

      it("merges: agreement raises confidence, model-only facts are added, contradictions dropped", () => {
        const merged = mergeFacts(
          [rule(), rule({ relation: "likes", object: "café", negated: true })],
          [
            rule({ subject: "lucia", object: "MADRID", confidence: 0.75 }),
            rule({ relation: "likes", object: "cafe", negated: false, confidence: 0.75 }),
            rule({ subject: "Ana", relation: "is", object: "médica", confidence: 0.75 }),
          ],
        );
        expect(merged.map((fact) => [fact.subject, fact.object, fact.negated, fact.confidence])).toEqual([
          ["Lucía", "Madrid", false, 0.95],
          ["Lucía", "café", true, 0.9],
          ["Ana", "médica", false, 0.75],
        ]);
      });

      it("with both: rules at once, then the model's share with provenance per fact", async () => {
        const answers: unknown[] = [
          {
            facts: [
              { subject: "yo", relation: "vive en", object: "Bilbao", negated: false },
              { subject: "mi perro", relation: "named", object: "Toby", negated: false },
              { subject: "usuario", relation: "toca", object: "la guitarra", negated: false },
              { subject: "usuario", relation: "sueña_con", object: "Marte", negated: false },
            ],
          },
        ];
        memory = createMemory({
          extractor: "both",
          model: { generateJson: () => Promise.resolve(answers.shift()) },
        });
        const base = { userId: "u", text: "Vivo en Bilbao.", source: "user_input" } as const;
        expect(memory.learn(base).results.map((r) => [r.fact.object, r.fact.extractor])).toEqual([
          ["Bilbao", "rules"],
        ]);
        const learned = await memory.learnFromModel(base);
        expect(learned.extraction.facts.map((f) => [f.relation, f.object, f.extractor])).toEqual([
          ["lives_in", "Bilbao", "both"],
          ["name", "Toby", "model"],
          ["plays", "guitarra", "model"],
        ]);
        const stored = store.recall({ userId: "u" });
        expect(stored.map((f) => [f.subject, f.relation, f.object, f.extractor, f.mentions])).toEqual(
          expect.arrayContaining([
            ["usuario", "lives_in", "Bilbao", "both", 1],
            ["perro de usuario", "name", "Toby", "model", 1],
            ["usuario", "plays", "guitarra", "model", 1],
          ]),
        );
        expect(stored).toHaveLength(3);
        expect(memory.modelStats).toEqual({
          requests: 1,
          failures: 0,
          invalidFacts: 0,
          unknownRelations: 1,
          facts: 3,
        });
      });

      it("with model: the rules store nothing and a garbage answer stores nothing, counted", async () => {
        const errors: unknown[] = [];
        memory = createMemory({
          extractor: "model",
          model: { generateJson: () => Promise.resolve("definitely not facts") },
          onModelError: (error) => errors.push(error),
        });
        const base = { userId: "m", text: "Vivo en Bilbao.", source: "user_input" } as const;
        expect(memory.learn(base).results).toEqual([]);
        expect((await memory.learnFromModel(base)).results).toEqual([]);
        expect((await memory.extract("Vivo en Bilbao.")).facts).toEqual([]);
        expect(store.recall({ userId: "m" })).toEqual([]);
        expect(memory.modelStats).toMatchObject({ requests: 2, failures: 2, facts: 0 });
        expect(errors).toHaveLength(2);
        expect(errors[0]).toMatchObject({ code: "OUTPUT_INVALID" });
      });

      it("is rules only without a model, whatever the extractor says", async () => {
        memory = createMemory({ extractor: "model" });
        expect([memory.extractor, memory.hasModel]).toEqual(["rules", false]);
        const base = { userId: "r", text: "I moved to Lisbon.", source: "user_input" } as const;
        expect(memory.learn(base).results.map((r) => [r.fact.relation, r.fact.extractor])).toEqual([
          ["lives_in", "rules"],
        ]);
        expect((await memory.learnFromModel(base)).results).toEqual([]);
      });

      it("falls back to the rules when the model fails, and says so", async () => {
        const errors: unknown[] = [];
        memory = createMemory({
          model: {
            generateJson: () => Promise.reject(new Error("model down")),
          },
          onModelError: (error) => errors.push(error),
        });
        const result = await memory.extract("Vivo en Bilbao.");
        expect(result.facts.map((fact) => fact.object)).toEqual(["Bilbao"]);
        expect(errors).toHaveLength(1);
      });
    });
  });
});
