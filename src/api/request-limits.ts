import type { ResolvedConfig } from "../config/index.js";
import { AppError } from "../shared/index.js";

/**
 * Refuses a chat request with more than `server.maxMessages` messages: a 400 naming `messages`, the count and the
 * limit, before anything is decoded or tokenised.
 */
export function checkMessageCount(config: ResolvedConfig, messages: readonly unknown[]): void {
  const limit = config.server.maxMessages;
  if (messages.length <= limit) return;
  throw new AppError(
    "INVALID_REQUEST",
    `messages: the request has ${messages.length} messages, over server.maxMessages (${limit})`,
    { param: "messages" },
  );
}
