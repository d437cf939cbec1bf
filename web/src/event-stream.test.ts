import { describe, expect, it } from "vitest";
import { readEventStream, type ServerSentEvent } from "./event-stream.js";

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function collect(chunks: string[]): Promise<ServerSentEvent[]> {
  const events: ServerSentEvent[] = [];
  for await (const event of readEventStream(streamOf(chunks))) events.push(event);
  return events;
}

describe("web", () => {
  describe("readEventStream", () => {
    it("reads data, id and multi-line events across arbitrary chunk splits and skips comments", async () => {
      const text = 'retry: 3000\n: hello\n\nid: 7\ndata: {"a":1}\n\ndata: one\ndata: two\n\ndata: [DONE]\n\n';
      const expected = [
        { id: "7", data: '{"a":1}' },
        { id: "7", data: "one\ntwo" },
        { id: "7", data: "[DONE]" },
      ];
      expect(await collect([text])).toEqual(expected);
      // Every split point, including inside "\n\n" and inside a multi-byte character.
      for (let cut = 1; cut < text.length; cut++)
        expect(await collect([text.slice(0, cut), text.slice(cut)])).toEqual(expected);
    });

    it("accepts CRLF and CR line ends, split between chunks", async () => {
      expect(await collect(["data: a\r", "\n\r\ndata: b\r\r"])).toEqual([{ data: "a" }, { data: "b" }]);
    });

    it("decodes UTF-8 split inside a character and drops an event cut before its blank line", async () => {
      const bytes = new TextEncoder().encode("data: ¿qué?\n\ndata: cut");
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes.slice(0, 8));
          controller.enqueue(bytes.slice(8));
          controller.close();
        },
      });
      const events: ServerSentEvent[] = [];
      for await (const event of readEventStream(stream)) events.push(event);
      expect(events).toEqual([{ data: "¿qué?" }]);
    });
  });
});
