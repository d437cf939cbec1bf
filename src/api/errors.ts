import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import { AppError, errorCatalogue, isAppError, type ErrorCode } from "../shared/index.js";
import type { ErrorBody } from "./wire.js";

/** Seconds a client should wait after `QUEUE_FULL` before it retries. */
export const queueRetryAfterSeconds = 2;

/** A 400 `INVALID_REQUEST` naming the first invalid field of a request body. */
export function toValidationError(error: z.ZodError): AppError {
  const issue = error.issues[0];
  const param = issue === undefined || issue.path.length === 0 ? undefined : formatPath(issue.path);
  const message = issue === undefined ? "invalid request" : `${param ?? "body"}: ${describeIssue(issue)}`;
  return new AppError("INVALID_REQUEST", message, param === undefined ? {} : { param });
}

/** `value` parsed by `schema` (an absent body or query read as `{}`), else the 400 naming its first invalid field. */
export function parseRequest<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) throw toValidationError(parsed.error);
  return parsed.data;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  // zod leaves `input` out of issues (unless parsing with `reportInput`), so only the message tells a missing
  // field from one of the wrong type.
  if (issue.code === "invalid_type" && issue.message.endsWith("received undefined")) return "is required";
  if (issue.code === "unrecognized_keys")
    return `unknown field ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  return issue.message;
}

/** `messages[0].content` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let result = "";
  for (const key of path) {
    if (typeof key === "number") result += `[${key}]`;
    else result += result === "" ? String(key) : `.${String(key)}`;
  }
  return result;
}

/** Client-side statuses that say the server is short of something (queue, context, time), not that the client erred. */
const operationalCodes: ReadonlySet<string> = new Set(["QUEUE_FULL", "CONTEXT_OVERFLOW", "REQUEST_TIMEOUT"]);

/**
 * The one function that turns any error into an HTTP response: OpenAI-style body, the catalogue's status,
 * never a stack trace or a path. Unexpected errors are a generic 500 naming the request id; their details go
 * to the log only.
 */
export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const appError = classify(error, request);
  if (appError.code === "INTERNAL") {
    request.log.error({ err: error }, "unexpected error");
  } else if (appError.status >= 500 || operationalCodes.has(appError.code)) {
    // Structured (code and param, never the prompt): the self-repair detectors count these.
    request.log.warn(
      {
        code: appError.code,
        message: appError.message,
        ...(appError.param === undefined ? {} : { param: appError.param }),
      },
      "request failed",
    );
  }
  const message =
    appError.code === "INTERNAL"
      ? `internal error; the server log has the details under request id ${request.id}`
      : appError.message;
  if (appError.code === "QUEUE_FULL") void reply.header("retry-after", String(queueRetryAfterSeconds));
  const status = "httpStatus" in appError ? (appError.httpStatus as number) : appError.status;
  return reply
    .code(status)
    .header("x-request-id", request.id)
    .send(buildErrorBody(appError.code, message, appError.param));
}

export function buildErrorBody(code: ErrorCode, message: string, param?: string): ErrorBody {
  return {
    error: { message, type: errorCatalogue[code].type, param: param ?? null, code: code.toLowerCase() },
  };
}

/** Fastify's own client errors (bad JSON, wrong content type, body too large) keep their 4xx status. */
class ClientError extends AppError {
  readonly httpStatus: number;
  constructor(code: ErrorCode, message: string, httpStatus: number) {
    super(code, message);
    this.httpStatus = httpStatus;
  }
}

function classify(error: unknown, request: FastifyRequest): AppError {
  if (isAppError(error)) return error;
  const fastifyError = error as Partial<FastifyError> | undefined;
  const status = fastifyError?.statusCode;
  if (fastifyError?.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    // The route's own limit: server.bodyLimitKb, or on the chat route that plus room for one image.
    const limit = (request.routeOptions as { bodyLimit?: number } | undefined)?.bodyLimit;
    const named = limit === undefined ? "" : ` of ${Math.floor(limit / 1024)} KiB`;
    return new AppError(
      "PAYLOAD_TOO_LARGE",
      `the request body is over this route's limit${named} (server.bodyLimitKb; the chat route adds room for one vision.maxInputMb image)`,
    );
  }
  if (typeof status === "number" && status >= 400 && status < 500) {
    const message = typeof fastifyError?.message === "string" ? fastifyError.message : "invalid request";
    return new ClientError(status === 408 ? "REQUEST_TIMEOUT" : "INVALID_REQUEST", message, status);
  }
  return new AppError("INTERNAL", "unexpected error", { cause: error });
}
