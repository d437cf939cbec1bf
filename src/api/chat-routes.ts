import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { App } from "../app.js";
import {
  addWebSources,
  parseVerifySpec,
  type CitedSource,
  type TurnRequest,
  type TurnResponse,
} from "../assistant/index.js";
import type { ChatMessage, ModelRole, SamplingOptions } from "../inference/index.js";
import { AppError } from "../shared/index.js";
import { toSaraiTimings, toUsage } from "./completion-routes.js";
import { toValidationError } from "./errors.js";
import { writeEventStream } from "./event-stream.js";
import {
  chatBodyLimitBytes,
  checkImagePart,
  checkRoleSeesImages,
  checkTextBudget,
  prepareImageParts,
  type ImagePartRef,
} from "./image-parts.js";
import { checkMessageCount } from "./request-limits.js";
import { requireSearch } from "./search-routes.js";
import { resolveUserId } from "./user-scope.js";
import {
  chatCompletionRequest,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type SaraiImage,
  type SaraiReflection,
} from "./wire.js";

/** The OpenAI-compatible chat routes. They translate and delegate; the turn pipeline does the work. */
export function registerChatRoutes(fastify: FastifyInstance, app: App): void {
  fastify.get("/v1/models", () => ({
    object: "list",
    data: app.listModels().map((m) => ({
      id: m.id,
      object: "model",
      created: Math.floor(m.createdMs / 1000),
      owned_by: "sarai",
      sarai: { role: m.role, file: m.file ?? null, remote: m.remote ?? null },
    })),
  }));

  // Base64 images need more room than text: server.bodyLimitKb plus one vision.maxInputMb image.
  const bodyLimit = chatBodyLimitBytes(app.config);
  fastify.post("/v1/chat/completions", { bodyLimit }, async (request, reply) => {
    const parsed = chatCompletionRequest.safeParse(request.body);
    if (!parsed.success) throw toValidationError(parsed.error);
    const body = parsed.data;
    checkTextBudget(app.config, request.headers["content-length"], body);
    checkMessageCount(app.config, body.messages);
    const model = app.resolveModel(body.model);
    const userId = resolveUserId(request, body.user ?? undefined);
    const { turn: asked, imageParts } = toTurnRequest(app, body, model.role, userId);
    let turn = asked;
    let sources: CitedSource[] | undefined;
    if (body.web_search === true) {
      const searched = await addWebSources(turn, requireSearch(app, "web_search"), request.sarai.signal);
      turn = searched.turn;
      sources = searched.sources;
    }
    if (body.skill !== undefined) {
      // Checked before a stream starts, so that an unknown skill is a 400 and not a broken stream.
      if (app.skills === undefined)
        throw new AppError("INVALID_REQUEST", "skills are turned off (skills.enabled: false)", {
          param: "skill",
        });
      app.skills.registry.get(body.skill);
      if (imageParts[0] !== undefined) {
        throw new AppError("INVALID_REQUEST", `skill: skills read text only; send images without a skill`, {
          param: "skill",
        });
      }
      turn.skill = body.skill;
    }
    if (body.reflect !== undefined) turn.reflect = body.reflect;
    if (body.verify !== undefined) turn.verify = parseVerifySpec(body.verify);
    const images = await prepareImageParts(
      app,
      imageParts,
      (index, image) => {
        const message = turn.messages[index] as ChatMessage;
        message.images = [...(message.images ?? []), image];
      },
      request.sarai.signal,
    );
    if (body.stream === true) {
      const includeUsage = body.stream_options?.include_usage === true;
      await streamChat(request, reply, app, turn, model.id, includeUsage, images);
      return reply;
    }
    const id = `chatcmpl-${randomUUID()}`;
    const response = await app.turns.run({ ...turn, turnId: id }, request.sarai.signal);
    app.recordGeneration(response.fallback === undefined ? model.role : "fallback", response);
    const completion = toChatCompletion(response, model.id, id, images);
    if (sources !== undefined) completion.sarai.sources = sources;
    return completion;
  });
}

/**
 * The turn a chat body asks for, and its image parts, checked (user messages, vision on, data: URLs, a model
 * that sees images) but not yet decoded: `prepareImageParts` attaches them.
 */
function toTurnRequest(
  app: App,
  body: ChatCompletionRequest,
  role: ModelRole,
  userId: string,
): { turn: TurnRequest; imageParts: ImagePartRef[] } {
  const imageParts: ImagePartRef[] = [];
  const messages: ChatMessage[] = body.messages.map((message, index) => ({
    role: message.role === "developer" ? "system" : message.role,
    content: flattenContent(message.content, index, (ref) => {
      checkImagePart(app, ref, message.role);
      imageParts.push(ref);
    }),
  }));
  if (imageParts[0] !== undefined) checkRoleSeesImages(app, role, imageParts[0]);
  const sampling: SamplingOptions = {};
  if (body.temperature != null) sampling.temperature = body.temperature;
  if (body.top_p != null) sampling.topP = body.top_p;
  if (body.top_k != null) sampling.topK = body.top_k;
  if (body.seed != null) sampling.seed = body.seed;
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens != null) sampling.maxTokens = maxTokens;
  if (body.stop != null) sampling.stop = typeof body.stop === "string" ? [body.stop] : body.stop;
  const turn: TurnRequest = { userId, role, messages, sampling };
  const format = body.response_format;
  if (format?.type === "json_schema") {
    if (format.json_schema.schema === undefined) {
      throw new AppError("INVALID_REQUEST", "response_format.json_schema.schema: is required", {
        param: "response_format.json_schema.schema",
      });
    }
    turn.jsonSchema = format.json_schema.schema;
  } else if (format?.type === "json_object") {
    turn.jsonObject = true;
  }
  return { turn, imageParts };
}

/** A message's text parts joined by newlines; each image part goes to `onImage`. */
function flattenContent(
  content: ChatCompletionRequest["messages"][number]["content"],
  index: number,
  onImage: (ref: ImagePartRef) => void,
): string {
  if (content === null) return "";
  if (typeof content === "string") return content;
  const texts: string[] = [];
  content.forEach((part, partIndex) => {
    if (part.type === "text") texts.push(part.text);
    else
      onImage({
        messageIndex: index,
        param: `messages[${index}].content[${partIndex}]`,
        url: part.image_url.url,
      });
  });
  return texts.join("\n");
}

function toChatCompletion(
  response: TurnResponse,
  model: string,
  id: string,
  images: SaraiImage[],
): ChatCompletion {
  return {
    id,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: response.text, refusal: null },
        finish_reason: response.finishReason,
        logprobs: null,
      },
    ],
    usage: toUsage(response),
    sarai: {
      timings: toSaraiTimings(response),
      ...toSaraiMemory(response),
      ...(response.skill === undefined ? {} : { skill: response.skill }),
      ...toSaraiTurnDetails(response),
      ...(images.length === 0 ? {} : { images }),
    },
  };
}

/** The facts the turn recalled and stored, when memory took part (plain responses and a stream's final chunk). */
function toSaraiMemory(response: TurnResponse): Pick<ChatCompletion["sarai"], "memory"> {
  return response.memory === undefined
    ? {}
    : { memory: { recalled: response.memory.recalled, stored: response.memory.stored } };
}

/** The reflexive loop's report and the fallback flag, in the wire's snake_case. */
function toSaraiTurnDetails(
  response: TurnResponse,
): Pick<ChatCompletion["sarai"], "reflection" | "fallback_used" | "fallback_reason" | "guard" | "warnings"> {
  const report = response.reflection;
  const fallback = {
    ...(report?.templateWarnings === undefined ? {} : { warnings: report.templateWarnings }),
    ...(response.fallback === undefined
      ? report === undefined
        ? {}
        : { fallback_used: false }
      : { fallback_used: true, fallback_reason: response.fallback.reason }),
    ...(response.guard === undefined ? {} : { guard: response.guard }),
  };
  if (report === undefined) return fallback;
  const reflection: SaraiReflection = {
    iterations: report.iterations.map((iteration) => ({
      n: iteration.n,
      response: iteration.response,
      confidence: iteration.confidence === null ? null : round(iteration.confidence),
      signals: {
        ...(iteration.signals.verifiers === undefined ? {} : { verifiers: iteration.signals.verifiers }),
        ...(iteration.signals.tokenProbability === undefined
          ? {}
          : { token_probability: round(iteration.signals.tokenProbability) }),
        ...(iteration.signals.selfAssessment === undefined
          ? {}
          : { self_assessment: iteration.signals.selfAssessment }),
      },
      corrected: iteration.corrected,
      latency_ms: Math.round(iteration.latencyMs),
      ...(iteration.error === undefined ? {} : { error: iteration.error }),
    })),
    chosen: report.chosen,
    auto_corrected: report.autoCorrected,
    stopped_by: report.stoppedBy,
    total_latency_ms: Math.round(report.totalLatencyMs),
    template_sha256: report.templates,
  };
  return { reflection, ...fallback };
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

/** Streams a chat turn as OpenAI's chunks: a role chunk, content chunks, a finish chunk, usage if asked. */
async function streamChat(
  request: FastifyRequest,
  reply: FastifyReply,
  app: App,
  turn: TurnRequest,
  model: string,
  includeUsage: boolean,
  images: SaraiImage[],
): Promise<void> {
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: ChatCompletionChunk["choices"][number]["delta"], finish: "stop" | "length" | null) =>
    ({
      id,
      object: "chat.completion.chunk",
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
      ...(includeUsage ? { usage: null } : {}),
    }) satisfies ChatCompletionChunk;
  await writeEventStream(request, reply, app.turns.stream({ ...turn, turnId: id }, request.sarai.signal), {
    start: chunk({ role: "assistant", content: "" }, null),
    onDelta: (text) => chunk({ content: text }, null),
    onDone: (response) => {
      app.recordGeneration(
        (response as TurnResponse).fallback === undefined ? (turn.role ?? "main") : "fallback",
        response,
      );
      return [
        {
          ...chunk({}, response.finishReason),
          sarai: {
            timings: toSaraiTimings(response),
            ...toSaraiMemory(response),
            ...((response as TurnResponse).skill === undefined
              ? {}
              : { skill: (response as TurnResponse).skill }),
            ...toSaraiTurnDetails(response),
            ...(images.length === 0 ? {} : { images }),
          },
        },
        ...(includeUsage ? [{ ...chunk({}, null), choices: [], usage: toUsage(response) }] : []),
      ];
    },
  });
}
