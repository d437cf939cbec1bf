import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { App } from "../app.js";
import { maxUserIdLength } from "../memory/index.js";
import type { LoopService, Notification } from "../proactive/index.js";
import { AppError } from "../shared/index.js";
import { parseRequest } from "./errors.js";
import { resolveUserId } from "./user-scope.js";

const user = z.string().min(1).max(maxUserIdLength).optional();
const afterId = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const listQuery = z
  .object({
    user,
    /** Only notifications with a larger id (what the client saw last). Default: `0`. */
    after: afterId.optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();

const streamQuery = z
  .object({
    user,
    /** Send the ones after this id first; without it (and without `Last-Event-ID`), only new ones. */
    after: afterId.optional(),
  })
  .strict();

/** How often the stream looks at the store: `sarai loop` may deliver from another process. */
export const notificationPollMs = 1000;
/** A comment line this often keeps proxies and idle timeouts from closing a quiet stream. */
export const notificationHeartbeatMs = 15_000;
const pageSize = 100;

/** A notification on the wire. */
export function toNotificationJson(notification: Notification) {
  return {
    id: notification.id,
    object: "notification",
    user: notification.userId,
    kind: notification.kind,
    text: notification.text,
    data: notification.data,
    created_at: new Date(notification.createdAt).toISOString(),
  };
}

/**
 * `/v1/notifications`: what the proactive loop delivered to the caller's user (the API key's bound user, or
 * the `user` the client names, default `anonymous`) — as a list, or as a server-sent event stream that stays
 * open. Both need the loop enabled (`LOOP_DISABLED`, 409, otherwise).
 */
export function registerNotificationRoutes(fastify: FastifyInstance, app: App): void {
  const loopOf = (): LoopService => {
    if (app.loop === undefined) {
      throw new AppError(
        "LOOP_DISABLED",
        "the proactive loop is off on this server (proactive.enabled: false), so there are no notifications",
      );
    }
    return app.loop;
  };
  const streams = new Set<() => void>();
  // A stream never ends on its own: close them all as the server starts closing, instead of after its grace.
  fastify.addHook("preClose", (done) => {
    for (const end of streams) end();
    done();
  });

  fastify.get("/v1/notifications", (request) => {
    const query = parseRequest(listQuery, request.query);
    const loop = loopOf();
    const limit = query.limit ?? 100;
    // One more than asked tells whether there are more.
    const found = loop.notifications(resolveUserId(request, query.user), query.after ?? 0, limit + 1);
    return {
      object: "list",
      data: found.slice(0, limit).map(toNotificationJson),
      has_more: found.length > limit,
    };
  });

  fastify.get("/v1/notifications/stream", (request, reply) => {
    const query = parseRequest(streamQuery, request.query);
    const loop = loopOf();
    const userId = resolveUserId(request, query.user);
    const resumeFrom = query.after ?? lastEventId(request) ?? latestId(loop, userId);
    streamNotifications(request, reply, loop, userId, resumeFrom, streams);
  });
}

/**
 * Writes the user's notifications after `afterId` as SSE events (`id: <id>` and `data: <json>`), then each new
 * one as it arrives: woken by the loop's `notification` event in this process, and by a poll of the store every
 * second for deliveries by `sarai loop` in another. A comment line every 15 s keeps the connection alive. Ends
 * when the client goes, the request's time limit passes (`server.requestTimeoutMs`; clients reconnect with
 * `Last-Event-ID`) or the server closes.
 */
function streamNotifications(
  request: FastifyRequest,
  reply: FastifyReply,
  loop: LoopService,
  userId: string,
  afterId: number,
  streams: Set<() => void>,
): void {
  void reply.hijack();
  const raw = reply.raw;
  // Headers other hooks set on the reply (CORS) go out too: a hijacked reply sends only what is written here.
  const earlier: Record<string, string | number | string[]> = {};
  for (const [name, value] of Object.entries(reply.getHeaders()))
    if (value !== undefined) earlier[name] = value;
  raw.writeHead(200, {
    ...earlier,
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-request-id": request.id,
  });
  let last = afterId;
  let ended = false;
  const pump = () => {
    if (ended) return;
    try {
      for (;;) {
        const page = loop.notifications(userId, last, pageSize);
        for (const notification of page) {
          raw.write(`id: ${notification.id}\ndata: ${JSON.stringify(toNotificationJson(notification))}\n\n`);
          last = notification.id;
        }
        if (page.length < pageSize) break;
      }
    } catch (error) {
      // The store closing under a shutting-down server: the client reconnects elsewhere or later.
      request.log.warn({ err: error }, "notification stream could not read the store");
      end();
    }
  };
  const unsubscribe = loop.subscribe((event) => {
    const payload = event.payload as Partial<Notification> | undefined;
    if (event.name === "notification" && payload?.userId === userId) pump();
  });
  const poll = setInterval(pump, notificationPollMs);
  const heartbeat = setInterval(() => raw.write(": keep-alive\n\n"), notificationHeartbeatMs);
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(poll);
    clearInterval(heartbeat);
    unsubscribe();
    streams.delete(end);
    request.sarai.signal.removeEventListener("abort", end);
    if (!raw.writableEnded) raw.end();
  };
  streams.add(end);
  request.sarai.signal.addEventListener("abort", end, { once: true });
  raw.on("close", end);
  raw.write(`retry: 3000\n: notifications for ${JSON.stringify(userId)} after ${afterId}\n\n`);
  pump();
}

/** The id an `EventSource` sends back when it reconnects. */
function lastEventId(request: FastifyRequest): number | undefined {
  const header = request.headers["last-event-id"];
  if (typeof header !== "string" || !/^\d{1,15}$/.test(header.trim())) return undefined;
  return Number(header.trim());
}

/** The user's newest notification id (0 with none): a stream without `after` starts after it. */
function latestId(loop: LoopService, userId: string): number {
  let last = 0;
  for (;;) {
    const page = loop.notifications(userId, last, 1000);
    const newest = page[page.length - 1];
    if (newest === undefined) return last;
    last = newest.id;
  }
}
