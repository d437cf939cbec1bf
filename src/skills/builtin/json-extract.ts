import { validateJson } from "../validators/index.js";
import type { Skill, SkillCheck } from "../skill.js";
import { toSkillCheck } from "./check.js";

/**
 * `json_extract`: the data the user asks for, as one JSON object. Any object under JSON-object mode; with a
 * per-call `schema`, generation runs under the grammar node-llama-cpp derives from it and the output is
 * validated against the full schema.
 */
export const jsonExtractSkill: Skill = {
  name: "json_extract",
  description: "Extracts the data the user asks for as one JSON object (optionally under a JSON schema).",
  outputKind: "json",
  acceptsSchema: true,
  maxTokens: 512,
  prompt: {
    system: [
      "You extract data from the user's text and answer with one JSON object and nothing else.",
      "Use short snake_case keys, copy values exactly as written, and use numbers and booleans where they fit.",
      "Leave out what the text does not say.",
    ].join(" "),
    user: "{{input}}",
  },
  constraint: (call) => (call.schema === undefined ? { jsonObject: true } : { jsonSchema: call.schema }),
  validate(text, call): SkillCheck {
    const check = toSkillCheck(validateJson(text, call.schema), text);
    if (!check.ok) return check;
    const value = check.value;
    if (typeof value !== "object" || value === null || Array.isArray(value))
      return { ok: false, error: "the output is JSON but not an object" };
    return check;
  },
};
