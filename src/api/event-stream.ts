import type { FastifyReply, FastifyRequest } from "fastify";
import type { ChatResponse, ChatStreamChunk } from "../inference/index.js";
import { isAppError, toAppError } from "../shared/index.js";
import { buildErrorBody } from "./errors.js";

export interface EventStreamShape {
  /** The event sent before any text, if the wire format has one (chat's role chunk). */
  start?: unknown;
  onDelta: (text: string) => unknown;
  /** The closing events (finish reason, usage). */
  onDone: (response: ChatResponse) => unknown[];
}

/**
 * Sends a generation as server-sent events in OpenAI's shape, ending with `[DONE]`. The first chunk is pulled
 * before the status line goes out, so errors that happen up front (queue full, bad grammar, prompt too long)
 * still get their own status code; an error after that (output failing its schema, say) becomes an `error`
 * event. The client going away aborts the generation through the request's signal.
 */
export async function writeEventStream(
  request: FastifyRequest,
  reply: FastifyReply,
  stream: AsyncGenerator<ChatStreamChunk, void, undefined>,
  shape: EventStreamShape,
): Promise<void> {
  const first = await stream.next();
  void reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-request-id": request.id,
  });
  // Events are written in a later turn of the event loop, batched: by then node-llama-cpp has handed the next
  // token's evaluation to its native thread, so serialising and writing overlap with generation instead of
  // delaying it.
  let pending: unknown[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  const flush = () => {
    scheduled = undefined;
    if (pending.length === 0) return;
    const text = pending.map((data) => `data: ${JSON.stringify(data)}\n\n`).join("");
    pending = [];
    raw.write(text);
  };
  const send = (data: unknown) => {
    pending.push(data);
    scheduled ??= setImmediate(flush);
  };
  if (shape.start !== undefined) send(shape.start);
  try {
    for (let next = first; next.done !== true; next = await stream.next()) {
      const item = next.value;
      if (item.type === "delta") {
        if (item.text !== "") send(shape.onDelta(item.text));
      } else {
        for (const event of shape.onDone(item.response)) send(event);
      }
    }
    if (scheduled !== undefined) clearImmediate(scheduled);
    flush();
    raw.write("data: [DONE]\n\n");
  } catch (error) {
    // A stream cut by the server (request timeout) says so; one cut by the client has nobody to tell.
    const reason: unknown = request.sarai.signal.reason;
    const appError = isAppError(reason) ? reason : isAppError(error) ? error : toAppError(error);
    if (appError.code !== "ABORTED") {
      if (appError.code === "INTERNAL" || appError.code === "INFERENCE_FAILED") {
        request.log.error({ err: error }, "stream failed");
      }
      send(buildErrorBody(appError.code, appError.message, appError.param));
    }
  } finally {
    if (scheduled !== undefined) clearImmediate(scheduled);
    flush();
    await stream.return(undefined);
    raw.end();
  }
}
