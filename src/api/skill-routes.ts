import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { App } from "../app.js";
import { maxUserIdLength } from "../memory/index.js";
import { AppError } from "../shared/index.js";
import type { SkillService } from "../skills/index.js";
import { toValidationError } from "./errors.js";
import { resolveUserId } from "./user-scope.js";

const runBody = z
  .object({
    input: z.string().min(1).max(100_000),
    user: z.string().min(1).max(maxUserIdLength).optional(),
    /** A JSON schema the output must satisfy (skills that take one: `json_extract`). */
    schema: z.record(z.string(), z.unknown()).optional(),
    seed: z
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .optional(),
  })
  .strict();

const nameParams = z.object({ name: z.string().min(1).max(64) }).strict();

/**
 * `/v1/skills`: list the skills and run one. A run answers 200 only with output that passed the skill's
 * validator; after the retries it is a 422 `SKILL_OUTPUT_INVALID`. Runs act as the request's user.
 */
export function registerSkillRoutes(fastify: FastifyInstance, app: App): void {
  const skillsOf = (): SkillService => {
    if (app.skills === undefined)
      throw new AppError("ROUTE_NOT_FOUND", "skills are turned off on this server (skills.enabled: false)");
    return app.skills;
  };

  fastify.get("/v1/skills", () => ({
    object: "list",
    data: (app.skills?.list() ?? []).map((skill) => ({
      name: skill.name,
      object: "skill",
      description: skill.description,
      output: skill.outputKind,
      accepts_schema: skill.acceptsSchema,
    })),
  }));

  fastify.post("/v1/skills/:name", async (request) => {
    const params = nameParams.safeParse(request.params);
    if (!params.success) throw toValidationError(params.error);
    const skills = skillsOf();
    const skill = skills.registry.find(params.data.name);
    if (skill === undefined)
      throw new AppError(
        "NOT_FOUND",
        `no skill "${params.data.name}"; available: ${skills
          .list()
          .map((s) => s.name)
          .join(", ")}`,
        { param: "name" },
      );
    const parsed = runBody.safeParse(request.body ?? {});
    if (!parsed.success) throw toValidationError(parsed.error);
    const body = parsed.data;
    const result = await skills.run(skill, {
      input: body.input,
      userId: resolveUserId(request, body.user),
      signal: request.sarai.signal,
      ...(body.schema === undefined ? {} : { schema: body.schema }),
      ...(body.seed === undefined ? {} : { seed: body.seed }),
    });
    app.recordGeneration(skill.role ?? "main", result.response);
    return {
      object: "skill.result",
      skill: result.skill,
      output: result.output,
      value: result.value,
      attempts: result.attempts,
      errors: result.errors,
      usage: {
        prompt_tokens: result.usage.promptTokens,
        completion_tokens: result.usage.completionTokens,
        total_tokens: result.usage.promptTokens + result.usage.completionTokens,
      },
    };
  });
}
