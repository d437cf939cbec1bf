/**
 * A fake OpenAI-compatible server on loopback for tests of the remote backend: it speaks the real protocol
 * (JSON bodies, server-sent events, OpenAI error bodies) over a real socket, records what it receives, and can
 * misbehave on purpose (drop connections, stall, never answer).
 */
import http from "node:http";
import net, { type AddressInfo, type Socket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { Worker } from "node:worker_threads";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The body parsed as JSON; its text when it is not JSON; undefined when empty. */
  body: unknown;
}

export interface FakeExchange {
  /** Resolves when the client closes the connection before the answer has ended. */
  readonly clientClosed: Promise<void>;
  isClientClosed(): boolean;
}

export type FakeHandler = (
  request: RecordedRequest,
  res: http.ServerResponse,
  exchange: FakeExchange,
) => void | Promise<void>;

export interface FakeOpenAiServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** `http://127.0.0.1:<port>/v1` */
  readonly baseUrl: string;
  readonly requests: RecordedRequest[];
  /** TCP connections accepted, the dropped ones included. */
  readonly connections: number;
  /** Answers that the client cut off by closing the connection. */
  readonly clientAborts: number;
  /** Resolves at the next answer the client cuts off (or at once if one already was and none is awaited). */
  nextClientAbort(): Promise<void>;
  /** Resets the next `count` connections as soon as they are accepted, before reading anything. */
  dropConnections(count: number): void;
  /** Answers every request; `replyScripted` by default. */
  handle: FakeHandler;
  close(): Promise<void>;
}

/** A scripted assistant reply. */
export interface Script {
  /** The reply, as the pieces each stream chunk carries. */
  pieces: readonly string[];
  /** `null` leaves it out of the stream. Default `stop`. */
  finishReason?: string | null;
  /** `null` sends no usage. */
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  model?: string;
  /** Each piece's log probability, sent as OpenAI's `logprobs.content` when the request asks for `logprobs`. */
  logprobs?: readonly number[];
}

export const defaultScript: Script = {
  pieces: ["¡Hola!", " Soy", " SARAi", " 🙂", " —", " ¿en", " qué", " te", " ayudo?"],
  finishReason: "stop",
  usage: { prompt_tokens: 12, completion_tokens: 9 },
  model: "fake-model-1",
};

export async function startFakeOpenAiServer(): Promise<FakeOpenAiServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  let toDrop = 0;
  let clientAborts = 0;
  let abortWaiters: (() => void)[] = [];

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown = text === "" ? undefined : text;
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        // Kept as text.
      }
      const request: RecordedRequest = {
        method: req.method ?? "GET",
        path: new URL(req.url ?? "/", "http://localhost").pathname,
        headers: req.headers,
        body,
      };
      requests.push(request);
      let closed = false;
      let onClosed: () => void = () => {};
      const clientClosed = new Promise<void>((resolve) => (onClosed = resolve));
      res.on("close", () => {
        if (res.writableFinished) return;
        closed = true;
        clientAborts += 1;
        onClosed();
        const waiters = abortWaiters;
        abortWaiters = [];
        for (const wake of waiters) wake();
      });
      const exchange: FakeExchange = { clientClosed, isClientClosed: () => closed };
      Promise.resolve(fake.handle(request, res, exchange)).catch(() => res.destroy());
    });
  });
  server.on("connection", (socket: Socket) => {
    connections += 1;
    if (toDrop > 0) {
      toDrop -= 1;
      socket.resetAndDestroy();
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  const fake: FakeOpenAiServer = {
    origin,
    baseUrl: `${origin}/v1`,
    requests,
    get connections() {
      return connections;
    },
    get clientAborts() {
      return clientAborts;
    },
    nextClientAbort: () => new Promise<void>((resolve) => abortWaiters.push(resolve)),
    dropConnections: (count) => {
      toDrop = count;
    },
    handle: replyScripted(defaultScript),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  return fake;
}

/** Answers chat completions with the script (streamed or not, as asked), and serves models and embeddings. */
export function replyScripted(script: Script, options: SseWriteOptions = {}): FakeHandler {
  return async (request, res) => {
    if (request.path === "/v1/models") {
      sendJson(res, 200, {
        object: "list",
        data: [
          { id: "fake-model-1", object: "model", created: 1700000000, owned_by: "fake" },
          { id: "fake-embed", object: "model", created: 1700000001, owned_by: "fake" },
        ],
      });
      return;
    }
    if (request.path === "/v1/embeddings") {
      const input = (request.body as { input: string[] }).input;
      // Out of order on purpose: clients must place vectors by index.
      const data = input.map((text, index) => ({
        object: "embedding",
        index,
        embedding: [text.length, index, 0.5],
      }));
      sendJson(res, 200, {
        object: "list",
        data: data.reverse(),
        model: "fake-embed",
        usage: { prompt_tokens: input.length * 3, total_tokens: input.length * 3 },
      });
      return;
    }
    if (request.path !== "/v1/chat/completions") {
      sendError(res, 404, { message: "File Not Found", type: "not_found_error", code: 404 });
      return;
    }
    const body = request.body as { stream?: boolean; logprobs?: boolean };
    const logprobs = body.logprobs === true;
    if (body.stream === true) await sendSse(res, chatChunks(script, { logprobs }), options);
    else sendJson(res, 200, chatCompletion(script, logprobs));
  };
}

/** The stream of a scripted reply: role chunk, one chunk per piece, finish chunk, usage chunk, `[DONE]`. */
export function chatChunks(script: Script, { done = true, logprobs = false } = {}): string[] {
  const logprobsOf = (i: number) =>
    logprobs && script.logprobs?.[i] !== undefined
      ? {
          logprobs: { content: [{ token: script.pieces[i], logprob: script.logprobs[i], top_logprobs: [] }] },
        }
      : {};
  const base = {
    id: "chatcmpl-fake",
    object: "chat.completion.chunk",
    created: 1700000000,
    model: script.model,
  };
  const events: unknown[] = [
    { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] },
    ...script.pieces.map((content, i) => ({
      ...base,
      choices: [{ index: 0, delta: { content }, finish_reason: null, ...logprobsOf(i) }],
    })),
  ];
  const finishReason = script.finishReason === undefined ? "stop" : script.finishReason;
  if (finishReason !== null) {
    events.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: finishReason }] });
  }
  if (script.usage !== undefined && script.usage !== null) {
    events.push({
      ...base,
      choices: [],
      usage: { ...script.usage, total_tokens: script.usage.prompt_tokens + script.usage.completion_tokens },
    });
  }
  const payloads = events.map((event) => JSON.stringify(event));
  if (done) payloads.push("[DONE]");
  return payloads;
}

export function chatCompletion(script: Script, logprobs = false): unknown {
  return {
    id: "chatcmpl-fake",
    object: "chat.completion",
    created: 1700000000,
    model: script.model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: script.pieces.join("") },
        finish_reason: script.finishReason ?? "stop",
        ...(logprobs && script.logprobs !== undefined
          ? {
              logprobs: {
                content: script.pieces.map((token, i) => ({
                  token,
                  logprob: script.logprobs?.[i],
                  top_logprobs: [],
                })),
              },
            }
          : {}),
      },
    ],
    ...(script.usage === undefined || script.usage === null
      ? {}
      : {
          usage: {
            ...script.usage,
            total_tokens: script.usage.prompt_tokens + script.usage.completion_tokens,
          },
        }),
  };
}

export interface SseWriteOptions {
  /**
   * `awkward` cuts the body inside every multi-byte UTF-8 character and between every CR and its LF, and pauses
   * between the writes so that the client reads them one by one (a client reading slower than the server
   * writes gets coalesced data). Default `whole`: one write.
   */
  split?: "whole" | "awkward";
  /** Pause between writes, in ms. Default 1 for `awkward`. */
  delayMs?: number;
  /** Line ending. Default `\n`. */
  newline?: "\n" | "\r\n";
  /** Leave the response open at the end (for stall tests). */
  keepOpen?: boolean;
}

/** Writes `data:` events (after a comment, as llama.cpp and proxies send keep-alives). */
export async function sendSse(
  res: http.ServerResponse,
  payloads: readonly string[],
  options: SseWriteOptions = {},
): Promise<void> {
  const nl = options.newline ?? "\n";
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const bytes = Buffer.from(
    `: ping${nl}${nl}` + payloads.map((payload) => `data: ${payload}${nl}${nl}`).join(""),
  );
  if (options.split === "awkward") {
    let start = 0;
    for (const cut of awkwardCuts(bytes)) {
      if (res.destroyed) return;
      res.write(bytes.subarray(start, cut));
      start = cut;
      await delay(options.delayMs ?? 1);
    }
    res.write(bytes.subarray(start));
  } else {
    res.write(bytes);
  }
  if (options.keepOpen !== true) res.end();
}

/** Offsets inside each multi-byte UTF-8 character and between each CR and LF. */
export function awkwardCuts(bytes: Uint8Array): number[] {
  const cuts: number[] = [];
  for (let i = 1; i < bytes.length; i++) {
    const byte = bytes[i] ?? 0;
    const isContinuation = (byte & 0xc0) === 0x80;
    const isLfAfterCr = byte === 0x0a && bytes[i - 1] === 0x0d;
    if (isLfAfterCr || (isContinuation && (bytes[i - 1] ?? 0) >= 0xc0)) cuts.push(i);
  }
  return cuts;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(
  res: http.ServerResponse,
  status: number,
  error: { message: string; type?: string; code?: string | number | null; param?: string | null },
): void {
  sendJson(res, status, { error: { type: "invalid_request_error", code: null, param: null, ...error } });
}

/** A loopback port that nothing listens on (connections are refused). */
export async function findClosedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface UnresponsiveListener {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A loopback port whose connections never complete: its listener never accepts, and once the kernel's accept
 * queue is full further handshakes are dropped, so a client waits in `connect` until its own timeout. The
 * listener lives in a worker thread whose event loop is blocked, so nothing accepts.
 */
export async function startUnresponsiveListener(): Promise<UnresponsiveListener> {
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `
    const { parentPort, workerData } = require("node:worker_threads");
    const net = require("node:net");
    const server = net.createServer();
    server.listen({ host: "127.0.0.1", port: 0, backlog: 1 }, () => {
      parentPort.postMessage(server.address().port);
      Atomics.wait(workerData, 0, 0);
    });
    `,
    { eval: true, workerData: gate },
  );
  const port = await new Promise<number>((resolve, reject) => {
    worker.once("message", (value: number) => resolve(value));
    worker.once("error", reject);
  });
  // Fill the accept queue: connect until a handshake no longer completes.
  const fillers: Socket[] = [];
  for (let i = 0; i < 16; i++) {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => {});
    fillers.push(socket);
    const connected = await Promise.race([
      new Promise<boolean>((resolve) => socket.once("connect", () => resolve(true))),
      delay(300).then(() => false),
    ]);
    if (!connected) break;
  }
  return {
    port,
    close: async () => {
      for (const socket of fillers) socket.destroy();
      Atomics.store(gate, 0, 1);
      Atomics.notify(gate, 0);
      await worker.terminate();
    },
  };
}
