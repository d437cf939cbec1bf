import { AppError } from "../shared/index.js";
import { requestServer } from "./loopback-http.js";
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
}

/**
 * A suggester for `sarai loop`, which holds no model: it asks the running server for the suggestion over
 * `/v1/chat/completions`, so the model stays loaded once, in `sarai serve`. A server that is down or slow is
 * a failed run (the scheduler records it and retries per the action's policy), never a hang.
 */
export function createLoopbackSuggester(options: LoopbackSuggesterOptions): Suggester {
  const user = "user" in options ? options.user : "sarai-loop";
  return {
    async suggest(input, signal) {
      // A sampled answer can be empty (the model ends at once): up to three samples before the run fails.
      for (let attempt = 1; ; attempt++) {
        const body = (await requestServer(
          options,
          {
            method: "POST",
            path: "/v1/chat/completions",
            body: {
              model: options.model ?? "sarai",
              messages: buildSuggestionMessages(input.facts, input.now),
              max_tokens: options.maxTokens ?? 96,
              temperature: 0.7,
              ...(user === undefined ? {} : { user }),
            },
            timeoutMs: options.timeoutMs ?? 30_000,
          },
          signal,
        )) as ChatCompletionBody | null;
        const content = body?.choices?.[0]?.message?.content;
        if (typeof content === "string" && content.trim() !== "") return content.trim();
        if (attempt >= 3) throw new AppError("OUTPUT_INVALID", "the server answered without a suggestion");
      }
    },
  };
}
