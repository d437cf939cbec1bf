import type { ValidationResult } from "../validators/index.js";
import type { SkillCheck } from "../skill.js";

/** A validator's result as a skill check; a JSON validator's value is the parsed text when it gives none. */
export function toSkillCheck(result: ValidationResult, text: string, parse = true): SkillCheck {
  if (!result.ok) return { ok: false, error: result.error };
  if (result.value !== undefined) return { ok: true, value: result.value };
  if (!parse) return { ok: true, value: text };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, error: `not JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}
