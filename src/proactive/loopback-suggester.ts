import { AppError } from "../shared/index.js";
import type { Suggester } from "./ports.js";
import { buildSuggestionMessages } from "./suggestion-prompt.js";

export interface LoopbackSuggesterOptions {
  /** The server's base URL (`proactive.serverUrl`), e.g. `http://127.0.0.1:8080`. */
  serverUrl: string;
  /** Sent as `Authorization: Bearer …` when given (the first of `server.apiKeys`). */
  apiKey?: string | undefined;
  /** Upper bound on the suggestion's length, in tokens. Default: `96`. */
  maxTokens?: number;
  /** Gives up on the server after this long, in ms. Default: `30000`. */
  timeoutMs?: number;
  /** The `model` field sent. Default: `sarai` (the main model). */
  model?: string;
  /**
   * The `user` the request acts as: never the user the suggestion is for, whose turn it would count as
   * (an active user gets no suggestion). Omitted when `undefined` (a key bound to a user sends none).
   * Default: `sarai-loop`.
   */
  user?: string | undefined;
}

interface ChatCompletionBody {
  choices?: { message?: { content?: unknown } }[];
  error?: { message?: unknown; code?: unknown };
}

/**
 * A suggester for `sarai loop`, which holds no model: it asks the running server for the suggestion over
 * `/v1/chat/completions`, so the model stays loaded once, in `sarai serve`. A server that is down or slow is
 * a failed run (the scheduler records it and retries per the action's policy), never a hang.
 */
export function createLoopbackSuggester(options: LoopbackSuggesterOptions): Suggester {
  const url = new URL("/v1/chat/completions", options.serverUrl).href;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const user = "user" in options ? options.user : "sarai-loop";
  return {
    async suggest(input, signal) {
      const messages = buildSuggestionMessages(input.facts, input.now);
      let response: Response;
      try {
        response = await fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` }),
          },
          body: JSON.stringify({
            model: options.model ?? "sarai",
            messages,
            max_tokens: options.maxTokens ?? 96,
            temperature: 0.7,
            ...(user === undefined ? {} : { user }),
          }),
          signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
        });
      } catch (error) {
        // The loop stopping or the run's own timeout: its reason, not a server problem.
        if (signal.aborted) throw signal.reason;
        const timedOut = error instanceof Error && error.name === "TimeoutError";
        throw new AppError(
          timedOut ? "UPSTREAM_TIMEOUT" : "UPSTREAM_UNAVAILABLE",
          timedOut
            ? `the server at ${options.serverUrl} did not answer within ${timeoutMs} ms`
            : `cannot reach the server at ${options.serverUrl}: ${describe(error)}`,
          { cause: error },
        );
      }
      const body = (await response.json().catch(() => ({}))) as ChatCompletionBody;
      if (!response.ok) {
        const message = typeof body.error?.message === "string" ? body.error.message : response.statusText;
        throw new AppError(
          "UPSTREAM_UNAVAILABLE",
          `the server at ${options.serverUrl} answered ${response.status}: ${message}`,
        );
      }
      const content = body.choices?.[0]?.message?.content;
      if (typeof content !== "string" || content.trim() === "") {
        throw new AppError("OUTPUT_INVALID", "the server answered without a suggestion");
      }
      return content.trim();
    },
  };
}

function describe(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (typeof cause?.code === "string") return cause.code;
  return error instanceof Error ? error.message : String(error);
}
