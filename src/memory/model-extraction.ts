import { z } from "zod";
import { normalizeKey } from "./normalize.js";
import { kinEn, kinEs } from "./extract/lexicon.js";
import { isKnownRelation, normalizeRelation } from "./relations.js";
import type { ExtractedFact, Language } from "./types.js";

/** A request for JSON constrained by a schema: what memory needs of a language model. */
export interface JsonRequest {
  system: string;
  user: string;
  schema: Readonly<Record<string, unknown>>;
  maxTokens: number;
}

/**
 * The port memory uses to ask a model for structured output; `app.ts` implements it with the inference
 * backend (grammar-constrained generation, validated against the schema).
 */
export interface JsonModel {
  generateJson(request: JsonRequest, signal: AbortSignal): Promise<unknown>;
}

const maxModelFacts = 12;

/** The JSON schema the model's output is constrained by (bounded strings: small models rarely close them). */
export const factExtractionSchema = Object.freeze({
  type: "object",
  properties: {
    facts: {
      type: "array",
      maxItems: maxModelFacts,
      items: {
        type: "object",
        properties: {
          subject: { type: "string", minLength: 1, maxLength: 60 },
          relation: { type: "string", minLength: 1, maxLength: 40 },
          object: { type: "string", minLength: 1, maxLength: 80 },
          negated: { type: "boolean" },
        },
        required: ["subject", "relation", "object", "negated"],
        additionalProperties: false,
      },
    },
  },
  required: ["facts"],
  additionalProperties: false,
});

const modelFactSchema = z.object({
  subject: z.string().trim().min(1).max(60),
  relation: z.string().trim().min(1).max(40),
  object: z.string().trim().min(1).max(80),
  negated: z.boolean(),
});

/** Confidence given to a fact only the model found. */
const modelOnlyConfidence = 0.75;

export function buildExtractionRequest(text: string, language: Language): JsonRequest {
  const speaker = language === "es" ? "usuario" : "user";
  return {
    system: [
      "Extract the facts the message states about people, places, pets and the speaker.",
      `Write the speaker as "${speaker}". Relations are English snake_case ids such as lives_in, works_at, is,`,
      "name, age, likes, dislikes, sister, friend, dog, birthday. Objects have no leading article.",
      "A denied fact has negated true and the positive relation. Questions, requests, wishes and",
      'hypotheticals state no fact: return {"facts": []}.',
    ].join(" "),
    user: text,
    schema: factExtractionSchema,
    maxTokens: 320,
  };
}

const kinRelations: ReadonlySet<string> = new Set(
  [...kinEs.values(), ...kinEn.values()].map((entry) => entry.relation),
);

/** The model's output as facts: items that do not validate are dropped one by one, never the whole answer. */
export function parseModelFacts(raw: unknown): ExtractedFact[] {
  if (typeof raw !== "object" || raw === null || !Array.isArray((raw as { facts?: unknown }).facts))
    return [];
  const facts: ExtractedFact[] = [];
  for (const item of (raw as { facts: unknown[] }).facts.slice(0, maxModelFacts)) {
    const parsed = modelFactSchema.safeParse(item);
    if (!parsed.success) continue;
    const relation = normalizeRelation(parsed.data.relation);
    // The vocabulary is closed for the model: a relation the rules and recall do not know is noise.
    if (relation === undefined || !isKnownRelation(relation, kinRelations)) continue;
    facts.push({ ...parsed.data, relation, confidence: modelOnlyConfidence });
  }
  return facts;
}

/**
 * Rules first; a model fact the rules also found raises its confidence; one only the model found is added
 * with a lower confidence; one that contradicts a rule fact's polarity is dropped (the rules saw the negation).
 */
export function mergeFacts(
  rules: readonly ExtractedFact[],
  model: readonly ExtractedFact[],
): ExtractedFact[] {
  const key = (fact: ExtractedFact) =>
    `${normalizeKey(fact.subject)}\u0000${fact.relation}\u0000${normalizeKey(fact.object)}`;
  const merged = rules.map((fact) => ({ ...fact }));
  const byKey = new Map(merged.map((fact) => [key(fact), fact]));
  for (const fact of model) {
    const existing = byKey.get(key(fact));
    if (existing === undefined) {
      const added = { ...fact };
      byKey.set(key(fact), added);
      merged.push(added);
    } else if (existing.negated === fact.negated) {
      existing.confidence = Math.min(
        0.99,
        Math.round((Math.max(existing.confidence, fact.confidence) + 0.05) * 1000) / 1000,
      );
    }
  }
  return merged;
}
