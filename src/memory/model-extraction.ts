import { z } from "zod";
import { normalizeKey } from "./normalize.js";
import { canonicalRelation, speakerSubjects } from "./relations.js";
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

const modelFactSchema = z
  .object({
    subject: z.string().trim().min(1).max(60),
    relation: z.string().trim().min(1).max(40),
    object: z.string().trim().min(1).max(80),
    negated: z.boolean(),
  })
  .strict();

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

/** What became of a model's answer: the facts kept, and how many items were dropped and why. */
export interface ModelOutput {
  facts: ExtractedFact[];
  /** Items that were not a fact of the schema (wrong types, empty or overlong fields, not an object). */
  invalid: number;
  /** Items whose relation is outside the vocabulary, even after its aliases. */
  unknownRelation: number;
  /** True when the answer itself was not `{"facts": [...]}`. */
  malformed: boolean;
}

const speakerWords: ReadonlySet<string> = new Set([
  "i",
  "me",
  "myself",
  "user",
  "the user",
  "speaker",
  "the speaker",
  "yo",
  "usuario",
  "el usuario",
  "hablante",
  "el hablante",
]);
const leadingArticles: Record<Language, RegExp> = {
  es: /^(?:el|la|los|las|un|una|unos|unas|lo)\s+/iu,
  en: /^(?:the|a|an|some)\s+/iu,
};

/**
 * The rules' entity conventions (`extract/CONVENTIONS.md`) applied to a model's subject: the speaker is `user` /
 * `usuario`, "my sister" is `user's sister` / `hermana de usuario`, a lowercase name is capitalised.
 */
function normalizeModelSubject(subject: string, language: Language): string {
  const speaker = language === "es" ? "usuario" : "user";
  const text = subject.replace(/\s+/gu, " ").trim();
  if (speakerWords.has(normalizeKey(text))) return speaker;
  const possessed = /^(?:my|mi|mis)\s+(.+)$/iu.exec(text)?.[1];
  if (possessed !== undefined)
    return language === "es" ? `${possessed.toLowerCase()} de usuario` : `user's ${possessed.toLowerCase()}`;
  if (/^(?:user's|the user's)\s/iu.test(text)) return text.replace(/^(?:the\s+)?user's/iu, "user's");
  if (text === text.toLowerCase() && !/\sde\s/u.test(text))
    return text.replace(
      /(^|\s)(\p{Ll})/gu,
      (_, space: string, letter: string) => space + letter.toUpperCase(),
    );
  return text;
}

/** A model's object as the rules write it: no leading article, no trailing punctuation. */
function normalizeModelObject(object: string, language: Language): string {
  return object
    .replace(/\s+/gu, " ")
    .trim()
    .replace(leadingArticles[language], "")
    .replace(/[.,;:!?]+$/u, "")
    .trim();
}

/**
 * The model's answer as facts, with the rules' normalisation: each item is validated on its own (a bad item is
 * dropped, never the whole answer), its relation mapped onto the closed vocabulary (an unknown one is dropped)
 * and its subject and object written as the rules write them.
 */
export function parseModelOutput(raw: unknown, language: Language = "en"): ModelOutput {
  const output: ModelOutput = { facts: [], invalid: 0, unknownRelation: 0, malformed: false };
  if (typeof raw !== "object" || raw === null || !Array.isArray((raw as { facts?: unknown }).facts))
    return { ...output, malformed: true };
  const items = (raw as { facts: unknown[] }).facts;
  output.invalid += Math.max(0, items.length - maxModelFacts);
  for (const item of items.slice(0, maxModelFacts)) {
    const parsed = modelFactSchema.safeParse(item);
    if (!parsed.success) {
      output.invalid++;
      continue;
    }
    const relation = canonicalRelation(parsed.data.relation);
    if (relation === undefined) {
      output.unknownRelation++;
      continue;
    }
    const subject = normalizeModelSubject(parsed.data.subject, language);
    const object = normalizeModelObject(parsed.data.object, language);
    if (subject === "" || object === "") {
      output.invalid++;
      continue;
    }
    output.facts.push({
      subject,
      relation,
      object,
      negated: parsed.data.negated,
      confidence: modelOnlyConfidence,
    });
  }
  return output;
}

/** `parseModelOutput`'s facts only. */
export function parseModelFacts(raw: unknown, language: Language = "en"): ExtractedFact[] {
  return parseModelOutput(raw, language).facts;
}

/**
 * Rules first; a model fact the rules also found raises its confidence and is marked `both`; one only the model
 * found is added with a lower confidence, marked `model`; one that contradicts a rule fact's polarity is dropped
 * (the rules saw the negation). Rule facts the model did not find are marked `rules`.
 */
export function mergeFacts(
  rules: readonly ExtractedFact[],
  model: readonly ExtractedFact[],
): ExtractedFact[] {
  // `user` and `usuario` are one subject, as in the store.
  const subjectKey = (subject: string) =>
    speakerSubjects.has(normalizeKey(subject)) ? "@user" : normalizeKey(subject);
  const key = (fact: ExtractedFact) =>
    `${subjectKey(fact.subject)}\u0000${fact.relation}\u0000${normalizeKey(fact.object)}`;
  const merged: ExtractedFact[] = rules.map((fact) => ({ ...fact, extractor: "rules" }));
  const byKey = new Map(merged.map((fact) => [key(fact), fact]));
  for (const fact of model) {
    const existing = byKey.get(key(fact));
    if (existing === undefined) {
      const added: ExtractedFact = { ...fact, extractor: "model" };
      byKey.set(key(fact), added);
      merged.push(added);
    } else if (existing.negated === fact.negated && existing.extractor === "rules") {
      existing.extractor = "both";
      existing.confidence = Math.min(
        0.99,
        Math.round((Math.max(existing.confidence, fact.confidence) + 0.05) * 1000) / 1000,
      );
    }
  }
  return merged;
}
