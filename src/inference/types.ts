/**
 * The inference port: what the rest of SARAi asks of a language model, whether it runs in this process
 * (llama.cpp through node-llama-cpp) or on an OpenAI-compatible server.
 */

export type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
  role: ChatRole;
  content: string;
  /**
   * Images the message shows, after its text (user messages only). A backend whose model cannot see images
   * refuses the request with `VISION_UNSUPPORTED` rather than answering without them.
   */
  images?: readonly ChatImage[];
}

/** An image attached to a message, already prepared (the API and CLI send WebP from the vision service). */
export interface ChatImage {
  data: Buffer;
  /** e.g. `image/webp`. */
  mimeType: string;
}

export interface SamplingOptions {
  /** 0 means greedy decoding. Default 0.7. */
  temperature?: number;
  /** Nucleus sampling mass, 0–1. Default 0.95. */
  topP?: number;
  /** Sample only among the K most likely tokens; 0 disables. Default 40. */
  topK?: number;
  /** Seed for the sampler; the same seed, prompt and model give the same text. Random when unset. */
  seed?: number;
  /** Upper bound on generated tokens. Default 512. */
  maxTokens?: number;
  /** Generation stops before any of these strings; the stop string is not part of the text. */
  stop?: readonly string[];
}

/** Sampling used where a request leaves a field out, by every backend. */
export const defaultSampling: Readonly<Required<Omit<SamplingOptions, "seed" | "stop">>> = Object.freeze({
  temperature: 0.7,
  topP: 0.95,
  topK: 40,
  maxTokens: 512,
});

export interface ChatRequest {
  messages: readonly ChatMessage[];
  sampling?: SamplingOptions;
  /** A GBNF grammar that constrains the output. Mutually exclusive with `jsonSchema`. */
  grammar?: string;
  /**
   * A JSON schema the output must satisfy: enforced by a grammar while generating and validated before
   * it is returned. Output that does not validate is an `OUTPUT_INVALID` error, never a result.
   */
  jsonSchema?: Readonly<Record<string, unknown>>;
  /** Constrain the output to any JSON object (OpenAI's `json_object` mode); validated like `jsonSchema`. */
  jsonObject?: boolean;
  /** Pool role that serves the request. Default `main`. */
  role?: ModelRole;
  /**
   * Report the model's probability of each generated token (`ChatResponse.tokenConfidence`). Local models only,
   * and not under a grammar; a backend that cannot leaves the field out. Default: false.
   */
  tokenProbabilities?: boolean;
}

/** How sure the model was of the tokens it wrote. */
export interface TokenConfidence {
  /** Mean probability of the generated tokens, 0–1. */
  mean: number;
  /** Geometric mean (exp of the mean log probability), 0–1: one very unlikely token pulls it down. */
  geometricMean: number;
  /** The least likely token's probability. */
  min: number;
  /** Tokens scored. */
  tokens: number;
}

export type FinishReason = "stop" | "length";

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export interface Timings {
  /** Milliseconds from the call to the first generated text. */
  timeToFirstTokenMs: number;
  /** Milliseconds from the call to the end of generation. */
  totalMs: number;
  /** Completion tokens per second over the generation after the first token (decode speed). */
  tokensPerSecond: number;
  /** What speculative decoding did, when a draft model is configured for the role. */
  speculative?: SpeculativeReport;
}

/** Speculative decoding in one generation. */
export interface SpeculativeReport {
  /** Tokens the draft model proposed. */
  drafted: number;
  /** Proposed tokens the main model kept. */
  accepted: number;
  /** The acceptance fell under the floor and the rest of the answer was decoded without the draft. */
  fellBack: boolean;
  /** Why the draft was not used at all (grammar, paused pair, refused draft, context room…). */
  skipped?: string;
}

export interface ChatResponse {
  text: string;
  finishReason: FinishReason;
  usage: Usage;
  timings: Timings;
  /** The model file that produced the text. */
  model: string;
  /** The parsed value when the request had a `jsonSchema`. */
  json?: unknown;
  /** Token probabilities over the answer, when the request asked for them and the backend could. */
  tokenConfidence?: TokenConfidence;
}

export type ChatStreamChunk = { type: "delta"; text: string } | { type: "done"; response: ChatResponse };

export type ModelRole = "main" | "draft" | "fallback";

export const modelRoles: readonly ModelRole[] = ["main", "draft", "fallback"];

/** A language model backend. Both methods stop promptly and throw `AbortedError` when `signal` fires. */
export interface LlmBackend {
  chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResponse>;
  /** Yields text deltas as they are generated, then one `done` chunk with the whole response. */
  chatStream(request: ChatRequest, signal: AbortSignal): AsyncGenerator<ChatStreamChunk, void, undefined>;
}
