/**
 * OpenAI wire types and their validation: the only place where snake_case lives. Unknown fields are ignored
 * (clients send many), but every field SARAi reads is checked, and fields it cannot honour are refused with a
 * message naming them rather than silently dropped.
 */
import { z } from "zod";

const textPart = z.object({ type: z.literal("text"), text: z.string() });
/**
 * OpenAI's image part: `image_url` is an object (the spec has no string shorthand). `url` is a `data:` URL with
 * base64 bytes; remote URLs are refused by the route, not here, so that the message can say why. `detail` is
 * accepted and ignored: every image is fitted within `vision.maxSidePx`.
 */
const imagePart = z
  .object({
    type: z.literal("image_url"),
    image_url: z
      .object({
        url: z.string().min(1),
        detail: z.enum(["auto", "low", "high"]).nullable().optional(),
      })
      .loose(),
  })
  .loose();
const contentPart = z.discriminatedUnion("type", [textPart, imagePart]);

const message = z
  .object({
    role: z.enum(["system", "developer", "user", "assistant"]),
    content: z.union([z.string(), z.array(contentPart).min(1)]).nullable(),
    name: z.string().max(256).optional(),
  })
  .loose();

const stop = z.union([z.string().min(1), z.array(z.string().min(1)).max(4)]);

const responseFormat = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    json_schema: z
      .object({
        name: z.string().min(1).max(64),
        description: z.string().optional(),
        schema: z.record(z.string(), z.unknown()).optional(),
        strict: z.boolean().nullable().optional(),
      })
      .loose(),
  }),
]);

const sampling = {
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  top_k: z.int().min(0).max(100_000).nullable().optional(),
  seed: z
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .nullable()
    .optional(),
  stop: stop.nullable().optional(),
  n: z.literal(1, "only n = 1 is supported").nullable().optional(),
  user: z.string().max(256).optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).loose().nullable().optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
};

export const chatCompletionRequest = z
  .object({
    model: z.string().min(1).max(256),
    messages: z.array(message).min(1).max(10_000),
    max_tokens: z.int().min(1).max(1_000_000).nullable().optional(),
    max_completion_tokens: z.int().min(1).max(1_000_000).nullable().optional(),
    response_format: responseFormat.optional(),
    tools: z.array(z.unknown()).max(0, "tools (function calling) are not supported yet").optional(),
    logprobs: z.literal(false, "logprobs are not supported").nullable().optional(),
    /** Non-standard: run this SARAi skill (`GET /v1/skills`) on the last user message. */
    skill: z.string().min(1).max(64).optional(),
    /** Non-standard: reflect on the answer (≤ 3 iterations); default `reflect.enabled`. */
    reflect: z.boolean().optional(),
    /** Non-standard: a check the answer must pass (`{kind: "json"|"sql"|"python"|"tests", …}`); implies reflect. */
    verify: z.unknown().optional(),
    /** Non-standard: search the web for the last user message and answer citing the sources as [n]. */
    web_search: z.boolean().optional(),
    ...sampling,
  })
  .loose();

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequest>;

export const completionRequest = z
  .object({
    model: z.string().min(1).max(256),
    prompt: z.union([z.string(), z.array(z.string()).length(1, "only one prompt per request is supported")]),
    max_tokens: z.int().min(1).max(1_000_000).nullable().optional(),
    echo: z.literal(false, "echo is not supported").nullable().optional(),
    suffix: z.null("suffix is not supported").optional(),
    ...sampling,
  })
  .loose();

export type CompletionRequest = z.infer<typeof completionRequest>;

export const embeddingRequest = z
  .object({
    model: z.string().min(1).max(256),
    input: z.union([z.string(), z.array(z.string()).min(1).max(256)]),
    encoding_format: z.enum(["float", "base64"]).optional(),
    user: z.string().max(256).optional(),
  })
  .loose();

export type EmbeddingRequest = z.infer<typeof embeddingRequest>;

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: "assistant"; content: string; refusal: null };
    finish_reason: "stop" | "length";
    logprobs: null;
  }[];
  usage: Usage;
  /** Non-standard: SARAi's own timings. */
  sarai: {
    timings: SaraiTimings;
    /** Ids of the facts recalled into the prompt and stored from this exchange. */
    memory?: { recalled: number[]; stored: number[] };
    /** The skill that answered: its validated value and the generations it took. */
    skill?: { name: string; attempts: number; value: unknown };
    /** What the reflexive loop did (reflected turns). */
    reflection?: SaraiReflection;
    /** Whether the fallback model answered (reflected turns always say; others only when it did). */
    fallback_used?: boolean;
    /** Why the fallback answered. */
    fallback_reason?: string;
    /** What was done to each image part, in request order. */
    images?: SaraiImage[];
    /** What the injection guard flagged, cut or dropped in this turn (absent when everything was benign). */
    guard?: SaraiGuardHit[];
    /** The web sources the answer cites as [n] (`web_search: true`). */
    sources?: { n: number; title: string; url: string }[];
    /** What the turn could not do as configured, one line each: a prompt template refused for its signature. */
    warnings?: string[];
  };
}

/** Non-standard: one image part as the model received it. */
export interface SaraiImage {
  /** Size after fitting within `vision.maxSidePx`. */
  width: number;
  height: number;
  /** Bytes of the WebP sent on. */
  bytes: number;
  /** `exact` or `similar`: a prepared image came from the cache; `miss`: prepared now; `off`: no cache. */
  cache: "exact" | "similar" | "miss" | "off";
}

/** Non-standard timings of one generation; the speculative fields appear when a draft model is configured. */
export interface SaraiTimings {
  time_to_first_token_ms: number;
  total_ms: number;
  tokens_per_second: number;
  /** Tokens the draft model proposed. */
  drafted_tokens?: number;
  /** Proposed tokens the main model kept. */
  accepted_tokens?: number;
  acceptance_rate?: number | null;
  /** The acceptance fell under the floor and the rest was decoded without the draft. */
  speculative_fell_back?: boolean;
  /** Why the draft was not used (grammar, paused or refused draft, context room). */
  speculative_skipped?: string;
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: "assistant"; content?: string };
    finish_reason: "stop" | "length" | null;
    logprobs: null;
  }[];
  usage?: Usage | null;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

/** Non-standard: the reflexive loop's iterations and choice. */
export interface SaraiReflection {
  iterations: {
    n: number;
    response: string;
    confidence: number | null;
    signals: {
      verifiers?: { name: string; ok: boolean; issues: string[] }[];
      token_probability?: number;
      self_assessment?: { score: number; issues: string[] };
    };
    corrected: boolean;
    latency_ms: number;
    error?: string;
  }[];
  /** The iteration whose answer this is. */
  chosen: number;
  auto_corrected: boolean;
  stopped_by: string;
  total_latency_ms: number;
  /** SHA-256 of the reflection templates used. */
  template_sha256: { critique: string; assess: string };
}

/** One text the injection guard did not pass as benign: where it came from and what was done. */
export interface SaraiGuardHit {
  source: string;
  action: "block" | "sanitize" | "flag";
  score: number;
  techniques: string[];
}
