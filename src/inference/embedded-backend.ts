import {
  LlamaChat,
  LlamaCompletion,
  type ChatHistoryItem,
  type ChatWrapper,
  type Llama,
  type LlamaGrammar,
  type Token,
} from "node-llama-cpp";
import { AbortedError, AppError, createSilentLogger, isAppError, type Logger } from "../shared/index.js";
import { AsyncQueue } from "./async-queue.js";
import { DraftPair, draftIncompatibility } from "./draft-pair.js";
import { compileJsonSchemaValidator, parseJsonOutput } from "./json-output.js";
import type { ModelPool, SequenceLease } from "./model-pool.js";
import { parseChatRequest, refuseImages } from "./request.js";
import {
  defaultSpeculativeSettings,
  generateSpeculative,
  SpeculativeStallError,
  type SpeculativeSettings,
  type SpeculativeStats,
} from "./speculative.js";
import { measureTimings } from "./timings.js";
import { summariseProbabilities } from "./token-confidence.js";
import { defaultSampling } from "./types.js";
import type {
  ChatMessage,
  ChatRequest,
  ChatResponse,
  ChatStreamChunk,
  FinishReason,
  LlmBackend,
  ModelRole,
  SamplingOptions,
  SpeculativeReport,
} from "./types.js";

const anyJsonObject = Object.freeze({ type: "object" });

/** Why a local model refuses images: the node-llama-cpp version in use has no multimodal projector support. */
const localVisionRefusal =
  "node-llama-cpp 3.22.1 runs text-only models here; serve a vision model through a remote role with vision: true";

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
  /** Speculative decoding with the pool's `draft` role (when it has one). On by default. */
  speculative?: Partial<SpeculativeOptions>;
  /** Called after each generation of the main role while a draft is configured (metrics). */
  onSpeculative?: (event: SpeculativeEvent) => void;
}

export interface SpeculativeOptions extends SpeculativeSettings {
  enabled: boolean;
  /** Requests in a row under the acceptance floor before the pair pauses. */
  fallbackAfter: number;
  /** How long a paused pair decodes without the draft, in ms. */
  cooldownMs: number;
}

/** What one generation of the main role did with the draft, and the pair's rolling figures after it. */
export type SpeculativeEvent =
  | {
      kind: "speculated";
      stats: SpeculativeStats;
      /** This request paused the pair (its acceptance stayed under the floor too often). */
      paused: boolean;
      acceptanceRate: number | undefined;
      speedup: number | undefined;
    }
  | { kind: "plain"; reason: string; acceptanceRate: number | undefined; speedup: number | undefined }
  | { kind: "refused"; reason: string }
  | { kind: "stalled"; reason: string };

/** Speculative sampling reads the distribution at every position: bounded by top-k, that stays cheap. */
const maxSpeculativeTopK = 128;

/** `LlmBackend` on llama.cpp in this process, through node-llama-cpp and the model pool. */
export class EmbeddedBackend implements LlmBackend {
  readonly #pool: ModelPool;
  readonly #logger: Logger;
  readonly #grammars = new Map<string, Promise<LlamaGrammar>>();
  readonly #grammarCacheSize: number;
  /** Replaced whole by `updateSpeculative`, never changed in place: a request reads it once. */
  #speculative: Readonly<SpeculativeOptions>;
  /** The pair reads these on every request, so `updateSpeculative` changes them in place. */
  readonly #pairOptions: { fallbackAfter: number; cooldownMs: number };
  readonly #onSpeculative: ((event: SpeculativeEvent) => void) | undefined;
  readonly #pair: DraftPair;
  #pairChecked: Promise<string | undefined> | undefined;

  constructor(options: EmbeddedBackendOptions) {
    this.#pool = options.pool;
    this.#logger = options.logger ?? createSilentLogger();
    this.#grammarCacheSize = options.grammarCacheSize ?? 32;
    this.#speculative = checkSpeculative({
      ...defaultSpeculativeSettings,
      enabled: true,
      fallbackAfter: 3,
      cooldownMs: 60_000,
      ...options.speculative,
    });
    this.#onSpeculative = options.onSpeculative;
    this.#pairOptions = {
      fallbackAfter: this.#speculative.fallbackAfter,
      cooldownMs: this.#speculative.cooldownMs,
    };
    this.#pair = new DraftPair(this.#pairOptions);
  }

  /** The speculative-decoding settings the next request uses. */
  get speculative(): Readonly<SpeculativeOptions> {
    return this.#speculative;
  }

  /**
   * Changes speculative decoding from the next request on (a generation in flight keeps the settings it
   * started with): `enabled: false` decodes without the draft, and the floor, window, draft lengths and stall
   * timeout apply to the next speculative request. The pair's rolling figures and pause are kept. Returns the
   * settings now in force; a `RangeError` for values out of range (the config schema refuses them first).
   */
  updateSpeculative(changes: Partial<SpeculativeOptions>): Readonly<SpeculativeOptions> {
    const defined = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
    const next = checkSpeculative({ ...this.#speculative, ...defined });
    this.#speculative = next;
    this.#pairOptions.fallbackAfter = next.fallbackAfter;
    this.#pairOptions.cooldownMs = next.cooldownMs;
    return next;
  }

  /** The main/draft pair's state and rolling figures (status, metrics). */
  get draftPair(): DraftPair {
    return this.#pair;
  }

  /**
   * Loads the main and draft models and checks that the draft can serve the main model; an incompatible
   * draft is refused (logged, reported) and generation goes on without it. Returns the reason, if refused.
   */
  checkDraft(): Promise<string | undefined> {
    if (this.#pairChecked !== undefined) return this.#pairChecked;
    const pending = (async () => {
      const [main, draft] = await Promise.all([this.#pool.load("main"), this.#pool.load("draft")]);
      const reason = draftIncompatibility(main.model, draft.model);
      if (reason !== undefined) {
        const message = `the draft model ${draft.file} cannot serve the main model ${main.file}: ${reason}`;
        this.#pair.refuse(message);
        this.#logger.error({ main: main.file, draft: draft.file, reason }, "draft model refused");
        this.#onSpeculative?.({ kind: "refused", reason: message });
        return message;
      }
      return undefined;
    })();
    this.#pairChecked = pending;
    // A load that failed (missing file, RAM budget) is tried again by the next request.
    pending.catch(() => {
      if (this.#pairChecked === pending) this.#pairChecked = undefined;
    });
    return pending;
  }

  async chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResponse> {
    refuseImages(request, localVisionRefusal);
    return this.#generate(request, signal, undefined);
  }

  async *chatStream(
    request: ChatRequest,
    signal: AbortSignal,
  ): AsyncGenerator<ChatStreamChunk, void, undefined> {
    refuseImages(request, localVisionRefusal);
    yield* this.#stream(request, signal);
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
    const sampling = { ...defaultSampling, ...request.sampling };
    // One snapshot per request: an update while it runs applies to the next one.
    const speculativeSettings = this.#speculative;
    const pairInUse = role === "main" && speculativeSettings.enabled && this.#pool.hasRole("draft");
    const skipped = pairInUse ? await this.#whyNotSpeculate(grammar, sampling) : undefined;
    const lease = await this.#pool.acquire(role, signal);
    let draftLease: SequenceLease | undefined;
    let stalled = false;
    try {
      if (pairInUse && skipped === undefined) draftLease = await this.#pool.acquire("draft", signal);
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
      let result: { response: string; metadata: { stopReason: string } } | undefined;
      let countPrompt: (() => number) | undefined;
      let probabilities: number[] | undefined;
      let speculative: SpeculativeReport | undefined =
        skipped === undefined ? undefined : { drafted: 0, accepted: 0, fellBack: false, skipped };
      try {
        let prompt: Prompt;
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
          prompt = { kind: "completion", tokens };
        } else {
          const chat = new LlamaChat({
            contextSequence: lease.sequence,
            autoDisposeSequence: false,
            ...(lease.chatWrapper === undefined ? {} : { chatWrapper: lease.chatWrapper }),
          });
          const history = toHistory(request.messages);
          try {
            checkPromptFits(chat, lease, history, request.messages, sampling.maxTokens);
          } catch (error) {
            chat.dispose({ disposeSequence: false });
            throw error;
          }
          prompt = { kind: "chat", chat, history };
        }

        // Token probabilities need the own decode loop (LlamaChat does not report them): without a draft it
        // decodes plainly, step by step, as the speculative loop does after a fallback.
        const ownLoop = request.tokenProbabilities === true && grammar === undefined;
        const draftSide = draftLease === undefined && !ownLoop ? undefined : speculativePrompt(prompt, lease);
        // What both own-loop paths (with and without a draft) decode from.
        const ownLoopInput = (side: SpeculativePrompt) => ({
          target: { model: lease.model, sequence: lease.sequence },
          promptTokens: side.tokens,
          maxTokens: sampling.maxTokens,
          sampling,
          stopTokens: side.stopTokens,
          stopTexts: [...side.stopTexts, ...(sampling.stop ?? [])],
          repeatPenalty: true,
          onText,
          onFirstToken: () => {
            firstTokenAt = performance.now();
          },
          signal,
          settings: speculativeSettings,
          tokenProbabilities: ownLoop,
        });
        const room =
          draftSide === undefined ? 0 : sampling.maxTokens + speculativeSettings.maxDraftTokens + 1;
        if (
          draftSide !== undefined &&
          draftLease !== undefined &&
          draftSide.tokens.length + room > contextOf(lease, draftLease)
        ) {
          speculative = {
            drafted: 0,
            accepted: 0,
            fellBack: false,
            skipped: "the prompt leaves too little context room",
          };
        } else if (draftSide !== undefined && draftLease === undefined) {
          // As with LlamaChat: the prompt must leave room to answer, and the answer ends where the context does.
          const room = lease.sequence.contextSize - draftSide.tokens.length;
          if (room < Math.min(sampling.maxTokens, minimumAnswerRoom)) {
            throw new AppError(
              "CONTEXT_OVERFLOW",
              `the prompt has ${draftSide.tokens.length} tokens and leaves too little room to answer in a ` +
                `context of ${lease.sequence.contextSize} (inference.contextSize)`,
              { param: "messages" },
            );
          }
          if (prompt.kind === "chat") prompt.chat.dispose({ disposeSequence: false });
          const generated = await generateSpeculative({
            ...ownLoopInput(draftSide),
            maxTokens: Math.min(sampling.maxTokens, room),
          });
          completionTokens = generated.tokens.length;
          probabilities = generated.probabilities;
          result = {
            response: generated.text,
            metadata: { stopReason: generated.finishReason === "length" ? "maxTokens" : "eogToken" },
          };
          countPrompt = () => draftSide.tokens.length;
          prompt = { kind: "done" };
        } else if (draftSide !== undefined && draftLease !== undefined) {
          if (prompt.kind === "chat") prompt.chat.dispose({ disposeSequence: false });
          const decodeStarted = performance.now();
          const generated = await generateSpeculative({
            ...ownLoopInput(draftSide),
            draft: { model: draftLease.model, sequence: draftLease.sequence },
            initialDraftTokens: this.#pair.draftTokens,
          });
          completionTokens = generated.tokens.length;
          if (ownLoop) probabilities = generated.probabilities;
          const paused = this.#pair.record(generated.stats);
          this.#onSpeculative?.({
            kind: "speculated",
            stats: generated.stats,
            paused,
            acceptanceRate: this.#pair.acceptanceRate,
            speedup: this.#pair.speedup,
          });
          this.#logger.debug(
            {
              drafted: generated.stats.drafted,
              accepted: generated.stats.accepted,
              decodeMs: performance.now() - decodeStarted,
            },
            "speculative generation done",
          );
          speculative = {
            drafted: generated.stats.drafted,
            accepted: generated.stats.accepted,
            fellBack: generated.stats.fellBack,
          };
          result = {
            response: generated.text,
            metadata: { stopReason: generated.finishReason === "length" ? "maxTokens" : "eogToken" },
          };
          countPrompt = () => draftSide.tokens.length;
          prompt = { kind: "done" };
        }

        if (prompt.kind === "completion") {
          const completion = new LlamaCompletion({
            contextSequence: lease.sequence,
            autoDisposeSequence: false,
          });
          try {
            result = await completion.generateCompletionWithMeta(prompt.tokens, options);
          } finally {
            completion.dispose({ disposeSequence: false });
          }
          const tokens = prompt.tokens;
          countPrompt = () => tokens.length;
        } else if (prompt.kind === "chat") {
          const { chat, history } = prompt;
          const chatWrapper = chat.chatWrapper;
          try {
            result = await chat.generateResponse(history, options);
          } finally {
            chat.dispose({ disposeSequence: false });
          }
          // Counted after generating, so the count does not delay the first token.
          countPrompt = () => countPromptTokens(chatWrapper, lease, history);
        }
      } catch (error) {
        if (error instanceof SpeculativeStallError) {
          stalled = true;
          this.#pair.pause(speculativeSettings.cooldownMs, error.message);
          this.#onSpeculative?.({ kind: "stalled", reason: error.message });
        }
        if (isAppError(error)) throw error;
        if (signal.aborted) throw new AbortedError("generation aborted", { cause: error });
        throw new AppError("INFERENCE_FAILED", `generation failed: ${errorMessage(error)}`, { cause: error });
      }
      if (result === undefined || countPrompt === undefined) {
        throw new AppError("INTERNAL", "generation ended without a result");
      }
      if (result.metadata.stopReason === "abort" || signal.aborted) throw new AbortedError();

      const ended = performance.now();
      const promptTokens = countPrompt();
      const finishReason: FinishReason = result.metadata.stopReason === "maxTokens" ? "length" : "stop";
      const timings = measureTimings(started, firstTokenAt, ended, completionTokens);
      if (speculative !== undefined) {
        timings.speculative = speculative;
        if (speculative.skipped !== undefined && firstTokenAt !== undefined) {
          this.#pair.recordPlain(ended - firstTokenAt, completionTokens - 1);
          this.#onSpeculative?.({
            kind: "plain",
            reason: speculative.skipped,
            acceptanceRate: this.#pair.acceptanceRate,
            speedup: this.#pair.speedup,
          });
        }
      }
      const response: ChatResponse = {
        text: result.response,
        finishReason,
        usage: { promptTokens, completionTokens },
        timings,
        model: lease.file,
      };
      if (validate !== undefined) {
        response.json = parseJsonOutput(result.response, validate, finishReason, sampling.maxTokens);
      }
      if (probabilities !== undefined && probabilities.length > 0) {
        response.tokenConfidence = summariseProbabilities(probabilities);
      }
      this.#logger.debug(
        { role, finishReason, usage: response.usage, tokensPerSecond: response.timings.tokensPerSecond },
        "generation done",
      );
      return response;
    } finally {
      if (stalled) {
        // A stalled native evaluation may never return; clearing its sequence would wait on it forever.
        void lease.release();
        void draftLease?.release();
      } else {
        await draftLease?.release();
        await lease.release();
      }
    }
  }

  /** Why this request decodes without the draft, or undefined when it may speculate. */
  async #whyNotSpeculate(
    grammar: LlamaGrammar | undefined,
    sampling: Required<Omit<SamplingOptions, "seed" | "stop">> & SamplingOptions,
  ): Promise<string | undefined> {
    if (grammar !== undefined) return "the output is constrained by a grammar";
    if (sampling.temperature > 0 && (sampling.topK <= 0 || sampling.topK > maxSpeculativeTopK)) {
      return `speculative sampling needs topK between 1 and ${maxSpeculativeTopK}`;
    }
    const refused = await this.checkDraft();
    if (refused !== undefined) return refused;
    const state = this.#pair.state;
    if (state.state !== "active") return state.reason;
    return undefined;
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

/** The settings, frozen, or a `RangeError` naming the first one out of range. */
function checkSpeculative(settings: SpeculativeOptions): Readonly<SpeculativeOptions> {
  const draftTokens = (value: number) => Number.isInteger(value) && value >= 1 && value <= 16;
  const problems: [boolean, string][] = [
    [draftTokens(settings.minDraftTokens), "minDraftTokens must be an integer from 1 to 16"],
    [draftTokens(settings.maxDraftTokens), "maxDraftTokens must be an integer from 1 to 16"],
    [settings.minDraftTokens <= settings.maxDraftTokens, "minDraftTokens must not exceed maxDraftTokens"],
    [settings.acceptanceFloor >= 0 && settings.acceptanceFloor <= 1, "acceptanceFloor must be from 0 to 1"],
    [Number.isInteger(settings.windowTokens) && settings.windowTokens >= 1, "windowTokens must be ≥ 1"],
    [settings.stallTimeoutMs > 0, "stallTimeoutMs must be positive"],
    [Number.isInteger(settings.fallbackAfter) && settings.fallbackAfter >= 1, "fallbackAfter must be ≥ 1"],
    [settings.cooldownMs >= 0, "cooldownMs must be ≥ 0"],
    [settings.baselineEvery >= 0, "baselineEvery must be ≥ 0"],
  ];
  const problem = problems.find(([ok]) => !ok);
  if (problem !== undefined) throw new RangeError(`speculative.${problem[1]}`);
  return Object.freeze({ ...settings });
}

type Prompt =
  | { kind: "completion"; tokens: Token[] }
  | { kind: "chat"; chat: LlamaChat; history: ChatHistoryItem[] }
  | { kind: "done" };

interface SpeculativePrompt {
  tokens: Token[];
  stopTokens: Set<Token>;
  stopTexts: string[];
}

/**
 * The prompt as tokens and the stop triggers of the chat template, for decoding outside LlamaChat: the same
 * context text LlamaChat builds, so both paths read the same tokens.
 */
function speculativePrompt(prompt: Prompt, lease: SequenceLease): SpeculativePrompt | undefined {
  if (prompt.kind === "done") return undefined;
  if (prompt.kind === "completion") return { tokens: prompt.tokens, stopTokens: new Set(), stopTexts: [] };
  const state = prompt.chat.chatWrapper.generateContextState({ chatHistory: prompt.history });
  const stopTokens = new Set<Token>();
  const stopTexts: string[] = [];
  for (const trigger of state.stopGenerationTriggers) {
    if (trigger.values.every((value) => typeof value === "string")) {
      const text = trigger.values.join("");
      if (text.length > 0) stopTexts.push(text);
      continue;
    }
    const tokens = trigger.tokenize(lease.model.tokenizer);
    if (tokens.length === 1) stopTokens.add(tokens[0] as Token);
  }
  return { tokens: state.contextText.tokenize(lease.model.tokenizer), stopTokens, stopTexts };
}

function contextOf(main: SequenceLease, draft: SequenceLease): number {
  return Math.min(main.sequence.contextSize, draft.sequence.contextSize);
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
