import type { ChatResponse, LlmBackend } from "../inference/index.js";
import { AppError, isAppError } from "../shared/index.js";
import { renderPrompt, type Skill, type SkillCall, type SkillResult } from "./skill.js";

/** Extra attempts after an invalid output when the caller gives none (`skills.retries`). */
export const defaultSkillRetries = 2;
const defaultTemperature = 0.2;

export interface RunSkillOptions extends Omit<SkillCall, "services"> {
  backend: LlmBackend;
  services?: SkillCall["services"];
  /** Extra attempts after an invalid output, 0–5. Default: 2. */
  retries?: number;
  /** Seed of the first attempt; attempt n uses `seed + n`. Default: random. */
  seed?: number;
}

/**
 * Runs a skill: renders its prompt, generates under its constraint, validates every output, and retries an
 * invalid one (an output cut by `maxTokens` included) with another seed. Returns only a validated output;
 * when the retries are spent it throws `SKILL_OUTPUT_INVALID` naming the skill, the attempts and the last error.
 * Errors that are not about the output (abort, a full queue, a bad schema) are thrown at once.
 */
export async function runSkill(skill: Skill, options: RunSkillOptions): Promise<SkillResult> {
  const retries = options.retries ?? defaultSkillRetries;
  if (!Number.isInteger(retries) || retries < 0 || retries > 5)
    throw new AppError("INVALID_REQUEST", `retries must be an integer from 0 to 5, got ${retries}`, {
      param: "retries",
    });
  if (options.schema !== undefined && skill.acceptsSchema !== true)
    throw new AppError("INVALID_REQUEST", `skill "${skill.name}" does not take a schema`, {
      param: "schema",
    });
  const call: SkillCall = {
    input: options.input,
    userId: options.userId,
    services: options.services ?? {},
    signal: options.signal,
    ...(options.schema === undefined ? {} : { schema: options.schema }),
    ...(options.turnId === undefined ? {} : { turnId: options.turnId }),
  };
  const messages = renderPrompt(skill, call);
  const constraint = skill.constraint(call);
  const baseSeed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const errors: string[] = [];
  const usage = { promptTokens: 0, completionTokens: 0 };
  for (let attempt = 0; attempt <= retries; attempt++) {
    let response: ChatResponse;
    try {
      response = await options.backend.chat(
        {
          messages,
          ...constraint,
          sampling: {
            temperature: skill.temperature ?? defaultTemperature,
            seed: (baseSeed + attempt) % 2 ** 31,
            maxTokens: skill.maxTokens,
          },
          ...(skill.role === undefined ? {} : { role: skill.role }),
        },
        options.signal,
      );
      usage.promptTokens += response.usage.promptTokens;
      usage.completionTokens += response.usage.completionTokens;
      if (response.finishReason === "length") {
        errors.push(`the output was cut at maxTokens (${skill.maxTokens})`);
        continue;
      }
    } catch (error) {
      // The backend validates JSON-schema output itself; its verdict is one more invalid attempt.
      if (isAppError(error) && error.code === "OUTPUT_INVALID") {
        errors.push(error.message);
        continue;
      }
      throw error;
    }
    const text = response.text;
    const check = await skill.validate(text, call);
    if (!check.ok) {
      errors.push(check.error);
      continue;
    }
    const value = skill.commit === undefined ? check.value : skill.commit(check.value, call);
    return { skill: skill.name, output: text, value, attempts: attempt + 1, errors, usage, response };
  }
  throw new AppError(
    "SKILL_OUTPUT_INVALID",
    `skill "${skill.name}" produced no valid output in ${retries + 1} attempt${retries === 0 ? "" : "s"}; ` +
      `last error: ${errors.at(-1) ?? "unknown"}`,
    { param: "skill" },
  );
}
