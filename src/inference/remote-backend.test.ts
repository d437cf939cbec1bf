import { setTimeout as delay } from "node:timers/promises";
import OpenAI from "openai";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import {
  chatChunks,
  chatCompletion,
  defaultScript,
  findClosedPort,
  replyScripted,
  sendError,
  sendJson,
  sendSse,
  startFakeOpenAiServer,
  startUnresponsiveListener,
  type FakeOpenAiServer,
  type Script,
} from "../../test/fake-openai-server.js";
import { AbortedError, AppError } from "../shared/index.js";
import {
  RemoteBackend,
  SseParser,
  type RemoteBackendOptions,
  type ServerSentEvent,
} from "./remote-backend.js";
import type { ChatRequest, ChatResponse, ChatStreamChunk } from "./types.js";

const never = new AbortController().signal;
const apiKey = "sk-test-7f3a9c1e5b";
const hello: ChatRequest = { messages: [{ role: "user", content: "Hola, ¿qué tal?" }] };
const scriptText = defaultScript.pieces.join("");

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(): Promise<FakeOpenAiServer> {
  const server = await startFakeOpenAiServer();
  cleanups.push(() => server.close());
  return server;
}

function createBackend(baseUrl: string, options: Partial<RemoteBackendOptions> = {}): RemoteBackend {
  const backend = new RemoteBackend({ baseUrl, model: "test-model", apiKey, retryDelayMs: 10, ...options });
  cleanups.push(() => backend.dispose());
  return backend;
}

async function collect(
  stream: AsyncGenerator<ChatStreamChunk, void, undefined>,
): Promise<{ deltas: string[]; response: ChatResponse | undefined }> {
  const deltas: string[] = [];
  let response: ChatResponse | undefined;
  for await (const chunk of stream) {
    if (chunk.type === "delta") deltas.push(chunk.text);
    else response = chunk.response;
  }
  return { deltas, response };
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected the promise to reject");
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    delay(ms).then(() => {
      throw new Error(`${what} did not happen within ${ms} ms`);
    }),
  ]);
}

function parseAll(parts: readonly Uint8Array[]): ServerSentEvent[] {
  const parser = new SseParser();
  return [...parts.flatMap((part) => parser.push(part)), ...parser.end()];
}

describe("inference", () => {
  describe("RemoteBackend", () => {
    describe("SseParser", () => {
      const sample =
        ": keep-alive\r\n\r\n" +
        "event: note\r\ndata: first line\r\ndata: second ñ line\r\n\r\n" +
        'data: {"t":"héllo 🙂"}\n\n' +
        "data:no-space\rdata:  two spaces\r\r" +
        "id: 7\nretry: 100\nunknown: x\ndata: [DONE]\n\n";
      const expected: ServerSentEvent[] = [
        { event: "note", data: "first line\nsecond ñ line" },
        { event: "message", data: '{"t":"héllo 🙂"}' },
        { event: "message", data: "no-space\n two spaces" },
        { event: "message", data: "[DONE]" },
      ];
      const bytes = Buffer.from(sample, "utf8");

      it("gives the same events however the bytes are split", () => {
        expect(parseAll([bytes])).toEqual(expected);
        // Byte by byte: every CRLF pair and every UTF-8 character arrives in pieces.
        expect(parseAll([...bytes].map((b) => Uint8Array.of(b)))).toEqual(expected);
        for (let i = 0; i <= bytes.length; i++) {
          expect(parseAll([bytes.subarray(0, i), bytes.subarray(i)]), `split at ${i}`).toEqual(expected);
        }
        let seed = 42;
        const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
        for (let round = 0; round < 200; round++) {
          const parts: Uint8Array[] = [];
          for (let at = 0; at < bytes.length;) {
            const size = 1 + Math.floor(random() * 9);
            parts.push(bytes.subarray(at, at + size));
            at += size;
          }
          expect(parseAll(parts)).toEqual(expected);
        }
      });

      it("dispatches the last event when a clean end comes without the blank line", () => {
        const parser = new SseParser();
        expect(parser.push(Buffer.from("data: a\n\ndata: [DONE]"))).toEqual([
          { event: "message", data: "a" },
        ]);
        expect(parser.end()).toEqual([{ event: "message", data: "[DONE]" }]);
      });

      it("turns llama.cpp's error field into an error event and ignores comments and a BOM", () => {
        const text = '\uFEFF: comment only\n\nerror: {"code":500,"message":"boom"}\n\n';
        expect(parseAll([Buffer.from(text, "utf8")])).toEqual([
          { event: "error", data: '{"code":500,"message":"boom"}' },
        ]);
      });
    });

    describe("chat", () => {
      it("returns the scripted reply with usage, finish reason, model and timings", async () => {
        const server = await startServer();
        const response = await createBackend(server.baseUrl).chat(hello, never);
        expect(response.text).toBe(scriptText);
        expect(response.finishReason).toBe("stop");
        expect(response.usage).toEqual({ promptTokens: 12, completionTokens: 9 });
        expect(response.model).toBe("fake-model-1");
        expect(response.json).toBeUndefined();
        expect(response.timings.timeToFirstTokenMs).toBeGreaterThan(0);
        expect(response.timings.totalMs).toBeGreaterThanOrEqual(response.timings.timeToFirstTokenMs);
        expect(response.timings.tokensPerSecond).toBeGreaterThan(0);
      });

      it("sends the request in OpenAI's snake_case with the bearer key", async () => {
        const server = await startServer();
        await createBackend(server.baseUrl).chat(
          {
            messages: [
              { role: "system", content: "Sé breve." },
              { role: "user", content: "¿Qué hora es?" },
            ],
            sampling: {
              temperature: 0.2,
              topP: 0.9,
              topK: 20,
              seed: 7,
              maxTokens: 64,
              stop: ["\n\n", "FIN"],
            },
          },
          never,
        );
        expect(server.requests).toHaveLength(1);
        const [request] = server.requests;
        expect(request?.method).toBe("POST");
        expect(request?.path).toBe("/v1/chat/completions");
        expect(request?.headers.authorization).toBe(`Bearer ${apiKey}`);
        expect(request?.headers["content-type"]).toBe("application/json");
        expect(request?.body).toEqual({
          model: "test-model",
          messages: [
            { role: "system", content: "Sé breve." },
            { role: "user", content: "¿Qué hora es?" },
          ],
          temperature: 0.2,
          top_p: 0.9,
          top_k: 20,
          seed: 7,
          max_tokens: 64,
          stop: ["\n\n", "FIN"],
          stream: true,
          stream_options: { include_usage: true },
        });
      });

      it("adds /v1 to a bare base URL and sends SARAi's default sampling when the request has none", async () => {
        const server = await startServer();
        const backend = createBackend(`${server.origin}/`, { apiKey: undefined });
        expect(backend.baseUrl).toBe(server.baseUrl);
        await backend.chat(hello, never);
        const [request] = server.requests;
        expect(request?.path).toBe("/v1/chat/completions");
        expect(request?.headers.authorization).toBeUndefined();
        expect(request?.body).toEqual({
          model: "test-model",
          messages: hello.messages,
          temperature: 0.7,
          top_p: 0.95,
          top_k: 40,
          max_tokens: 512,
          stream: true,
          stream_options: { include_usage: true },
        });
        // A root that already names its version is kept as it is.
        expect(createBackend(`${server.origin}/openai/v1/`).baseUrl).toBe(`${server.origin}/openai/v1`);
      });

      it("sends a GBNF grammar in llama.cpp's grammar field and JSON mode as response_format", async () => {
        const server = await startServer();
        server.handle = replyScripted({ ...defaultScript, pieces: ['{"a":', "1}"] });
        const backend = createBackend(server.baseUrl);
        await backend.chat({ ...hello, grammar: 'root ::= "{" [^}]* "}"' }, never);
        const json = await backend.chat({ ...hello, jsonObject: true }, never);
        expect(server.requests[0]?.body).toMatchObject({ grammar: 'root ::= "{" [^}]* "}"' });
        expect(server.requests[0]?.body).not.toHaveProperty("response_format");
        expect(server.requests[1]?.body).toMatchObject({ response_format: { type: "json_object" } });
        expect(server.requests[1]?.body).not.toHaveProperty("grammar");
        expect(json.json).toEqual({ a: 1 });
      });

      it("reuses the connection for the next request", async () => {
        const server = await startServer();
        const backend = createBackend(server.baseUrl);
        await backend.chat(hello, never);
        await collect(backend.chatStream(hello, never));
        await backend.listModels(never);
        expect(server.requests).toHaveLength(3);
        expect(server.connections).toBe(1);
      });

      it("rejects an invalid request naming the field, without contacting the server", async () => {
        const server = await startServer();
        const backend = createBackend(server.baseUrl);
        await expect(backend.chat({ messages: [] }, never)).rejects.toMatchObject({
          code: "INVALID_REQUEST",
          param: "messages",
        });
        await expect(backend.chat({ ...hello, sampling: { topP: 3 } }, never)).rejects.toMatchObject({
          code: "INVALID_REQUEST",
          param: "sampling.topP",
        });
        expect(server.connections).toBe(0);
      });

      it("reads a server that ignores stream: true and answers with one JSON completion", async () => {
        const server = await startServer();
        server.handle = (_request, res) => sendJson(res, 200, chatCompletion(defaultScript));
        const { deltas, response } = await collect(createBackend(server.baseUrl).chatStream(hello, never));
        expect(deltas).toEqual([scriptText]);
        expect(response?.text).toBe(scriptText);
        expect(response?.usage).toEqual({ promptTokens: 12, completionTokens: 9 });
      });
    });

    describe("chatStream", () => {
      it("yields deltas that concatenate to the chat text, with chunks split mid-line and mid-character", async () => {
        const server = await startServer();
        server.handle = replyScripted(defaultScript, { split: "awkward", newline: "\r\n" });
        const backend = createBackend(server.baseUrl);
        const whole = await backend.chat(hello, never);
        const { deltas, response } = await collect(backend.chatStream(hello, never));
        expect(deltas).toEqual(defaultScript.pieces);
        expect(deltas.join("")).toBe(whole.text);
        expect(whole.text).toBe(scriptText);
        expect(response?.text).toBe(whole.text);
        expect(response?.usage).toEqual(whole.usage);
        expect(response?.finishReason).toBe("stop");
        expect(response?.timings.timeToFirstTokenMs).toBeLessThan(response?.timings.totalMs ?? 0);
      });

      it("maps finish reasons: length is length, anything else is stop", async () => {
        const server = await startServer();
        const backend = createBackend(server.baseUrl);
        server.handle = replyScripted({ ...defaultScript, finishReason: "length" });
        expect((await backend.chat(hello, never)).finishReason).toBe("length");
        server.handle = replyScripted({ ...defaultScript, finishReason: "content_filter" });
        expect((await backend.chat(hello, never)).finishReason).toBe("stop");
        // [DONE] without any finish_reason still ends the answer normally.
        server.handle = replyScripted({ ...defaultScript, finishReason: null });
        expect((await backend.chat(hello, never)).finishReason).toBe("stop");
      });

      it("counts deltas as completion tokens when the server sends no usage", async () => {
        const server = await startServer();
        server.handle = replyScripted({ ...defaultScript, usage: null, pieces: ["a", "b", "c"] });
        const response = await createBackend(server.baseUrl).chat(hello, never);
        expect(response.usage).toEqual({ promptTokens: 0, completionTokens: 3 });
      });

      it("fails when the stream ends cleanly but before the answer is complete", async () => {
        const server = await startServer();
        server.handle = async (_request, res) => {
          await sendSse(
            res,
            chatChunks({ ...defaultScript, finishReason: null, usage: null }, { done: false }),
          );
        };
        const error = await rejection(createBackend(server.baseUrl).chat(hello, never));
        expect(error.code).toBe("INFERENCE_FAILED");
        expect(error.message).toContain("ended the stream before the answer was complete");
      });

      it("fails without retrying when the server drops the connection mid-stream", async () => {
        const server = await startServer();
        server.handle = async (_request, res) => {
          await sendSse(res, chatChunks(defaultScript).slice(0, 3), { keepOpen: true });
          await delay(20);
          res.socket?.destroy();
        };
        const deltas: string[] = [];
        const error = await rejection(
          (async () => {
            for await (const chunk of createBackend(server.baseUrl).chatStream(hello, never)) {
              if (chunk.type === "delta") deltas.push(chunk.text);
            }
          })(),
        );
        expect(deltas).toEqual(defaultScript.pieces.slice(0, 2));
        expect(error.code).toBe("INFERENCE_FAILED");
        expect(error.message).toContain("closed the connection in the middle of its answer");
        expect(server.requests).toHaveLength(1);
      });

      it("turns an error event inside the stream into an error naming the server", async () => {
        const server = await startServer();
        const backend = createBackend(server.baseUrl);
        // vLLM and OpenAI style: a data event carrying an error object.
        server.handle = (_request, res) =>
          sendSse(res, [
            ...chatChunks(defaultScript).slice(0, 2),
            JSON.stringify({ error: { message: "CUDA out of memory", type: "server_error", code: 500 } }),
          ]);
        const failed = await rejection(backend.chat(hello, never));
        expect(failed.code).toBe("INFERENCE_FAILED");
        expect(failed.message).toBe(
          `the remote model server ${server.baseUrl}/chat/completions reported an error in the middle of the ` +
            `stream: CUDA out of memory`,
        );
        // llama.cpp style: an `error:` field with the status as its code.
        server.handle = (_request, res) => {
          res.writeHead(200, { "content-type": "text/event-stream" });
          res.end('error: {"code":400,"message":"invalid grammar","type":"invalid_request_error"}\n\n');
        };
        const invalid = await rejection(backend.chat(hello, never));
        expect(invalid.code).toBe("INVALID_REQUEST");
        expect(invalid.message).toContain("invalid grammar");
      });
    });

    describe("JSON output", () => {
      const schema = {
        type: "object",
        properties: { city: { type: "string" }, population: { type: "integer", minimum: 0 } },
        required: ["city", "population"],
        additionalProperties: false,
      };
      const asks: ChatRequest = { ...hello, jsonSchema: schema };

      it("asks for the schema in response_format and returns the validated value", async () => {
        const server = await startServer();
        server.handle = replyScripted(
          { ...defaultScript, pieces: ['{"city": "Bogo', 'tá", "population": ', "7900000}"] },
          { split: "awkward" },
        );
        const response = await createBackend(server.baseUrl).chat(asks, never);
        expect(response.json).toEqual({ city: "Bogotá", population: 7900000 });
        expect(server.requests[0]?.body).toMatchObject({
          response_format: { type: "json_schema", json_schema: { name: "response", schema, strict: true } },
        });
      });

      it("never returns invalid upstream JSON as a success", async () => {
        const server = await startServer();
        const backend = createBackend(server.baseUrl);
        const cases: [Script, string | undefined][] = [
          [{ ...defaultScript, pieces: ['{"city": "Lima", "population": -5}'] }, "jsonSchema"],
          [{ ...defaultScript, pieces: ['{"city": "Lima"'] }, "jsonSchema"],
          [{ ...defaultScript, pieces: ["Sure! Here is the JSON"] }, "jsonSchema"],
          [
            { ...defaultScript, pieces: ['{"city": "Lima", "population": 1}'], finishReason: "length" },
            "max_tokens",
          ],
        ];
        for (const [script, param] of cases) {
          server.handle = replyScripted(script);
          await expect(backend.chat(asks, never)).rejects.toMatchObject({ code: "OUTPUT_INVALID", param });
        }
        // Streaming callers get the text, then the same error instead of a done chunk.
        server.handle = replyScripted(cases[0]![0]);
        const seen: ChatStreamChunk[] = [];
        const error = await rejection(
          (async () => {
            for await (const chunk of backend.chatStream(asks, never)) seen.push(chunk);
          })(),
        );
        expect(error.code).toBe("OUTPUT_INVALID");
        expect(seen.every((chunk) => chunk.type === "delta")).toBe(true);
      });

      it("rejects a schema that does not compile before sending anything", async () => {
        const server = await startServer();
        const backend = createBackend(server.baseUrl);
        await expect(
          backend.chat({ ...hello, jsonSchema: { type: "nonsense" } }, never),
        ).rejects.toMatchObject({
          code: "GRAMMAR_INVALID",
          param: "jsonSchema",
        });
        expect(server.connections).toBe(0);
      });
    });

    describe("upstream errors", () => {
      it("turns a 4xx OpenAI error body into INVALID_REQUEST naming the URL, status and param", async () => {
        const server = await startServer();
        server.handle = (_request, res) =>
          sendError(res, 400, { message: "temperature must be at most 2", param: "temperature" });
        const error = await rejection(createBackend(server.baseUrl).chat(hello, never));
        expect(error.code).toBe("INVALID_REQUEST");
        expect(error.param).toBe("temperature");
        expect(error.message).toBe(
          `the remote model server ${server.baseUrl}/chat/completions answered 400 Bad Request: ` +
            `temperature must be at most 2`,
        );
      });

      it("does not retry a 500 and reports it as INFERENCE_FAILED", async () => {
        const server = await startServer();
        server.handle = (_request, res) =>
          sendError(res, 500, { message: "slot unavailable", type: "server_error", code: 500 });
        const error = await rejection(createBackend(server.baseUrl, { retries: 3 }).chat(hello, never));
        expect(error.code).toBe("INFERENCE_FAILED");
        expect(error.message).toContain("answered 500 Internal Server Error: slot unavailable");
        expect(server.requests).toHaveLength(1);
        expect(server.connections).toBe(1);
      });

      it("maps statuses and known error codes to SARAi's codes", async () => {
        const server = await startServer();
        const backend = createBackend(server.baseUrl);
        const cases: [(res: Parameters<typeof sendJson>[0]) => void, string][] = [
          [
            (res) => sendError(res, 503, { message: "loading model", type: "unavailable_error" }),
            "UPSTREAM_UNAVAILABLE",
          ],
          [(res) => sendError(res, 504, { message: "gateway timeout" }), "UPSTREAM_TIMEOUT"],
          [(res) => sendError(res, 429, { message: "too many requests" }), "UPSTREAM_UNAVAILABLE"],
          // llama.cpp's context overflow.
          [
            (res) =>
              sendError(res, 400, {
                message: "the request exceeds the available context size, try increasing it",
                type: "exceed_context_size_error",
                code: 400,
              }),
            "CONTEXT_OVERFLOW",
          ],
          // vLLM and Ollama for an unknown model.
          [
            (res) => sendError(res, 404, { message: 'model "nope" not found, try pulling it first' }),
            "MODEL_NOT_FOUND",
          ],
          // Another SARAi keeps its own codes.
          [
            (res) =>
              sendError(res, 502, { message: "not JSON", type: "server_error", code: "output_invalid" }),
            "OUTPUT_INVALID",
          ],
        ];
        for (const [send, code] of cases) {
          server.handle = (_request, res) => send(res);
          await expect(backend.chat(hello, never)).rejects.toMatchObject({ code });
        }
        // A 404 for the route itself points at the base URL; an HTML error page is quoted.
        server.handle = (_request, res) => {
          res.writeHead(404, { "content-type": "text/html" });
          res.end("<html><body>Not Found</body></html>");
        };
        const notFound = await rejection(backend.chat(hello, never));
        expect(notFound.code).toBe("INFERENCE_FAILED");
        expect(notFound.message).toContain("answered 404 Not Found: <html><body>Not Found</body></html>");
        expect(notFound.message).toContain("is baseUrl the server's API root?");
      });

      it("never puts the API key in an error message or a log line", async () => {
        const lines: string[] = [];
        const logger = pino({ level: "trace" }, { write: (line: string) => lines.push(line) });
        const server = await startServer();
        // A server that quotes the key it refused, as some do.
        server.handle = (request, res) =>
          sendError(res, 401, {
            message: `Incorrect API key provided: ${String(request.headers.authorization).slice(7)}`,
            type: "authentication_error",
          });
        const refused = await rejection(createBackend(server.baseUrl, { logger }).chat(hello, never));
        expect(refused.code).toBe("INFERENCE_FAILED");
        expect(refused.message).toContain("Incorrect API key provided: [redacted]");
        expect(refused.message).toContain("check the remote apiKey");
        const closed = `http://127.0.0.1:${await findClosedPort()}`;
        const unreachable = await rejection(createBackend(closed, { logger }).chat(hello, never));
        expect(lines.length).toBeGreaterThan(0);
        for (const text of [refused.message, unreachable.message, String(refused.stack), ...lines]) {
          expect(text).not.toContain(apiKey);
        }
      });
    });

    describe("connection errors", () => {
      it("retries connections dropped before any response byte, then succeeds", async () => {
        const server = await startServer();
        server.dropConnections(2);
        const response = await createBackend(server.baseUrl, { retries: 2 }).chat(hello, never);
        expect(response.text).toBe(scriptText);
        expect(server.connections).toBe(3);
        expect(server.requests).toHaveLength(1);
      });

      it("gives up after the configured retries with UPSTREAM_UNAVAILABLE", async () => {
        const server = await startServer();
        server.dropConnections(3);
        const error = await rejection(createBackend(server.baseUrl, { retries: 2 }).chat(hello, never));
        expect(error.code).toBe("UPSTREAM_UNAVAILABLE");
        expect(error.message).toMatch(
          new RegExp(
            `^cannot reach the remote model server ${server.baseUrl}/chat/completions: .* \\(3 attempts\\)$`,
          ),
        );
        expect(server.connections).toBe(3);
        expect(server.requests).toHaveLength(0);
      });

      it("reports a refused connection clearly after backing off between retries", async () => {
        const closed = `http://127.0.0.1:${await findClosedPort()}/v1`;
        const started = performance.now();
        const error = await rejection(
          createBackend(closed, { retries: 2, retryDelayMs: 50 }).chat(hello, never),
        );
        expect(performance.now() - started).toBeGreaterThanOrEqual(50 + 100 - 5);
        expect(error.code).toBe("UPSTREAM_UNAVAILABLE");
        expect(error.status).toBe(503);
        expect(error.message).toBe(
          `cannot reach the remote model server ${closed}/chat/completions: connection refused (ECONNREFUSED) ` +
            `(3 attempts)`,
        );
      });

      it("times out a connection that never completes and retries it", async () => {
        const listener = await startUnresponsiveListener();
        cleanups.push(() => listener.close());
        const backend = createBackend(`http://127.0.0.1:${listener.port}`, {
          connectTimeoutMs: 150,
          retries: 1,
          retryDelayMs: 10,
        });
        const started = performance.now();
        const error = await rejection(backend.chat(hello, never));
        const elapsed = performance.now() - started;
        expect(error.code).toBe("UPSTREAM_UNAVAILABLE");
        expect(error.message).toContain("no connection within 150 ms (connectTimeoutMs) (2 attempts)");
        expect(elapsed).toBeGreaterThanOrEqual(300 - 5);
        expect(elapsed).toBeLessThan(3_000);
      });
    });

    describe("timeouts", () => {
      it("times out response headers that never come, without retrying", async () => {
        const server = await startServer();
        server.handle = () => {}; // Never answers.
        const started = performance.now();
        const error = await rejection(
          createBackend(server.baseUrl, { readTimeoutMs: 200, retries: 2 }).chat(hello, never),
        );
        const elapsed = performance.now() - started;
        expect(error.code).toBe("UPSTREAM_TIMEOUT");
        expect(error.status).toBe(504);
        expect(error.message).toBe(
          `the remote model server ${server.baseUrl}/chat/completions sent nothing for 200 ms (readTimeoutMs) ` +
            `while waiting for the response headers`,
        );
        expect(elapsed).toBeGreaterThanOrEqual(195);
        expect(elapsed).toBeLessThan(2_000);
        expect(server.requests).toHaveLength(1);
        expect(server.connections).toBe(1);
      });

      it("times out a stream that stalls, after yielding what came, and closes the connection", async () => {
        const server = await startServer();
        server.handle = (_request, res) =>
          sendSse(res, chatChunks(defaultScript).slice(0, 3), { keepOpen: true });
        const closed = server.nextClientAbort();
        const deltas: string[] = [];
        const error = await rejection(
          (async () => {
            const backend = createBackend(server.baseUrl, { readTimeoutMs: 200 });
            for await (const chunk of backend.chatStream(hello, never)) {
              if (chunk.type === "delta") deltas.push(chunk.text);
            }
          })(),
        );
        expect(deltas).toEqual(defaultScript.pieces.slice(0, 2));
        expect(error.code).toBe("UPSTREAM_TIMEOUT");
        expect(error.message).toContain("while waiting for the next part of the answer");
        await within(closed, 2_000, "the server seeing the connection closed");
      });

      it("bounds the gaps between chunks, not the whole answer, and not the caller's own pauses", async () => {
        const server = await startServer();
        // Writes 80 ms apart: about 1 s in all, five times the 200 ms read timeout.
        server.handle = async (_request, res) => {
          res.writeHead(200, { "content-type": "text/event-stream" });
          for (const payload of chatChunks(defaultScript)) {
            res.write(`data: ${payload}\n\n`);
            await delay(80);
          }
          res.end();
        };
        const backend = createBackend(server.baseUrl, { readTimeoutMs: 200 });
        let text = "";
        let pauses = 0;
        for await (const chunk of backend.chatStream(hello, never)) {
          if (chunk.type !== "delta") continue;
          text += chunk.text;
          // A caller slower than the read timeout, while the server keeps sending.
          if (pauses++ < 3) await delay(250);
        }
        expect(text).toBe(scriptText);
      });
    });

    describe("abort", () => {
      /** Streams a delta every 20 ms until the client goes away. */
      function endlessStream(server: FakeOpenAiServer): void {
        server.handle = async (_request, res, exchange) => {
          res.writeHead(200, { "content-type": "text/event-stream" });
          const [first] = chatChunks(defaultScript);
          res.write(`data: ${first}\n\n`);
          for (let i = 0; !exchange.isClientClosed(); i++) {
            const chunk = { choices: [{ index: 0, delta: { content: `${i} ` }, finish_reason: null }] };
            res.write(`data: ${JSON.stringify(chunk)}\n\n`);
            await delay(20);
          }
        };
      }

      it("stops a stream promptly when the signal fires, and the server sees the connection closed", async () => {
        const server = await startServer();
        endlessStream(server);
        const closed = server.nextClientAbort();
        const controller = new AbortController();
        let deltas = 0;
        let abortedAt = 0;
        const error = await rejection(
          (async () => {
            for await (const chunk of createBackend(server.baseUrl).chatStream(hello, controller.signal)) {
              if (chunk.type === "delta" && ++deltas === 3) {
                setTimeout(() => {
                  abortedAt = performance.now();
                  controller.abort();
                }, 5);
              }
            }
          })(),
        );
        expect(error).toBeInstanceOf(AbortedError);
        expect(error.code).toBe("ABORTED");
        expect(performance.now() - abortedAt).toBeLessThan(500);
        await within(closed, 2_000, "the server seeing the connection closed");
      });

      it("aborts the upstream request when the consumer stops iterating", async () => {
        const server = await startServer();
        endlessStream(server);
        const closed = server.nextClientAbort();
        let deltas = 0;
        for await (const chunk of createBackend(server.baseUrl).chatStream(hello, never)) {
          if (chunk.type === "delta" && ++deltas === 2) break;
        }
        await within(closed, 2_000, "the server seeing the connection closed");
        expect(server.clientAborts).toBe(1);
      });

      it("aborts while waiting for headers and during the retry back-off", async () => {
        const server = await startServer();
        server.handle = () => {}; // Never answers.
        const closed = server.nextClientAbort();
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 50);
        const started = performance.now();
        await expect(createBackend(server.baseUrl).chat(hello, controller.signal)).rejects.toBeInstanceOf(
          AbortedError,
        );
        expect(performance.now() - started).toBeLessThan(500);
        await within(closed, 2_000, "the server seeing the connection closed");

        const refused = `http://127.0.0.1:${await findClosedPort()}`;
        const backingOff = new AbortController();
        setTimeout(() => backingOff.abort(), 50);
        const before = performance.now();
        await expect(
          createBackend(refused, { retryDelayMs: 10_000 }).chat(hello, backingOff.signal),
        ).rejects.toBeInstanceOf(AbortedError);
        expect(performance.now() - before).toBeLessThan(500);
      });

      it("sends nothing for a signal that has already fired", async () => {
        const server = await startServer();
        const controller = new AbortController();
        controller.abort();
        await expect(createBackend(server.baseUrl).chat(hello, controller.signal)).rejects.toBeInstanceOf(
          AbortedError,
        );
        expect(server.connections).toBe(0);
      });
    });

    describe("models and embeddings", () => {
      it("lists the server's models", async () => {
        const server = await startServer();
        const models = await createBackend(server.baseUrl).listModels(never);
        expect(models).toEqual([
          { id: "fake-model-1", ownedBy: "fake", created: 1700000000 },
          { id: "fake-embed", ownedBy: "fake", created: 1700000001 },
        ]);
        expect(server.requests[0]).toMatchObject({ method: "GET", path: "/v1/models" });
        expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${apiKey}`);
      });

      it("embeds texts and returns the vectors in input order", async () => {
        const server = await startServer();
        const result = await createBackend(server.baseUrl, { model: "fake-embed" }).embed(
          ["uno", "dos dos", "tres tres tres"],
          never,
        );
        expect(result.vectors).toEqual([
          [3, 0, 0.5],
          [7, 1, 0.5],
          [14, 2, 0.5],
        ]);
        expect(result.promptTokens).toBe(9);
        expect(server.requests[0]?.body).toEqual({
          model: "fake-embed",
          input: ["uno", "dos dos", "tres tres tres"],
          encoding_format: "float",
        });
      });
    });

    describe("the fake server", () => {
      it("speaks the protocol the official OpenAI client reads", async () => {
        const server = await startServer();
        server.handle = replyScripted(defaultScript, { split: "awkward" });
        const client = new OpenAI({ baseURL: server.baseUrl, apiKey, maxRetries: 0 });
        const stream = await client.chat.completions.create({
          model: "test-model",
          messages: [{ role: "user", content: "Hola" }],
          stream: true,
          stream_options: { include_usage: true },
        });
        let text = "";
        let usage: unknown;
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta.content ?? "";
          usage ??= chunk.usage ?? undefined;
        }
        expect(text).toBe(scriptText);
        expect(usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 9 });
      });
    });
  });
});
