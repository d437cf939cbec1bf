import { AppError } from "../shared/index.js";

/** The server `sarai loop` asks for what lives in `sarai serve` (the model, its memory, its pruner). */
export interface LoopbackTarget {
  /** The server's base URL (`proactive.serverUrl`), e.g. `http://127.0.0.1:8080`. */
  serverUrl: string;
  /** Sent as `Authorization: Bearer …` when given (see `pickLoopApiKey`). */
  apiKey?: string | undefined;
}

export interface LoopbackRequest {
  method: "GET" | "POST";
  /** The route, e.g. `/v1/loop/prune`. */
  path: string;
  /** Sent as JSON when given. */
  body?: unknown;
  /** Gives up on the server after this long, in ms. */
  timeoutMs: number;
}

/**
 * One JSON request to the server over loopback; the parsed body of a 2xx answer. A server that is down, slow or
 * answers an error is an `AppError` (`UPSTREAM_UNAVAILABLE`, `UPSTREAM_TIMEOUT`) naming the server and what it
 * said, so the loop records a clear failed run. When `signal` fires first (the run's timeout, the loop
 * stopping), its reason is thrown instead.
 */
export async function requestServer(
  target: LoopbackTarget,
  request: LoopbackRequest,
  signal: AbortSignal,
): Promise<unknown> {
  const url = new URL(request.path, target.serverUrl).href;
  let response: Response;
  try {
    response = await fetch(url, {
      method: request.method,
      headers: {
        ...(request.body === undefined ? {} : { "content-type": "application/json" }),
        ...(target.apiKey === undefined ? {} : { authorization: `Bearer ${target.apiKey}` }),
      },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(request.timeoutMs)]),
    });
  } catch (error) {
    // The loop stopping or the run's own timeout: its reason, not a server problem.
    if (signal.aborted) throw signal.reason;
    const timedOut = error instanceof Error && error.name === "TimeoutError";
    throw new AppError(
      timedOut ? "UPSTREAM_TIMEOUT" : "UPSTREAM_UNAVAILABLE",
      timedOut
        ? `the server at ${target.serverUrl} did not answer within ${request.timeoutMs} ms`
        : `cannot reach the server at ${target.serverUrl}: ${describe(error)}`,
      { cause: error },
    );
  }
  const body = (await response.json().catch(() => ({}))) as { error?: { message?: unknown } } | null;
  if (!response.ok) {
    const message = typeof body?.error?.message === "string" ? body.error.message : response.statusText;
    throw new AppError(
      "UPSTREAM_UNAVAILABLE",
      `the server at ${target.serverUrl} answered ${response.status}: ${message}`,
    );
  }
  return body;
}

/**
 * The key `sarai loop` sends from `server.apiKeys`: the first one bound to no user (its requests then act as no
 * real user, and may use the system-wide `/v1/loop/*` routes), else the first one; none when there are no keys.
 */
export function pickLoopApiKey(
  keys: readonly (string | { key: string; user?: string | undefined })[],
): { key: string; user?: string | undefined } | undefined {
  const entries = keys.map((entry) => (typeof entry === "string" ? { key: entry } : entry));
  return entries.find((entry) => entry.user === undefined) ?? entries[0];
}

function describe(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (typeof cause?.code === "string") return cause.code;
  return error instanceof Error ? error.message : String(error);
}
