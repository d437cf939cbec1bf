import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { App } from "../app.js";
import type { ChatResponse, SamplingOptions } from "../inference/index.js";
import { toValidationError } from "./errors.js";
import { writeEventStream } from "./event-stream.js";
import { completionRequest, embeddingRequest, type CompletionRequest, type SaraiTimings } from "./wire.js";

/** `POST /v1/completions` (raw text continuation) and `POST /v1/embeddings`. */
export function registerCompletionRoutes(fastify: FastifyInstance, app: App): void {
  fastify.post("/v1/completions", async (request, reply) => {
    const parsed = completionRequest.safeParse(request.body);
    if (!parsed.success) throw toValidationError(parsed.error);
    const body = parsed.data;
    const model = app.resolveModel(body.model);
    const prompt = typeof body.prompt === "string" ? body.prompt : (body.prompt[0] ?? "");
    const completion = { prompt, role: model.role, sampling: toSampling(body) };
    const id = `cmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const choice = (text: string, finish: "stop" | "length" | null) => ({
      index: 0,
      text,
      finish_reason: finish,
      logprobs: null,
    });
    if (body.stream === true) {
      const includeUsage = body.stream_options?.include_usage === true;
      const base = { id, object: "text_completion", created, model: model.id };
      await writeEventStream(request, reply, app.embedded.completeStream(completion, request.sarai.signal), {
        onDelta: (text) => ({ ...base, choices: [choice(text, null)] }),
        onDone: (response) => {
          app.recordGeneration(model.role, response);
          return [
            {
              ...base,
              choices: [choice("", response.finishReason)],
              sarai: { timings: toSaraiTimings(response) },
            },
            ...(includeUsage ? [{ ...base, choices: [], usage: toUsage(response) }] : []),
          ];
        },
      });
      return reply;
    }
    const response = await app.embedded.complete(completion, request.sarai.signal);
    app.recordGeneration(model.role, response);
    return {
      id,
      object: "text_completion",
      created,
      model: model.id,
      choices: [choice(response.text, response.finishReason)],
      usage: toUsage(response),
      sarai: { timings: toSaraiTimings(response) },
    };
  });

  fastify.post("/v1/embeddings", async (request) => {
    const parsed = embeddingRequest.safeParse(request.body);
    if (!parsed.success) throw toValidationError(parsed.error);
    const body = parsed.data;
    const model = app.resolveModel(body.model);
    const inputs = typeof body.input === "string" ? [body.input] : body.input;
    const result = await app.embedded.embed(inputs, model.role, request.sarai.signal);
    return {
      object: "list",
      model: model.id,
      data: result.vectors.map((vector, index) => ({
        object: "embedding",
        index,
        // The official clients ask for base64: little-endian float32s, as OpenAI sends them.
        embedding: body.encoding_format === "base64" ? encodeFloat32Base64(vector) : vector,
      })),
      usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
    };
  });
}

function encodeFloat32Base64(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString("base64");
}

function toSampling(body: CompletionRequest): SamplingOptions {
  const sampling: SamplingOptions = {};
  if (body.temperature != null) sampling.temperature = body.temperature;
  if (body.top_p != null) sampling.topP = body.top_p;
  if (body.top_k != null) sampling.topK = body.top_k;
  if (body.seed != null) sampling.seed = body.seed;
  if (body.max_tokens != null) sampling.maxTokens = body.max_tokens;
  if (body.stop != null) sampling.stop = typeof body.stop === "string" ? [body.stop] : body.stop;
  return sampling;
}

/** SARAi's own timings (non-standard, under `sarai`), with what speculative decoding did when a draft ran. */
export function toSaraiTimings(response: ChatResponse): SaraiTimings {
  const { timings } = response;
  const speculative = timings.speculative;
  return {
    time_to_first_token_ms: timings.timeToFirstTokenMs,
    total_ms: timings.totalMs,
    tokens_per_second: timings.tokensPerSecond,
    ...(speculative === undefined
      ? {}
      : {
          drafted_tokens: speculative.drafted,
          accepted_tokens: speculative.accepted,
          acceptance_rate: speculative.drafted > 0 ? speculative.accepted / speculative.drafted : null,
          speculative_fell_back: speculative.fellBack,
          ...(speculative.skipped === undefined ? {} : { speculative_skipped: speculative.skipped }),
        }),
  };
}

export function toUsage(response: ChatResponse) {
  return {
    prompt_tokens: response.usage.promptTokens,
    completion_tokens: response.usage.completionTokens,
    total_tokens: response.usage.promptTokens + response.usage.completionTokens,
  };
}
