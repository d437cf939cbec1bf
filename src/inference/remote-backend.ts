import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import {
  AbortedError,
  AppError,
  createSilentLogger,
  errorCatalogue,
  parseJsonOrUndefined,
  type ErrorCode,
  type Logger,
} from "../shared/index.js";
import type { EmbeddingResult } from "./embedded-backend.js";
import { measureTimings } from "./timings.js";
import { summariseProbabilities } from "./token-confidence.js";
import { defaultSampling } from "./types.js";
import { compileJsonSchemaValidator, parseJsonOutput } from "./json-output.js";
import { parseChatRequest, refuseImages } from "./request.js";
import type {
  ChatMessage,
  ChatRequest,
  ChatResponse,
  ChatStreamChunk,
  FinishReason,
  LlmBackend,
  Usage,
} from "./types.js";

export interface RemoteBackendOptions {
  /**
   * The server's API root, e.g. `http://10.0.0.5:8080/v1`. A root whose path does not end in a version segment
   * (`/v1`, `/v2`, …) gets `/v1` appended, so `http://10.0.0.5:8080` works too. Credentials in the URL
   * (`user:pass@`) are sent as Basic auth and never appear in messages.
   */
  baseUrl: string;
  /** The model name sent to the server. */
  model: string;
  /** Sent as `Authorization: Bearer …`. Never logged, and redacted from upstream messages. */
  apiKey?: string | undefined;
  /** Time to resolve the host and establish the connection (TCP, plus TLS for https), in ms. Default 5000. */
  connectTimeoutMs?: number | undefined;
  /**
   * Longest wait for the next bytes from the server, in ms: for the response headers and then between stream
   * chunks. Time the caller spends between reading chunks does not count. Default 120000.
   */
  readTimeoutMs?: number | undefined;
  /**
   * Retries on connection errors before the server has sent any byte (refused, reset, DNS failure, connect
   * timeout). Never after the server answered, never on an HTTP error status, never on a read timeout.
   * Default 2.
   */
  retries?: number | undefined;
  /** Pause before the first retry, in ms; doubled for each further retry. Default 250. */
  retryDelayMs?: number | undefined;
  /**
   * The server's model takes image input (llama.cpp's server with `--mmproj`, a vision model on vLLM): a message's
   * images are sent as `image_url` content parts with `data:` URLs. Without it a request with images fails with
   * `VISION_UNSUPPORTED` before anything is sent. Default false.
   */
  vision?: boolean | undefined;
  /**
   * Ask for `logprobs` when a request wants token probabilities (the reflexive loop's token signal): llama.cpp's
   * server, vLLM and OpenAI return them; leave it off for a server that refuses the field. Default false.
   */
  logprobs?: boolean | undefined;
  logger?: Logger | undefined;
}

/** A model the server lists at `GET /models`. */
export interface RemoteModelInfo {
  id: string;
  ownedBy?: string;
  /** Unix seconds, when the server says. */
  created?: number;
}

/**
 * `LlmBackend` over an OpenAI-compatible server: llama.cpp's `llama-server`, vLLM, Ollama or another SARAi.
 *
 * Every chat request is streamed from the server, `chat` included: that measures time to first token, and the
 * read timeout bounds the silence between chunks rather than the whole generation. Sampling fields the request
 * leaves out are sent with SARAi's defaults (`defaultSampling`), so both backends behave alike; `top_k` and
 * `grammar` are llama.cpp extensions that servers without them ignore (a GBNF grammar cannot be checked here,
 * unlike a JSON schema, whose output is validated before it is returned).
 */
export class RemoteBackend implements LlmBackend {
  readonly #root: URL;
  readonly #display: string;
  readonly #model: string;
  readonly #apiKey: string | undefined;
  readonly #basicAuth: string | undefined;
  readonly #secrets: readonly string[];
  readonly #connectTimeoutMs: number;
  readonly #readTimeoutMs: number;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #vision: boolean;
  readonly #logprobs: boolean;
  readonly #logger: Logger;
  readonly #agent: http.Agent;
  #disposed = false;

  constructor(options: RemoteBackendOptions) {
    const root = normalizeBaseUrl(options.baseUrl);
    this.#basicAuth =
      root.username === "" && root.password === ""
        ? undefined
        : `${decodeURIComponent(root.username)}:${decodeURIComponent(root.password)}`;
    root.username = "";
    root.password = "";
    this.#root = root;
    this.#display = `${root.origin}${root.pathname}`;
    this.#model = options.model;
    this.#apiKey = options.apiKey;
    this.#secrets = [options.apiKey, this.#basicAuth?.slice(this.#basicAuth.indexOf(":") + 1)].filter(
      (s): s is string => s !== undefined && s.length >= 3,
    );
    this.#connectTimeoutMs = positive(options.connectTimeoutMs, 5_000, "connectTimeoutMs");
    this.#readTimeoutMs = positive(options.readTimeoutMs, 120_000, "readTimeoutMs");
    this.#retries = Math.floor(nonNegative(options.retries, 2, "retries"));
    this.#retryDelayMs = nonNegative(options.retryDelayMs, 250, "retryDelayMs");
    this.#vision = options.vision ?? false;
    this.#logprobs = options.logprobs ?? false;
    this.#logger = options.logger ?? createSilentLogger();
    this.#agent =
      root.protocol === "https:" ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  }

  /** The normalised API root, without credentials, e.g. `http://10.0.0.5:8080/v1`. */
  get baseUrl(): string {
    return this.#display;
  }

  get model(): string {
    return this.#model;
  }

  /** Whether image parts are passed on (`vision`). */
  get vision(): boolean {
    return this.#vision;
  }

  async chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResponse> {
    for await (const chunk of this.#stream(request, signal)) {
      if (chunk.type === "done") return chunk.response;
    }
    // #stream either ends with `done` or throws.
    throw new AppError("INTERNAL", "the remote stream ended without a response");
  }

  chatStream(request: ChatRequest, signal: AbortSignal): AsyncGenerator<ChatStreamChunk, void, undefined> {
    return this.#stream(request, signal);
  }

  /** The models the server offers (`GET /models`). */
  async listModels(signal: AbortSignal): Promise<RemoteModelInfo[]> {
    const body = await this.#requestJson("GET", "/models", undefined, signal);
    const data = isRecord(body) ? body["data"] : undefined;
    if (!Array.isArray(data)) throw this.#malformed("/models", "has no data array");
    const models: RemoteModelInfo[] = [];
    for (const item of data) {
      if (!isRecord(item) || typeof item["id"] !== "string") continue;
      const model: RemoteModelInfo = { id: item["id"] };
      if (typeof item["owned_by"] === "string") model.ownedBy = item["owned_by"];
      if (typeof item["created"] === "number") model.created = item["created"];
      models.push(model);
    }
    return models;
  }

  /** Embeds texts with the configured model (`POST /embeddings`); vectors come back in the order of `texts`. */
  async embed(texts: readonly string[], signal: AbortSignal): Promise<EmbeddingResult> {
    if (texts.length === 0) return { vectors: [], promptTokens: 0 };
    const body = await this.#requestJson(
      "POST",
      "/embeddings",
      { model: this.#model, input: texts, encoding_format: "float" },
      signal,
    );
    const data = isRecord(body) ? body["data"] : undefined;
    if (!Array.isArray(data)) throw this.#malformed("/embeddings", "has no data array");
    const vectors: number[][] = new Array<number[]>(texts.length);
    data.forEach((item: unknown, position) => {
      const index = isRecord(item) && typeof item["index"] === "number" ? item["index"] : position;
      const embedding = isRecord(item) ? item["embedding"] : undefined;
      if (
        !Number.isInteger(index) ||
        index < 0 ||
        index >= texts.length ||
        !Array.isArray(embedding) ||
        !embedding.every((x) => typeof x === "number")
      ) {
        throw this.#malformed("/embeddings", `has an invalid entry at data[${position}]`);
      }
      vectors[index] = embedding;
    });
    for (let i = 0; i < texts.length; i++) {
      if (vectors[i] === undefined) throw this.#malformed("/embeddings", `has no vector for input ${i}`);
    }
    const usage = isRecord(body) ? body["usage"] : undefined;
    const promptTokens =
      isRecord(usage) && typeof usage["prompt_tokens"] === "number" ? usage["prompt_tokens"] : 0;
    return { vectors, promptTokens };
  }

  /** Closes pooled connections; idempotent. Requests in flight keep their sockets until they end. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#agent.destroy();
  }

  async *#stream(
    rawRequest: ChatRequest,
    signal: AbortSignal,
  ): AsyncGenerator<ChatStreamChunk, void, undefined> {
    const started = performance.now();
    const request = parseChatRequest(rawRequest);
    if (!this.#vision) {
      refuseImages(
        request,
        `the remote model ${this.#model} at ${this.#display} is not configured for images ` +
          `(set vision: true on its remote role if it is a vision model)`,
      );
    }
    const schema = request.jsonSchema ?? (request.jsonObject === true ? anyJsonObject : undefined);
    const validate = schema === undefined ? undefined : compileJsonSchemaValidator(schema);
    const sampling = { ...defaultSampling, ...request.sampling };
    const body: Record<string, unknown> = {
      model: this.#model,
      messages: request.messages.map((m) => ({ role: m.role, content: toWireContent(m) })),
      temperature: sampling.temperature,
      top_p: sampling.topP,
      top_k: sampling.topK,
      max_tokens: sampling.maxTokens,
      stream: true,
      stream_options: { include_usage: true },
    };
    if (sampling.seed !== undefined) body["seed"] = sampling.seed;
    const wantsProbabilities = this.#logprobs && request.tokenProbabilities === true;
    if (wantsProbabilities) body["logprobs"] = true;
    const probabilities: number[] = [];
    if (sampling.stop !== undefined && sampling.stop.length > 0) body["stop"] = sampling.stop;
    if (request.grammar !== undefined) body["grammar"] = request.grammar;
    if (request.jsonSchema !== undefined) {
      body["response_format"] = {
        type: "json_schema",
        json_schema: { name: "response", schema: request.jsonSchema, strict: true },
      };
    } else if (request.jsonObject === true) {
      body["response_format"] = { type: "json_object" };
    }

    const path = "/chat/completions";
    const exchange = await this.#open("POST", path, body, "text/event-stream", signal);
    try {
      await this.#checkStatus(exchange, path);
      let text = "";
      let deltas = 0;
      let firstAt: number | undefined;
      let finishReason: FinishReason | undefined;
      let usage: Usage | undefined;
      let model: string | undefined;
      let done = false;

      const contentType = exchange.response.headers["content-type"] ?? "";
      if (/\bapplication\/json\b/i.test(contentType)) {
        // A server that ignored `stream: true` answers with one completion object.
        const completion = parseJsonOrUndefined(await exchange.text(maxJsonBytes));
        const parsed = readCompletion(completion);
        if (parsed === undefined) throw this.#malformed(path, "is not a chat completion");
        if (parsed.error !== undefined)
          throw this.#upstreamError(path, 200, "answered 200 with an error", completion);
        text = parsed.text;
        finishReason = parsed.finishReason;
        usage = parsed.usage;
        model = parsed.model;
        probabilities.push(...parsed.probabilities);
        deltas = text === "" ? 0 : 1;
        firstAt = performance.now();
        done = true;
        if (text !== "") yield { type: "delta", text };
      } else {
        const handle = (event: ServerSentEvent): string | undefined => {
          if (event.data === "[DONE]") {
            done = true;
            return undefined;
          }
          let chunk: unknown;
          try {
            chunk = JSON.parse(event.data);
          } catch {
            if (event.event === "error") throw this.#upstreamError(path, 200, midStream, event.data);
            throw this.#malformed(path, `sent an event that is not JSON: ${truncate(event.data, 200)}`);
          }
          const parsed = readChunk(chunk);
          if (event.event === "error" || parsed.error !== undefined) {
            throw this.#upstreamError(path, 200, midStream, chunk);
          }
          if (parsed.model !== undefined) model = parsed.model;
          if (parsed.usage !== undefined) usage = parsed.usage;
          if (parsed.finishReason !== undefined) finishReason = parsed.finishReason;
          if (parsed.probabilities !== undefined) probabilities.push(...parsed.probabilities);
          return parsed.text;
        };
        for await (const event of readEvents(exchange.body())) {
          const delta = handle(event);
          if (done) break;
          if (delta !== undefined && delta !== "") {
            firstAt ??= performance.now();
            deltas += 1;
            text += delta;
            yield { type: "delta", text: delta };
          }
        }
      }
      if (signal.aborted) throw new AbortedError();
      if (!done && finishReason === undefined) {
        throw new AppError(
          "INFERENCE_FAILED",
          `the remote model server ${this.#display}${path} ended the stream before the answer was complete ` +
            `(no finish_reason and no [DONE])`,
        );
      }
      const ended = performance.now();
      const completionTokens = usage?.completionTokens ?? deltas;
      const response: ChatResponse = {
        text,
        finishReason: finishReason ?? "stop",
        usage: { promptTokens: usage?.promptTokens ?? 0, completionTokens },
        timings: measureTimings(started, firstAt, ended, completionTokens),
        model: model ?? this.#model,
      };
      if (validate !== undefined) {
        response.json = parseJsonOutput(text, validate, response.finishReason, sampling.maxTokens);
      }
      if (wantsProbabilities && probabilities.length > 0)
        response.tokenConfidence = summariseProbabilities(probabilities);
      await exchange.release();
      this.#logger.debug(
        {
          url: this.#display + path,
          finishReason: response.finishReason,
          usage: response.usage,
          tokensPerSecond: response.timings.tokensPerSecond,
        },
        "remote generation done",
      );
      yield { type: "done", response };
    } finally {
      exchange.close();
    }
  }

  async #requestJson(
    method: "GET" | "POST",
    path: string,
    body: unknown,
    signal: AbortSignal,
  ): Promise<unknown> {
    const exchange = await this.#open(method, path, body, "application/json", signal);
    try {
      await this.#checkStatus(exchange, path);
      const text = await exchange.text(maxJsonBytes);
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw this.#malformed(path, `is not JSON: ${truncate(text, 200)}`);
      }
    } finally {
      exchange.close();
    }
  }

  /** Sends a request and waits for its response headers, retrying on connection errors only. */
  async #open(
    method: "GET" | "POST",
    path: string,
    body: unknown,
    accept: string,
    signal: AbortSignal,
  ): Promise<Exchange> {
    if (this.#disposed) throw new AppError("SHUTTING_DOWN", "the remote backend was disposed");
    const url = new URL(this.#root);
    url.pathname = `${url.pathname}${path}`;
    const display = `${this.#display}${path}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: http.OutgoingHttpHeaders = {
      accept,
      "accept-encoding": "identity",
      "user-agent": "sarai",
    };
    if (payload !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = Buffer.byteLength(payload);
    }
    if (this.#apiKey !== undefined) headers["authorization"] = `Bearer ${this.#apiKey}`;
    const attempts = this.#retries + 1;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw new AbortedError("request aborted");
      const exchange = new Exchange({
        url,
        display,
        method,
        headers,
        agent: this.#agent,
        auth: this.#basicAuth,
        connectTimeoutMs: this.#connectTimeoutMs,
        readTimeoutMs: this.#readTimeoutMs,
        signal,
      });
      try {
        await exchange.start(payload);
        return exchange;
      } catch (error) {
        exchange.close();
        const retry = error instanceof AppError && retriable.has(error) && attempt < attempts;
        if (!retry) {
          if (error instanceof AppError && retriable.has(error) && attempt > 1) {
            throw new AppError(error.code, `${error.message} (${attempt} attempts)`, { cause: error.cause });
          }
          throw error;
        }
        const delayMs = this.#retryDelayMs * 2 ** (attempt - 1);
        this.#logger.warn(
          { url: display, attempt, attempts, delayMs, error: error.message },
          "remote model server unreachable; retrying",
        );
        await sleep(delayMs, signal);
      }
    }
  }

  /** Throws the upstream's error when the status is not 2xx. */
  async #checkStatus(exchange: Exchange, path: string): Promise<void> {
    const { statusCode = 0, statusMessage = "" } = exchange.response;
    if (statusCode >= 200 && statusCode < 300) return;
    let text = "";
    try {
      text = await exchange.text(maxErrorBytes, true);
    } catch (error) {
      if (error instanceof AbortedError) throw error;
      // The status alone still tells what happened.
    }
    let body: unknown = text;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      // Not JSON: an HTML error page from a proxy, say; its text is quoted as it is.
    }
    throw this.#upstreamError(
      path,
      statusCode,
      `answered ${statusCode}${statusMessage === "" ? "" : ` ${statusMessage}`}`,
      body,
    );
  }

  /** An AppError for an upstream error body; `status` is the HTTP status, 200 for an error inside a stream. */
  #upstreamError(path: string, status: number, what: string, body: unknown): AppError {
    const info = readErrorInfo(body);
    // Inside a 200 stream the error object's numeric code (vLLM, llama.cpp) is the status it would have had.
    const effectiveStatus =
      status < 400 && typeof info.code === "number" && info.code >= 400 && info.code < 600
        ? info.code
        : status;
    const code = errorCodeFor(effectiveStatus, info);
    let detail = info.message ?? (typeof body === "string" ? truncate(body.trim(), 300) : "");
    if (detail === "") detail = "no error message";
    let hint = "";
    if (status === 401 || status === 403) hint = " (check the remote apiKey)";
    else if (code === "INFERENCE_FAILED" && status === 404) hint = " (is baseUrl the server's API root?)";
    const message = this.#redact(`the remote model server ${this.#display}${path} ${what}: ${detail}${hint}`);
    // A param names a field of the request, which only means something for the caller's own mistakes.
    const passParam = errorCatalogue[code].status < 500 || code === "OUTPUT_INVALID";
    return new AppError(code, message, passParam && info.param !== undefined ? { param: info.param } : {});
  }

  #malformed(path: string, what: string): AppError {
    return new AppError(
      "INFERENCE_FAILED",
      this.#redact(`the remote model server ${this.#display}${path} answered, but its response ${what}`),
    );
  }

  #redact(text: string): string {
    let result = text;
    for (const secret of this.#secrets) result = result.split(secret).join("[redacted]");
    return result;
  }
}

const anyJsonObject = Object.freeze({ type: "object" });
const maxJsonBytes = 256 * 2 ** 20;
const maxErrorBytes = 64 * 2 ** 10;
/** Longest wait for the rest of a body after `[DONE]` before its connection is cut rather than reused. */
const drainGraceMs = 2_000;
/** Longest the `done` chunk waits for that before it goes out anyway. */
const drainWaitMs = 50;
const midStream = "reported an error in the middle of the stream";

/** Errors worth another attempt: the connection failed before the server sent anything. */
const retriable = new WeakSet<AppError>();

/** Socket errors that mean the server was not reached (or dropped the connection before answering). */
const connectionErrorCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_FAIL",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ETIMEDOUT",
  "EADDRNOTAVAIL",
]);

const connectionErrorNames: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EPIPE: "connection closed",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "temporary DNS failure",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
};

/** SARAi codes another SARAi may answer with that keep their meaning here. */
const passThroughCodes = new Set<ErrorCode>([
  "INVALID_REQUEST",
  "GRAMMAR_INVALID",
  "OUTPUT_INVALID",
  "CONTEXT_OVERFLOW",
  "MODEL_NOT_FOUND",
]);

interface UpstreamErrorInfo {
  message?: string;
  type?: string;
  code?: string | number;
  param?: string;
}

function errorCodeFor(status: number, info: UpstreamErrorInfo): ErrorCode {
  const upstream = typeof info.code === "string" ? info.code.toUpperCase() : undefined;
  if (upstream !== undefined && passThroughCodes.has(upstream as ErrorCode)) return upstream as ErrorCode;
  if (
    upstream === "CONTEXT_LENGTH_EXCEEDED" ||
    info.type === "exceed_context_size_error" ||
    (status === 400 && /maximum context length|exceeds the (available )?context/i.test(info.message ?? ""))
  ) {
    return "CONTEXT_OVERFLOW";
  }
  if (status < 400 || status === 401 || status === 403) return "INFERENCE_FAILED";
  if (status === 404) {
    return upstream === "MODEL_NOT_FOUND" || /\bmodel\b/i.test(info.message ?? "")
      ? "MODEL_NOT_FOUND"
      : "INFERENCE_FAILED";
  }
  if (status === 408) return "UPSTREAM_TIMEOUT";
  if (status === 429) return "UPSTREAM_UNAVAILABLE";
  if (status >= 400 && status < 500) return "INVALID_REQUEST";
  if (status === 502 || status === 503) return "UPSTREAM_UNAVAILABLE";
  if (status === 504) return "UPSTREAM_TIMEOUT";
  return "INFERENCE_FAILED";
}

/** `{error:{message,type,code,param}}` (OpenAI, vLLM), `{error:"…"}` (Ollama's native API) or the bare object. */
function readErrorInfo(body: unknown): UpstreamErrorInfo {
  if (!isRecord(body)) return {};
  const error = body["error"];
  if (typeof error === "string") return { message: error };
  const source = isRecord(error) ? error : body;
  const info: UpstreamErrorInfo = {};
  if (typeof source["message"] === "string") info.message = source["message"];
  else if (typeof source["detail"] === "string") info.message = source["detail"];
  if (typeof source["type"] === "string") info.type = source["type"];
  if (typeof source["code"] === "string" || typeof source["code"] === "number") info.code = source["code"];
  if (typeof source["param"] === "string") info.param = source["param"];
  return info;
}

interface ParsedChunk {
  text?: string;
  /** The chosen tokens' probabilities, from `logprobs.content[].logprob`. */
  probabilities?: number[];
  finishReason?: FinishReason;
  usage?: Usage;
  model?: string;
  error?: unknown;
}

function readChunk(chunk: unknown): ParsedChunk {
  if (!isRecord(chunk)) return {};
  const parsed: ParsedChunk = {};
  if ((chunk["error"] !== undefined && chunk["error"] !== null) || chunk["object"] === "error") {
    parsed.error = chunk;
  }
  if (typeof chunk["model"] === "string" && chunk["model"] !== "") parsed.model = chunk["model"];
  const usage = readUsage(chunk["usage"]);
  if (usage !== undefined) parsed.usage = usage;
  const choices = chunk["choices"];
  const choice: unknown = Array.isArray(choices) ? choices[0] : undefined;
  if (isRecord(choice)) {
    const delta = choice["delta"];
    if (isRecord(delta) && typeof delta["content"] === "string") parsed.text = delta["content"];
    const finish = mapFinishReason(choice["finish_reason"]);
    if (finish !== undefined) parsed.finishReason = finish;
    const probabilities = readLogprobs(choice["logprobs"]);
    if (probabilities.length > 0) parsed.probabilities = probabilities;
  }
  return parsed;
}

function readCompletion(body: unknown):
  | {
      text: string;
      finishReason: FinishReason;
      probabilities: number[];
      usage?: Usage;
      model?: string;
      error?: unknown;
    }
  | undefined {
  if (!isRecord(body)) return undefined;
  if (body["error"] !== undefined && body["error"] !== null) {
    return { text: "", finishReason: "stop", probabilities: [], error: body };
  }
  const choices = body["choices"];
  const choice: unknown = Array.isArray(choices) ? choices[0] : undefined;
  if (!isRecord(choice)) return undefined;
  const message = choice["message"];
  const content = isRecord(message) ? message["content"] : undefined;
  const result: {
    text: string;
    finishReason: FinishReason;
    probabilities: number[];
    usage?: Usage;
    model?: string;
  } = {
    text: typeof content === "string" ? content : "",
    finishReason: mapFinishReason(choice["finish_reason"]) ?? "stop",
    probabilities: readLogprobs(choice["logprobs"]),
  };
  const usage = readUsage(body["usage"]);
  if (usage !== undefined) result.usage = usage;
  if (typeof body["model"] === "string" && body["model"] !== "") result.model = body["model"];
  return result;
}

/** OpenAI's `logprobs: {content: [{token, logprob}]}` as probabilities; anything malformed is skipped. */
function readLogprobs(logprobs: unknown): number[] {
  const content = isRecord(logprobs) ? logprobs["content"] : undefined;
  if (!Array.isArray(content)) return [];
  const probabilities: number[] = [];
  for (const item of content) {
    const logprob = isRecord(item) ? item["logprob"] : undefined;
    if (typeof logprob === "number" && Number.isFinite(logprob) && logprob <= 0)
      probabilities.push(Math.exp(logprob));
  }
  return probabilities;
}

function readUsage(usage: unknown): Usage | undefined {
  if (!isRecord(usage)) return undefined;
  const prompt = usage["prompt_tokens"];
  const completion = usage["completion_tokens"];
  if (typeof prompt !== "number" && typeof completion !== "number") return undefined;
  return {
    promptTokens: typeof prompt === "number" ? prompt : 0,
    completionTokens: typeof completion === "number" ? completion : 0,
  };
}

/**
 * `length` (vLLM, OpenAI, llama.cpp) is the only way an answer is cut short; every other reason
 * (`stop`, `eos`, `content_filter`, `tool_calls`, …) ends it on the server's terms.
 */
function mapFinishReason(reason: unknown): FinishReason | undefined {
  if (typeof reason !== "string" || reason === "") return undefined;
  return reason === "length" || reason === "max_tokens" ? "length" : "stop";
}

async function* readEvents(
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<ServerSentEvent, void, undefined> {
  const parser = new SseParser();
  for await (const bytes of body) yield* parser.push(bytes);
  yield* parser.end();
}

/** One event of a `text/event-stream`. */
export interface ServerSentEvent {
  /** The `event:` field; `message` when the event has none. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
}

/**
 * An incremental parser for server-sent events (the WHATWG `text/event-stream` format). Bytes may arrive split
 * anywhere, inside a line, a CRLF pair or a UTF-8 character. Comments, `id:` and `retry:` are ignored. One
 * extension: llama.cpp's server writes errors as an `error:` field, which becomes an event named `error`.
 */
export class SseParser {
  readonly #decoder = new TextDecoder("utf-8");
  #line = "";
  #afterCr = false;
  #event = "";
  #data: string[] = [];

  /** Feeds bytes; returns the events they complete. */
  push(bytes: Uint8Array): ServerSentEvent[] {
    return this.#feed(this.#decoder.decode(bytes, { stream: true }));
  }

  /**
   * Ends the stream. Unlike the standard, which drops an event missing its final blank line, a clean end
   * dispatches what was received: some servers omit the last newline after `[DONE]`.
   */
  end(): ServerSentEvent[] {
    const events = this.#feed(this.#decoder.decode());
    if (this.#line !== "") {
      this.#field(this.#line, events);
      this.#line = "";
    }
    this.#dispatch(events);
    return events;
  }

  #feed(text: string): ServerSentEvent[] {
    const events: ServerSentEvent[] = [];
    let start = 0;
    if (this.#afterCr && text.length > 0) {
      if (text.charCodeAt(0) === 10) start = 1;
      this.#afterCr = false;
    }
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.#line + text.slice(start, i);
      this.#line = "";
      this.#field(line, events);
      if (c === 13) {
        if (i + 1 === text.length) this.#afterCr = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.#line += text.slice(start);
    return events;
  }

  #field(line: string, events: ServerSentEvent[]): void {
    if (line === "") {
      this.#dispatch(events);
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "data") this.#data.push(value);
    else if (name === "event") this.#event = value;
    else if (name === "error") {
      this.#event = "error";
      this.#data.push(value);
    }
  }

  #dispatch(events: ServerSentEvent[]): void {
    if (this.#data.length > 0) events.push({ event: this.#event || "message", data: this.#data.join("\n") });
    this.#data = [];
    this.#event = "";
  }
}

interface ExchangeOptions {
  url: URL;
  /** The URL as messages show it: no credentials, no query. */
  display: string;
  method: string;
  headers: http.OutgoingHttpHeaders;
  agent: http.Agent;
  auth: string | undefined;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  signal: AbortSignal;
}

/**
 * One HTTP request and its response, with the connect timeout, the read timeout (armed only while waiting for
 * the server) and the abort signal applied to it. Whatever ends it early records why, so the caller sees that
 * reason rather than the socket error it causes.
 */
class Exchange {
  readonly #options: ExchangeOptions;
  #request: http.ClientRequest | undefined;
  #response: http.IncomingMessage | undefined;
  #socket: Socket | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failure: AppError | undefined;
  #bytesSeen = false;
  #closed = false;
  readonly #onAbort = () => this.#fail(new AbortedError("request aborted"));
  readonly #onSocketData = () => {
    this.#bytesSeen = true;
  };

  constructor(options: ExchangeOptions) {
    this.#options = options;
  }

  get response(): http.IncomingMessage {
    if (this.#response === undefined) throw new AppError("INTERNAL", "no response yet");
    return this.#response;
  }

  /** Sends the request; resolves with the response headers. */
  start(payload: string | undefined): Promise<void> {
    const { url, method, headers, agent, auth, signal, connectTimeoutMs } = this.#options;
    return new Promise<void>((resolve, reject) => {
      const transport = url.protocol === "https:" ? https : http;
      const request = transport.request(url, {
        method,
        headers,
        agent,
        ...(auth === undefined ? {} : { auth }),
      });
      this.#request = request;
      signal.addEventListener("abort", this.#onAbort, { once: true });
      if (signal.aborted) this.#onAbort();
      request.on("socket", (socket: Socket) => {
        this.#socket = socket;
        socket.on("data", this.#onSocketData);
        if (socket.connecting) {
          this.#arm(connectTimeoutMs, () => this.#connectTimeout());
          socket.once(url.protocol === "https:" ? "secureConnect" : "connect", () => this.#waitForHeaders());
        } else {
          this.#waitForHeaders();
        }
      });
      request.on("response", (response) => {
        this.#disarm();
        this.#bytesSeen = true;
        this.#response = response;
        // Errors surface through the body's iterator; this keeps a late one from being unhandled.
        response.on("error", noop);
        resolve();
      });
      request.on("error", (error) => {
        this.#disarm();
        reject(this.#classify(error));
      });
      request.end(payload);
    });
  }

  /** Yields the response body; each wait for the next bytes is bounded by the read timeout. */
  async *body(): AsyncGenerator<Buffer, void, undefined> {
    const iterator = this.response[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    for (;;) {
      this.#arm(this.#options.readTimeoutMs, () =>
        this.#readTimeout("waiting for the next part of the answer"),
      );
      let next: IteratorResult<Buffer>;
      try {
        next = await iterator.next();
      } catch (error) {
        throw this.#failure ?? this.#interrupted(error);
      } finally {
        this.#disarm();
      }
      if (this.#failure !== undefined) throw this.#failure;
      if (next.done === true) return;
      yield next.value;
    }
  }

  /** Reads the whole body as UTF-8, up to `limit` bytes (the rest is dropped when `truncate`, else an error). */
  async text(limit: number, truncate = false): Promise<string> {
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.body()) {
      size += chunk.length;
      if (size > limit) {
        if (truncate) {
          parts.push(chunk.subarray(0, chunk.length - (size - limit)));
          break;
        }
        throw new AppError(
          "INFERENCE_FAILED",
          `the remote model server ${this.#options.display} sent a response larger than ${limit} bytes`,
        );
      }
      parts.push(chunk);
    }
    return new TextDecoder("utf-8").decode(Buffer.concat(parts));
  }

  /** Ends the exchange; an unfinished response is cut, which the server sees as a closed connection. */
  close(): void {
    if (!this.#finish()) return;
    if (this.#response?.readableEnded !== true) {
      this.#request?.destroy();
      this.#response?.destroy();
    }
  }

  /**
   * Ends an exchange whose answer is complete (`[DONE]` has come). What is left of the body, usually just the
   * end of the chunked encoding, is read and dropped so the connection can serve the next request; if it does
   * not come soon, the connection is cut. Resolves once the connection is back in the pool, or after a short
   * wait while the draining goes on in the background.
   */
  release(): Promise<void> {
    const response = this.#response;
    if (response === undefined || response.readableEnded) {
      this.close();
      return Promise.resolve();
    }
    if (!this.#finish()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const cut = setTimeout(
        () => {
          this.#request?.destroy();
          response.destroy();
        },
        Math.min(this.#options.readTimeoutMs, drainGraceMs),
      );
      cut.unref();
      const waited = setTimeout(resolve, drainWaitMs);
      waited.unref();
      const drain = () => {
        while (response.read() !== null);
      };
      response.on("readable", drain);
      response.once("end", () => {
        clearTimeout(waited);
        // The agent takes the socket back on the next tick.
        process.nextTick(resolve);
      });
      response.once("close", () => {
        clearTimeout(cut);
        clearTimeout(waited);
        resolve();
      });
      drain();
    });
  }

  /** Stops the timers and listeners; false if the exchange had already ended. */
  #finish(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    this.#disarm();
    this.#options.signal.removeEventListener("abort", this.#onAbort);
    this.#socket?.removeListener("data", this.#onSocketData);
    return true;
  }

  #waitForHeaders(): void {
    this.#arm(this.#options.readTimeoutMs, () => this.#readTimeout("waiting for the response headers"));
  }

  #connectTimeout(): void {
    const error = new AppError(
      "UPSTREAM_UNAVAILABLE",
      `cannot reach the remote model server ${this.#options.display}: no connection within ` +
        `${this.#options.connectTimeoutMs} ms (connectTimeoutMs)`,
    );
    retriable.add(error);
    this.#fail(error);
  }

  #readTimeout(phase: string): void {
    this.#fail(
      new AppError(
        "UPSTREAM_TIMEOUT",
        `the remote model server ${this.#options.display} sent nothing for ${this.#options.readTimeoutMs} ms ` +
          `(readTimeoutMs) while ${phase}`,
      ),
    );
  }

  #fail(error: AppError): void {
    this.#failure ??= error;
    this.#disarm();
    this.#request?.destroy(this.#failure);
    this.#response?.destroy(this.#failure);
  }

  #classify(error: Error): AppError {
    if (this.#failure !== undefined) return this.#failure;
    const code = (error as NodeJS.ErrnoException).code ?? "";
    const display = this.#options.display;
    if (code.startsWith("HPE_")) {
      return new AppError(
        "INFERENCE_FAILED",
        `the remote model server ${display} did not answer with valid HTTP: ${error.message}`,
        { cause: error },
      );
    }
    const name = connectionErrorNames[code];
    const described = name === undefined ? error.message : `${name} (${code})`;
    const appError = new AppError(
      "UPSTREAM_UNAVAILABLE",
      `cannot reach the remote model server ${display}: ${described}`,
      {
        cause: error,
      },
    );
    if (connectionErrorCodes.has(code) && !this.#bytesSeen) retriable.add(appError);
    return appError;
  }

  #interrupted(error: unknown): AppError {
    return new AppError(
      "INFERENCE_FAILED",
      `the remote model server ${this.#options.display} closed the connection in the middle of its answer`,
      { cause: error },
    );
  }

  #arm(ms: number, onTimeout: () => void): void {
    this.#disarm();
    this.#timer = setTimeout(onTimeout, ms);
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * The API root as a URL without a trailing slash, with `/v1` appended when its path has no version segment.
 * Query strings are kept for the requests (some gateways need them) but never shown in messages.
 */
function normalizeBaseUrl(baseUrl: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new AppError("CONFIG_INVALID", `baseUrl: not a URL: ${truncate(baseUrl, 100)}`, {
      param: "baseUrl",
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new AppError("CONFIG_INVALID", `baseUrl: must be http or https, not ${url.protocol}`, {
      param: "baseUrl",
    });
  }
  url.hash = "";
  let path = url.pathname.replace(/\/+$/, "");
  if (!/\/v\d+$/.test(path)) path += "/v1";
  url.pathname = path;
  return url;
}

/**
 * A message's OpenAI `content`: its text, or with images content parts, the text first and then one
 * `image_url` part with a `data:` URL per image (what llama.cpp's server, vLLM and OpenAI take).
 */
function toWireContent(message: ChatMessage): string | Record<string, unknown>[] {
  const images = message.images ?? [];
  if (images.length === 0) return message.content;
  return [
    ...(message.content === "" ? [] : [{ type: "text", text: message.content }]),
    ...images.map((image) => ({
      type: "image_url",
      image_url: { url: `data:${image.mimeType};base64,${image.data.toString("base64")}` },
    })),
  ];
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const result = value ?? fallback;
  if (!(result > 0) || !Number.isFinite(result)) {
    throw new AppError("CONFIG_INVALID", `${name}: must be a positive number of ms`, { param: name });
  }
  return result;
}

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  const result = value ?? fallback;
  if (!(result >= 0) || !Number.isFinite(result)) {
    throw new AppError("CONFIG_INVALID", `${name}: must be zero or more`, { param: name });
  }
  return result;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(new AbortedError("request aborted"));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError("request aborted"));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function noop(): void {}
