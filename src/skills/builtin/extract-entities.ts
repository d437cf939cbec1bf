import {
  buildExtractionRequest,
  detectLanguage,
  factExtractionSchema,
  mergeFacts,
  parseModelFacts,
  type ExtractedFact,
} from "../../memory/index.js";
import { validateJson } from "../validators/index.js";
import type { Skill, SkillCall } from "../skill.js";
import { toSkillCheck } from "./check.js";

/** Confidence of a fact the skill stores when the extractor is fully sure (memory's `skill` source). */
const skillConfidence = 0.8;
const fullExtractorConfidence = 0.9;

/** One fact as `extract_entities` returns it. */
export interface EntityFact {
  subject: string;
  relation: string;
  object: string;
  negated: boolean;
}

/** The value of `extract_entities`: the facts found and the ids of the facts stored for the user. */
export interface ExtractEntitiesValue {
  facts: EntityFact[];
  stored: number[];
}

/**
 * `extract_entities`: facts `{subject, relation, object, negated}` under memory's fact-extraction schema. The
 * valid facts, merged with what the rule extractor finds in the same text, are stored in the calling user's
 * memory (source `skill`); the result lists the stored ids. Without memory nothing is stored.
 */
export const extractEntitiesSkill: Skill = {
  name: "extract_entities",
  description:
    "Extracts facts (subject, relation, object, negated) from the input and stores them in memory.",
  outputKind: "json",
  needsMemory: true,
  maxTokens: 320,
  prompt: { system: buildExtractionRequest("", "en").system, user: "{{input}}" },
  messages(call: SkillCall) {
    const request = buildExtractionRequest(call.input, detectLanguage(call.input));
    return [
      { role: "system", content: request.system },
      { role: "user", content: request.user },
    ];
  },
  constraint: () => ({ jsonSchema: factExtractionSchema }),
  validate(text) {
    const check = toSkillCheck(validateJson(text, factExtractionSchema), text);
    if (!check.ok) return check;
    return { ok: true, value: parseModelFacts(check.value) };
  },
  commit(value, call): ExtractEntitiesValue {
    const modelFacts = value as ExtractedFact[];
    const memory = call.services.memory;
    if (memory === undefined) return { facts: modelFacts.map(toEntityFact), stored: [] };
    const merged = mergeFacts(memory.extractRules(call.input).facts, modelFacts);
    const results = memory.store.rememberMany(
      merged.map((fact) => ({
        userId: call.userId,
        subject: fact.subject,
        relation: fact.relation,
        object: fact.object,
        negated: fact.negated,
        confidence: Math.min(skillConfidence, (skillConfidence * fact.confidence) / fullExtractorConfidence),
        source: "skill",
        messageId: call.turnId ?? null,
        when: fact.when ?? null,
      })),
    );
    return { facts: merged.map(toEntityFact), stored: results.map((result) => result.fact.id) };
  },
};

function toEntityFact(fact: ExtractedFact): EntityFact {
  return { subject: fact.subject, relation: fact.relation, object: fact.object, negated: fact.negated };
}
