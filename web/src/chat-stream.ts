import { ApiError, type ApiClient } from "./api-client.js";
import { readEventStream } from "./event-stream.js";
import type { ChatChunkJson, ChatRequestMessage, SaraiChunkExtension } from "./wire.js";

export interface ChatStreamRequest {
  model: string;
  messages: ChatRequestMessage[];
  reflect?: boolean;
  /** 0 is greedy; the server's default (0.7) when absent. */
  temperature?: number;
  max_tokens?: number;
}

export interface ChatStreamResult {
  text: string;
  responseId?: string;
  model?: string;
  finishReason?: string;
  sarai: SaraiChunkExtension;
}

/**
 * Streams one chat completion (`stream: true`) and calls `onText` with the whole text so far after each delta.
 * Resolves with the text and the `sarai` extension of the finish chunk at `[DONE]`; an `error` event mid-stream
 * rejects with its `ApiError` (status 200: the stream had started). Aborting `signal` rejects with the fetch's
 * AbortError, and the server stops generating when the connection closes.
 */
export async function streamChat(
  client: ApiClient,
  request: ChatStreamRequest,
  onText: (text: string) => void,
  signal: AbortSignal,
): Promise<ChatStreamResult> {
  const response = await client.fetch("/v1/chat/completions", {
    method: "POST",
    body: JSON.stringify({ ...request, stream: true }),
    signal,
  });
  if (response.body === null) throw new ApiError("the server sent no stream", response.status, "no_body");
  const result: ChatStreamResult = { text: "", sarai: {} };
  for await (const event of readEventStream(response.body, signal)) {
    if (event.data === "[DONE]") return result;
    const chunk = JSON.parse(event.data) as ChatChunkJson;
    if (chunk.error !== undefined)
      throw new ApiError(
        chunk.error.message,
        200,
        chunk.error.code ?? "stream_error",
        chunk.error.param ?? null,
      );
    if (chunk.id !== undefined) result.responseId = chunk.id;
    if (chunk.model !== undefined) result.model = chunk.model;
    const choice = chunk.choices?.[0];
    const delta = choice?.delta?.content;
    if (typeof delta === "string" && delta !== "") {
      result.text += delta;
      onText(result.text);
    }
    if (typeof choice?.finish_reason === "string") result.finishReason = choice.finish_reason;
    if (chunk.sarai !== undefined) result.sarai = { ...result.sarai, ...chunk.sarai };
  }
  signal.throwIfAborted();
  throw new ApiError("the stream ended before [DONE]", 200, "stream_cut");
}
