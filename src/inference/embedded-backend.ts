import {
  LlamaChat,
  LlamaCompletion,
  type ChatHistoryItem,
  type ChatWrapper,
  type Llama,
  type LlamaGrammar,
} from "node-llama-cpp";
import { AbortedError, AppError, createSilentLogger, isAppError, type Logger } from "../shared/index.js";
import { AsyncQueue } from "./async-queue.js";
import { compileJsonSchemaValidator, parseJsonOutput } from "./json-output.js";
import type { ModelPool, SequenceLease } from "./model-pool.js";
import { parseChatRequest } from "./request.js";
import { measureTimings } from "./timings.js";
import { defaultSampling } from "./types.js";
import type {
  ChatMessage,
  ChatRequest,
  ChatResponse,
  ChatStreamChunk,
  FinishReason,
  LlmBackend,
  ModelRole,
} from "./types.js";

const anyJsonObject = Object.freeze({ type: "object" });

/** A raw completion request: the model continues `prompt`, with no chat template. */
export type CompletionRequest = Omit<ChatRequest, "messages"> & { prompt: string };

export interface EmbeddingResult {
  vectors: number[][];
  promptTokens: number;
}

function toPromptRequest(request: CompletionRequest): ChatRequest {
  // Validated like a chat request; the prompt stands in as the one message.
  const { prompt, ...rest } = request;
  return { ...rest, messages: [{ role: "user", content: prompt }] };
}

export interface EmbeddedBackendOptions {
  pool: ModelPool;
  logger?: Logger;
  /** Compiled grammars kept for reuse, by source text. Default 32. */
  grammarCacheSize?: number;
}

/** `LlmBackend` on llama.cpp in this process, through node-llama-cpp and the model pool. */
export class EmbeddedBackend implements LlmBackend {
  readonly #pool: ModelPool;
  readonly #logger: Logger;
  readonly #grammars = new Map<string, Promise<LlamaGrammar>>();
  readonly #grammarCacheSize: number;

  constructor(options: EmbeddedBackendOptions) {
    this.#pool = options.pool;
    this.#logger = options.logger ?? createSilentLogger();
    this.#grammarCacheSize = options.grammarCacheSize ?? 32;
  }

  chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResponse> {
    return this.#generate(request, signal, undefined);
  }

  chatStream(request: ChatRequest, signal: AbortSignal): AsyncGenerator<ChatStreamChunk, void, undefined> {
    return this.#stream(request, signal);
  }

  /** Raw text completion (no chat template): the model continues `prompt`. */
  complete(request: CompletionRequest, signal: AbortSignal): Promise<ChatResponse> {
    return this.#generate(toPromptRequest(request), signal, undefined, request.prompt);
  }

  completeStream(
    request: CompletionRequest,
    signal: AbortSignal,
  ): AsyncGenerator<ChatStreamChunk, void, undefined> {
    return this.#stream(toPromptRequest(request), signal, request.prompt);
  }

  /** Embeds texts with the role's model. */
  embed(texts: readonly string[], role: ModelRole, signal: AbortSignal): Promise<EmbeddingResult> {
    return this.#pool.embed(role, texts, signal);
  }

  async *#stream(
    request: ChatRequest,
    signal: AbortSignal,
    rawPrompt?: string,
  ): AsyncGenerator<ChatStreamChunk, void, undefined> {
    // The consumer may stop iterating early; that must stop the generation and free its sequence too.
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    if (signal.aborted) controller.abort(signal.reason);
    else signal.addEventListener("abort", onAbort, { once: true });

    const queue = new AsyncQueue<ChatStreamChunk>();
    const generation = this.#generate(
      request,
      controller.signal,
      (text) => queue.push({ type: "delta", text }),
      rawPrompt,
    ).then(
      (response) => queue.end({ type: "done", response }),
      (error: unknown) => queue.fail(error),
    );
    try {
      yield* queue;
    } finally {
      signal.removeEventListener("abort", onAbort);
      if (!queue.finished) controller.abort(new AbortedError("stream closed by its consumer"));
      await generation;
    }
  }

  async #generate(
    rawRequest: ChatRequest,
    signal: AbortSignal,
    onText: ((text: string) => void) | undefined,
    rawPrompt?: string,
  ): Promise<ChatResponse> {
    const started = performance.now();
    const request = parseChatRequest(rawRequest);
    if (signal.aborted) throw new AbortedError();
    const role = request.role ?? "main";
    const llama = await this.#pool.getLlama();
    const schema = request.jsonSchema ?? (request.jsonObject === true ? anyJsonObject : undefined);
    const validate = schema === undefined ? undefined : compileJsonSchemaValidator(schema);
    const grammar = await this.#grammarFor(llama, request);
    const lease = await this.#pool.acquire(role, signal);
    try {
      const sampling = { ...defaultSampling, ...request.sampling };
      let firstTokenAt: number | undefined;
      let completionTokens = 0;
      const options = {
        signal,
        stopOnAbortSignal: false,
        maxTokens: sampling.maxTokens,
        temperature: sampling.temperature,
        topP: sampling.topP,
        topK: sampling.topK,
        ...(sampling.seed === undefined ? {} : { seed: sampling.seed }),
        ...(sampling.stop === undefined || sampling.stop.length === 0
          ? {}
          : { customStopTriggers: sampling.stop }),
        ...(grammar === undefined ? {} : { grammar }),
        onToken: (tokens: readonly unknown[]) => {
          firstTokenAt ??= performance.now();
          completionTokens += tokens.length;
        },
        ...(onText === undefined ? {} : { onTextChunk: onText }),
      };
      let result: { response: string; metadata: { stopReason: string } };
      let countPrompt: () => number;
      try {
        if (rawPrompt !== undefined) {
          const tokens = lease.model.tokenize(rawPrompt);
          if (tokens.length + Math.min(sampling.maxTokens, minimumAnswerRoom) > lease.sequence.contextSize) {
            throw new AppError(
              "CONTEXT_OVERFLOW",
              `the prompt has ${tokens.length} tokens plus room to answer, but the context holds ` +
                `${lease.sequence.contextSize} (inference.contextSize)`,
              { param: "prompt" },
            );
          }
          const completion = new LlamaCompletion({
            contextSequence: lease.sequence,
            autoDisposeSequence: false,
          });
          try {
            result = await completion.generateCompletionWithMeta(tokens, options);
          } finally {
            completion.dispose({ disposeSequence: false });
          }
          countPrompt = () => tokens.length;
        } else {
          const chat = new LlamaChat({
            contextSequence: lease.sequence,
            autoDisposeSequence: false,
            ...(lease.chatWrapper === undefined ? {} : { chatWrapper: lease.chatWrapper }),
          });
          const chatWrapper = chat.chatWrapper;
          const history = toHistory(request.messages);
          try {
            checkPromptFits(chat, lease, history, request.messages, sampling.maxTokens);
            result = await chat.generateResponse(history, options);
          } finally {
            chat.dispose({ disposeSequence: false });
          }
          // Counted after generating, so the count does not delay the first token.
          countPrompt = () => countPromptTokens(chatWrapper, lease, history);
        }
      } catch (error) {
        if (isAppError(error)) throw error;
        if (signal.aborted) throw new AbortedError("generation aborted", { cause: error });
        throw new AppError("INFERENCE_FAILED", `generation failed: ${errorMessage(error)}`, { cause: error });
      }
      if (result.metadata.stopReason === "abort" || signal.aborted) throw new AbortedError();

      const ended = performance.now();
      const promptTokens = countPrompt();
      const finishReason: FinishReason = result.metadata.stopReason === "maxTokens" ? "length" : "stop";
      const response: ChatResponse = {
        text: result.response,
        finishReason,
        usage: { promptTokens, completionTokens },
        timings: measureTimings(started, firstTokenAt, ended, completionTokens),
        model: lease.file,
      };
      if (validate !== undefined) {
        response.json = parseJsonOutput(result.response, validate, finishReason, sampling.maxTokens);
      }
      this.#logger.debug(
        { role, finishReason, usage: response.usage, tokensPerSecond: response.timings.tokensPerSecond },
        "generation done",
      );
      return response;
    } finally {
      await lease.release();
    }
  }

  async #grammarFor(llama: Llama, request: ChatRequest): Promise<LlamaGrammar | undefined> {
    if (request.grammar === undefined && request.jsonSchema === undefined && request.jsonObject !== true) {
      return undefined;
    }
    const key =
      request.grammar !== undefined
        ? `gbnf:${request.grammar}`
        : request.jsonSchema !== undefined
          ? `schema:${JSON.stringify(request.jsonSchema)}`
          : "json";
    let pending = this.#grammars.get(key);
    if (pending !== undefined) {
      // Refresh its place in the LRU order.
      this.#grammars.delete(key);
      this.#grammars.set(key, pending);
      return pending;
    }
    pending = (async () => {
      try {
        if (request.grammar !== undefined) return await llama.createGrammar({ grammar: request.grammar });
        if (request.jsonSchema === undefined) return await llama.getGrammarFor("json");
        // The schema arrives from clients as plain data; node-llama-cpp's generic types are for literal schemas.
        return await llama.createGrammarForJsonSchema(request.jsonSchema as never);
      } catch (error) {
        const what = request.grammar !== undefined ? "GBNF grammar" : "JSON schema";
        throw new AppError("GRAMMAR_INVALID", `the ${what} cannot be used: ${errorMessage(error)}`, {
          cause: error,
          param: request.grammar !== undefined ? "grammar" : "jsonSchema",
        });
      }
    })();
    this.#grammars.set(key, pending);
    pending.catch(() => this.#grammars.delete(key));
    while (this.#grammars.size > this.#grammarCacheSize) {
      const oldest = this.#grammars.keys().next().value;
      if (oldest === undefined) break;
      this.#grammars.delete(oldest);
    }
    return pending;
  }
}

/**
 * Counts the prompt's tokens and refuses a prompt whose system messages and last user message alone leave no
 * room to answer: node-llama-cpp would otherwise cut the user's own message silently. Older turns that do not
 * fit are dropped by node-llama-cpp's context shift, oldest first.
 */
function checkPromptFits(
  chat: LlamaChat,
  lease: SequenceLease,
  history: ChatHistoryItem[],
  messages: readonly ChatMessage[],
  maxTokens: number,
): void {
  const contextSize = lease.sequence.contextSize;
  const room = Math.min(maxTokens, minimumAnswerRoom);
  // A token covers at least one byte of text, so bytes plus the template's tokens bound the count from
  // above; only prompts near the limit pay for an exact count before generating.
  if (boundPromptTokens(messages) + room <= contextSize) return;
  if (countPromptTokens(chat.chatWrapper, lease, history) + room <= contextSize) return;
  const lastUser = messages.findLastIndex((m) => m.role === "user");
  const essential = toHistory(messages.filter((m, i) => m.role === "system" || i === lastUser));
  const needed = countPromptTokens(chat.chatWrapper, lease, essential);
  if (needed + room > contextSize) {
    throw new AppError(
      "CONTEXT_OVERFLOW",
      `the prompt needs ${needed} tokens plus room to answer, but the context holds ${contextSize} ` +
        `(inference.contextSize); shorten the message or raise the context size`,
      { param: "messages" },
    );
  }
}

function countPromptTokens(
  chatWrapper: ChatWrapper,
  lease: SequenceLease,
  history: ChatHistoryItem[],
): number {
  return chatWrapper
    .generateContextState({ chatHistory: history })
    .contextText.tokenize(lease.model.tokenizer).length;
}

/** An upper bound on a prompt's tokens: its UTF-8 bytes plus generous room for the chat template. */
function boundPromptTokens(messages: readonly ChatMessage[]): number {
  let bytes = templateTokensPerPrompt;
  for (const message of messages)
    bytes += Buffer.byteLength(message.content, "utf8") + templateTokensPerMessage;
  return bytes;
}

const templateTokensPerMessage = 16;
const templateTokensPerPrompt = 512;

/** Tokens a prompt must leave free for the answer, at most (fewer when `maxTokens` is smaller). */
const minimumAnswerRoom = 16;

function toHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((message): ChatHistoryItem => {
    switch (message.role) {
      case "system":
        return { type: "system", text: message.content };
      case "user":
        return { type: "user", text: message.content };
      case "assistant":
        return { type: "model", response: [message.content] };
    }
  });
  history.push({ type: "model", response: [] });
  return history;
}

function errorMessage(error: unknown): string {
  if (isAppError(error)) return error.message;
  return error instanceof Error ? error.message : String(error);
}
