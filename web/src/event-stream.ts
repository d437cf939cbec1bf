/** One server-sent event: its `data` lines joined by newlines, and its `id` and `event` fields if it had them. */
export interface ServerSentEvent {
  data: string;
  id?: string;
  event?: string;
}

/**
 * Reads a `text/event-stream` body event by event (the WHATWG parsing rules: `field: value` lines, a blank line
 * ends an event, lines starting with `:` are comments, CR, LF and CRLF all end a line). Used instead of
 * `EventSource`, which cannot send the Authorization header. Stops when the body ends or `signal` aborts.
 */
export async function* readEventStream(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<ServerSentEvent, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const onAbort = () => void reader.cancel().catch(() => undefined);
  signal?.addEventListener("abort", onAbort, { once: true });
  let buffer = "";
  let data: string[] = [];
  let id: string | undefined;
  let event: string | undefined;
  try {
    for (let ended = false; !ended;) {
      const { done, value } = await reader.read();
      ended = done;
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (;;) {
        const match = /\r\n|\r|\n/.exec(buffer);
        // A lone CR at the end may be half of a CRLF: wait for the next chunk, unless there is none.
        if (match === null || (!ended && match[0] === "\r" && match.index === buffer.length - 1)) break;
        const line = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        if (line === "") {
          if (data.length > 0) {
            yield {
              data: data.join("\n"),
              ...(id === undefined ? {} : { id }),
              ...(event === undefined ? {} : { event }),
            };
          }
          data = [];
          event = undefined;
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "data") data.push(value);
        else if (field === "id") id = value;
        else if (field === "event") event = value;
      }
    }
    if (signal?.aborted === true) return;
    // The spec drops an event that was not ended by a blank line; so does this.
  } finally {
    signal?.removeEventListener("abort", onAbort);
    reader.releaseLock();
  }
}
