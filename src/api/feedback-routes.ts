import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { App } from "../app.js";
import { chatRoles, type Feedback, type FeedbackStore } from "../learning/index.js";
import { maxUserIdLength } from "../memory/index.js";
import { AppError } from "../shared/index.js";
import { parseRequest } from "./errors.js";
import { resolveUserId } from "./user-scope.js";

const text = (max: number) => z.string().max(max);

/** The most messages of conversation one rating keeps, and the longest of each, in characters. */
const feedbackLimits = { messages: 200, messageChars: 100_000 } as const;

const chatTurn = z.object({ role: z.enum(chatRoles), content: text(feedbackLimits.messageChars) }).strict();

const feedbackBody = z
  .object({
    rating: z.enum(["up", "down"]),
    /** What the user asked. */
    prompt: text(100_000).min(1),
    /** The answer rated. */
    answer: text(100_000),
    /** The answer the user would have wanted. */
    correction: text(100_000).min(1).optional(),
    comment: text(4_000).optional(),
    /** The completion's id; rating it again replaces the earlier rating. */
    response_id: z.string().min(1).max(128).optional(),
    model: z.string().min(1).max(256).optional(),
    user: z.string().min(1).max(maxUserIdLength).optional(),
    /** The conversation before `prompt`, oldest first (system, user and assistant turns; `prompt` not repeated). */
    messages: z.array(chatTurn).max(feedbackLimits.messages).optional(),
    conversation_id: z.string().min(1).max(128).optional(),
    /** The LoRA adapter active when the answer was produced. */
    adapter: z.string().min(1).max(256).optional(),
  })
  .strict();

const listQuery = z
  .object({
    user: z.string().min(1).max(maxUserIdLength).optional(),
    rating: z.enum(["up", "down"]).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();

const idParams = z.object({ id: z.coerce.number().int().positive() }).strict();
const userQuery = z.object({ user: z.string().min(1).max(maxUserIdLength).optional() }).strict();

function toFeedbackJson(feedback: Feedback) {
  return {
    id: feedback.id,
    object: "feedback",
    user: feedback.userId,
    rating: feedback.rating,
    prompt: feedback.prompt,
    answer: feedback.answer,
    correction: feedback.correction,
    comment: feedback.comment,
    response_id: feedback.responseId,
    model: feedback.model,
    messages: feedback.messages,
    conversation_id: feedback.conversationId,
    adapter: feedback.adapter,
    created_at: new Date(feedback.createdAt).toISOString(),
  };
}

/**
 * `/v1/feedback`: thumbs up or down on an answer, with an optional correction, for the learning loop; scoped to
 * the request's user like memory (the key's bound user, or the `user` named).
 */
export function registerFeedbackRoutes(fastify: FastifyInstance, app: App): void {
  const storeOf = (): FeedbackStore => {
    if (app.feedback === undefined)
      throw new AppError(
        "ROUTE_NOT_FOUND",
        "feedback is turned off on this server (learning.enabled: false)",
      );
    return app.feedback;
  };
  const userOf = (request: FastifyRequest, given: string | undefined) => resolveUserId(request, given);

  fastify.post("/v1/feedback", async (request, reply) => {
    const body = parseRequest(feedbackBody, request.body);
    if (body.rating === "up" && body.correction !== undefined)
      throw new AppError("INVALID_REQUEST", "a correction goes with a thumbs down (rating: down)", {
        param: "correction",
      });
    const stored = storeOf().add({
      userId: userOf(request, body.user),
      rating: body.rating,
      prompt: body.prompt,
      answer: body.answer,
      correction: body.correction,
      comment: body.comment,
      responseId: body.response_id,
      model: body.model,
      messages: body.messages,
      conversationId: body.conversation_id,
      // The adapter in use now, when the client does not say which one produced the answer.
      adapter: body.adapter ?? app.learning?.status().active,
    });
    return reply.code(201).send(toFeedbackJson(stored));
  });

  fastify.get("/v1/feedback", (request) => {
    const query = parseRequest(listQuery, request.query);
    const items = storeOf().list(userOf(request, query.user), {
      limit: query.limit ?? 100,
      ...(query.rating === undefined ? {} : { rating: query.rating }),
    });
    return { object: "list", data: items.map(toFeedbackJson) };
  });

  fastify.delete("/v1/feedback/:id", (request) => {
    const { id } = parseRequest(idParams, request.params);
    const query = parseRequest(userQuery, request.query);
    if (!storeOf().delete(userOf(request, query.user), id))
      throw new AppError("NOT_FOUND", `no feedback ${id} for this user`, { param: "id" });
    return { id, object: "feedback", deleted: true };
  });
}
