import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { App } from "../app.js";
import { createGuardChecker } from "../assemble.js";
import { guardSources, type InjectionGuard } from "../security/index.js";
import { AppError } from "../shared/index.js";
import { toValidationError } from "./errors.js";

/** Texts one request may check. */
const maxTexts = 256;

const checkBody = z
  .object({
    text: z.string().optional(),
    texts: z.array(z.string()).min(1).max(maxTexts).optional(),
    source: z.enum(guardSources).default("user"),
  })
  .strict();

/** `POST /v1/guard/check`: the injection guard's verdict on one text or a batch, without running a turn. */
export function registerGuardRoutes(fastify: FastifyInstance, app: App): void {
  let checker: InjectionGuard | undefined;
  fastify.post("/v1/guard/check", (request) => {
    const parsed = checkBody.safeParse(request.body ?? {});
    if (!parsed.success) throw toValidationError(parsed.error);
    const { text, texts, source } = parsed.data;
    if ((text === undefined) === (texts === undefined))
      throw new AppError("INVALID_REQUEST", "give exactly one of text (a string) or texts (an array)", {
        param: text === undefined ? "text" : "texts",
      });
    const guard = (checker ??= createGuardChecker(app.config));
    const results = (texts ?? [text ?? ""]).map((item, index) => {
      const verdict = guard.check(item);
      const action = verdict.verdict === "attack" ? guard.policyFor(source) : "allow";
      return {
        index,
        ...verdict,
        action,
        ...(action === "sanitize" ? { sanitized: guard.sanitize(item) } : {}),
      };
    });
    return { object: "guard.check", source, threshold: guard.threshold, results };
  });
}
