import type { FastifyRequest } from "fastify";
import { AppError } from "../shared/index.js";

/**
 * The user a request acts as: the API key's bound user (a different `user` in the request is refused), else
 * the `user` the client names, else `anonymous`.
 */
export function resolveUserId(request: FastifyRequest, given: string | undefined, param = "user"): string {
  const bound = request.sarai.boundUser;
  if (bound !== undefined) {
    if (given !== undefined && given !== bound)
      throw new AppError(
        "FORBIDDEN",
        `this API key acts as user "${bound}"; ${param} must be absent or "${bound}"`,
        {
          param,
        },
      );
    return bound;
  }
  return given === undefined || given === "" ? "anonymous" : given;
}
