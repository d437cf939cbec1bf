import type { ChatMessage } from "../inference/index.js";

/** The position of the last user message, or -1. */
export function lastUserIndex(messages: readonly ChatMessage[]): number {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]?.role === "user") return i;
  return -1;
}

/** The last user message's text (what memory, skills and reflection read), or "". */
export function lastUserText(messages: readonly ChatMessage[]): string {
  const index = lastUserIndex(messages);
  return index < 0 ? "" : (messages[index]?.content ?? "");
}
