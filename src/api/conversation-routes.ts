import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { App } from "../app.js";
import { maxUserIdLength } from "../memory/index.js";
import { AppError } from "../shared/index.js";
import {
  messageRoles,
  type Conversation,
  type ConversationMessage,
  type ConversationStore,
  type MessageRole,
} from "../web/index.js";
import { parseRequest } from "./errors.js";
import { resolveUserId } from "./user-scope.js";

/** Longest conversation title, in characters. */
export const maxTitleLength = 200;
/** Largest message content, in UTF-8 bytes: 1 MiB. */
export const maxContentBytes = 1024 * 1024;
/** Largest message `meta`, as JSON in UTF-8 bytes: 64 KiB. */
export const maxMetaBytes = 64 * 1024;

const user = z.string().min(1).max(maxUserIdLength).optional();
const title = z.string().trim().min(1).max(maxTitleLength);
const utf8Bytes = (value: string) => Buffer.byteLength(value, "utf8");

const listQuery = z
  .object({
    user,
    q: z.string().max(1000).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();
const userQuery = z.object({ user }).strict();
const idParams = z.object({ id: z.string().min(1).max(64) }).strict();
const messageParams = z
  .object({ id: z.string().min(1).max(64), messageId: z.coerce.number().int().positive() })
  .strict();

const createBody = z.object({ title: title.optional(), user }).strict();
const renameBody = z.object({ title, user }).strict();
const messageBody = z
  .object({
    role: z.enum(messageRoles as [MessageRole, ...MessageRole[]]),
    content: z
      .string()
      .refine(
        (value) => utf8Bytes(value) <= maxContentBytes,
        `must be at most ${maxContentBytes} bytes (1 MiB)`,
      ),
    meta: z
      .record(z.string(), z.unknown())
      .nullable()
      .optional()
      .refine(
        (value) => value == null || utf8Bytes(JSON.stringify(value)) <= maxMetaBytes,
        `must be at most ${maxMetaBytes} bytes (64 KiB) as JSON`,
      ),
    user,
  })
  .strict();

function toConversationJson(conversation: Conversation) {
  return {
    id: conversation.id,
    object: "conversation",
    user: conversation.userId,
    title: conversation.title,
    message_count: conversation.messageCount,
    created_at: new Date(conversation.createdAt).toISOString(),
    updated_at: new Date(conversation.updatedAt).toISOString(),
  };
}

function toMessageJson(message: ConversationMessage) {
  return {
    id: message.id,
    object: "conversation.message",
    conversation_id: message.conversationId,
    role: message.role,
    content: message.content,
    meta: message.meta,
    created_at: new Date(message.createdAt).toISOString(),
  };
}

const notFound = (id: string) =>
  new AppError("NOT_FOUND", `no conversation ${id} for this user`, { param: "id" });

/**
 * `/v1/conversations`: the web UI's saved conversations and their messages — list and search, create, get, rename,
 * delete, append a message, and truncate from a message (edit and resend, regenerate). Scoped to one user like
 * memory: the API key's bound user, or the `user` the client names (default `anonymous`); another user's
 * conversation is a 404, as one that does not exist.
 */
export function registerConversationRoutes(fastify: FastifyInstance, app: App): void {
  const storeOf = (): ConversationStore => {
    if (app.conversations === undefined)
      throw new AppError("ROUTE_NOT_FOUND", "the web UI is turned off on this server (web.enabled: false)");
    return app.conversations;
  };
  const userOf = (request: FastifyRequest, given: string | undefined) => resolveUserId(request, given);
  // A message may carry 1 MiB of content and 64 KiB of meta, which JSON escaping can double.
  const messageBodyLimit = Math.max(
    app.config.server.bodyLimitKb * 1024,
    2 * (maxContentBytes + maxMetaBytes) + 4096,
  );

  fastify.get("/v1/conversations", (request) => {
    const query = parseRequest(listQuery, request.query);
    const items = storeOf().list(userOf(request, query.user), { q: query.q, limit: query.limit ?? 50 });
    return { object: "list", data: items.map(toConversationJson) };
  });

  fastify.post("/v1/conversations", async (request, reply) => {
    const body = parseRequest(createBody, request.body);
    const created = storeOf().create(userOf(request, body.user), { title: body.title });
    return reply.code(201).send({ ...toConversationJson(created), messages: [] });
  });

  fastify.get("/v1/conversations/:id", (request) => {
    const { id } = parseRequest(idParams, request.params);
    const query = parseRequest(userQuery, request.query);
    const conversation = storeOf().get(userOf(request, query.user), id);
    if (conversation === undefined) throw notFound(id);
    return { ...toConversationJson(conversation), messages: conversation.messages.map(toMessageJson) };
  });

  fastify.patch("/v1/conversations/:id", (request) => {
    const { id } = parseRequest(idParams, request.params);
    const body = parseRequest(renameBody, request.body);
    const renamed = storeOf().rename(userOf(request, body.user), id, body.title);
    if (renamed === undefined) throw notFound(id);
    return toConversationJson(renamed);
  });

  fastify.delete("/v1/conversations/:id", (request) => {
    const { id } = parseRequest(idParams, request.params);
    const query = parseRequest(userQuery, request.query);
    if (!storeOf().delete(userOf(request, query.user), id)) throw notFound(id);
    return { id, object: "conversation", deleted: true };
  });

  fastify.post("/v1/conversations/:id/messages", { bodyLimit: messageBodyLimit }, async (request, reply) => {
    const { id } = parseRequest(idParams, request.params);
    const body = parseRequest(messageBody, request.body);
    const message = storeOf().appendMessage(userOf(request, body.user), id, {
      role: body.role,
      content: body.content,
      ...(body.meta == null ? {} : { meta: body.meta }),
    });
    if (message === undefined) throw notFound(id);
    return reply.code(201).send(toMessageJson(message));
  });

  fastify.delete("/v1/conversations/:id/messages/:messageId", (request) => {
    const { id, messageId } = parseRequest(messageParams, request.params);
    const query = parseRequest(userQuery, request.query);
    const deleted = storeOf().truncateFrom(userOf(request, query.user), id, messageId);
    if (deleted === undefined)
      throw new AppError("NOT_FOUND", `no message ${messageId} in conversation ${id} for this user`, {
        param: "messageId",
      });
    return { id: messageId, object: "conversation.message", conversation_id: id, deleted };
  });
}
