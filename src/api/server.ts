import { isUtf8 } from "node:buffer";
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import cors from "@fastify/cors";
import rateLimit from "@fastify/rate-limit";
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
} from "fastify";
import type { App } from "../app.js";
import { keyActor } from "../security/index.js";
import type { Logger } from "../shared/index.js";
import { AppError, isAppError } from "../shared/index.js";
import { registerChatRoutes } from "./chat-routes.js";
import { registerCompletionRoutes } from "./completion-routes.js";
import { registerConversationRoutes } from "./conversation-routes.js";
import { registerFeedbackRoutes } from "./feedback-routes.js";
import { registerGuardRoutes } from "./guard-routes.js";
import { registerLoopRoutes } from "./loop-routes.js";
import { registerLoraRoutes } from "./lora-routes.js";
import { registerMemoryRoutes } from "./memory-routes.js";
import { registerNotificationRoutes } from "./notification-routes.js";
import { registerRedTeamRoutes } from "./redteam-routes.js";
import { registerRepairRoutes } from "./repair-routes.js";
import { registerSkillRoutes } from "./skill-routes.js";
import { registerSearchRoutes } from "./search-routes.js";
import { registerVoiceRoutes } from "./voice-routes.js";
import { isPublicWebRequest, registerWebRoutes, type WebFallback } from "./web-routes.js";
import { buildErrorBody, sendError } from "./errors.js";

export interface ServerOptions {
  app: App;
  logger: Logger;
  /**
   * The time limit of the next request, generation included, in ms, read as each request arrives (a hot-patched
   * `server.requestTimeoutMs` applies to the next request; requests already running keep theirs). Default: the
   * static `server.requestTimeoutMs`. Node's own limit on receiving a request stays the static value.
   */
  requestTimeoutMs?: () => number;
  /** The built web UI served at `/` when `web.enabled` (tests point it at a fake build). Default: `dist/ui/`. */
  webRoot?: string;
}

export interface Server {
  readonly fastify: FastifyInstance;
  /** Starts listening; resolves with the address, e.g. `http://127.0.0.1:8080`. */
  listen(): Promise<string>;
  /**
   * Stops taking requests, lets in-flight generations finish within `server.shutdownGraceMs`, aborts the
   * rest, then closes. Idempotent.
   */
  close(): Promise<void>;
}

/** Per-request state the routes share with the server's hooks. */
export interface RequestContext {
  /** Fires when the client disconnects or the server gives up on the request. */
  readonly signal: AbortSignal;
  /** The user the request's API key is bound to, if it is. */
  boundUser?: string;
  /** The API key as the audit log names it (`key:<8 hex>`), when keys are configured. */
  keyActor?: string;
}

declare module "fastify" {
  interface FastifyRequest {
    sarai: RequestContext;
  }
}

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the HTTP server: OpenAI-compatible routes, health, metrics, auth, limits, errors. */
export async function createServer(options: ServerOptions): Promise<Server> {
  const { app, logger } = options;
  const config = app.config.server;
  const requestTimeoutMs = options.requestTimeoutMs ?? (() => config.requestTimeoutMs);
  const fastify = Fastify({
    // Fastify's logger type is pino's base logger; ours is a full pino logger.
    loggerInstance: logger as unknown as FastifyBaseLogger,
    // One line per request comes from our onResponse hook, without bodies (prompts stay out of the log).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitKb * 1024,
    requestTimeout: config.requestTimeoutMs,
    return503OnClosing: true,
    forceCloseConnections: "idle",
    genReqId: (request) => {
      const given = request.headers["x-request-id"];
      return typeof given === "string" && requestIdPattern.test(given) ? given : randomUUID();
    },
    // Requests Node's HTTP parser rejects (bad request line, bad headers) get an OpenAI-shaped 400 as well.
    clientErrorHandler: (_error, socket) => {
      if (!socket.writable) return;
      const body = JSON.stringify(buildErrorBody("INVALID_REQUEST", "malformed HTTP request"));
      socket.end(
        `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    },
    // Errors Fastify raises before routing (a malformed percent-encoding in the URL) get our body too.
    frameworkErrors: (error, request, reply) => void sendError(error, request, reply),
  });

  // JSON bodies must be UTF-8: Node would silently turn invalid bytes into U+FFFD and store or answer garbage.
  const parseJson = fastify.getDefaultJsonParser("error", "error");
  fastify.removeContentTypeParser("application/json");
  fastify.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
    const bytes = body as Buffer;
    if (!isUtf8(bytes)) {
      done(
        new AppError(
          "INVALID_REQUEST",
          `the request body is not valid UTF-8 (near byte ${firstInvalidByte(bytes)})`,
        ),
        undefined,
      );
      return;
    }
    // The default parser is synchronous: it calls done before returning.
    void parseJson(request, bytes.toString("utf8"), done);
  });

  const apiKeys = config.apiKeys.map((entry) => (typeof entry === "string" ? { key: entry } : entry));
  const webEnabled = app.config.web.enabled;
  let webFallback: WebFallback | undefined;
  const inFlight = new Set<AbortController>();
  let closing = false;

  fastify.decorateRequest("sarai", null as unknown as RequestContext);
  fastify.addHook("onRequest", async (request, reply) => {
    void reply.header("x-request-id", request.id);
    if (closing) throw new AppError("SHUTTING_DOWN", "the server is shutting down");
    const controller = new AbortController();
    inFlight.add(controller);
    request.sarai = { signal: controller.signal };
    // Node's requestTimeout only bounds receiving the request; server.requestTimeoutMs bounds generation too.
    const limitMs = requestTimeoutMs();
    const timeout = setTimeout(() => {
      const message = `the request took longer than server.requestTimeoutMs (${limitMs} ms)`;
      controller.abort(new AppError("REQUEST_TIMEOUT", message));
    }, limitMs);
    timeout.unref();
    // The socket closing before the response finished means the client went away: stop its generation.
    reply.raw.on("close", () => {
      clearTimeout(timeout);
      inFlight.delete(controller);
      if (!reply.raw.writableFinished) controller.abort();
      // A connection kept alive after its last response would hold close() open for keepAliveTimeout (72 s).
      if (closing) fastify.server.closeIdleConnections();
    });
    // The UI's page and files are public; the API calls the page makes send the key.
    const isPublic =
      request.url === "/health" || (webEnabled && isPublicWebRequest(request.method, request.url));
    if (apiKeys.length > 0 && !isPublic) {
      const given = bearerToken(request);
      try {
        const user = authenticate(request, apiKeys);
        if (user !== undefined) request.sarai.boundUser = user;
        if (given !== undefined) request.sarai.keyActor = keyActor(given);
      } catch (error) {
        app.audit.record({
          type: "auth.failure",
          ...(given === undefined ? {} : { actor: keyActor(given) }),
          target: request.url.split("?")[0],
          outcome: "denied",
          details: { reason: given === undefined ? "missing key" : "invalid key", ip: request.ip },
        });
        throw error;
      }
    }
  });

  fastify.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    const labels = { route, method: request.method, status: String(reply.statusCode) };
    app.metrics.httpRequests.inc(labels);
    app.metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    const event = auditedCall(request.method, route);
    if (event !== undefined)
      app.audit.record({
        ...event,
        ...auditActor(request),
        outcome: outcomeOf(reply.statusCode),
        details: { method: request.method, status: reply.statusCode, request_id: request.id },
      });
    request.log.info(
      { method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      "request",
    );
  });

  fastify.setErrorHandler((error, request, reply) => {
    // A generation stopped by the request timeout fails as aborted; the client is told why instead.
    const reason: unknown = (request.sarai as RequestContext | null)?.signal.reason;
    const timedOut = isAppError(error) && error.code === "ABORTED" && isAppError(reason);
    return sendError(timedOut ? reason : error, request, reply);
  });
  fastify.setNotFoundHandler((request, reply) =>
    webFallback !== undefined && isPublicWebRequest(request.method, request.url)
      ? webFallback(request, reply)
      : sendError(
          new AppError("ROUTE_NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`),
          request,
          reply,
        ),
  );

  if (config.corsOrigins.length > 0) await fastify.register(cors, { origin: [...config.corsOrigins] });
  const limits = resolveRateLimits(config);
  if (limits !== undefined) {
    await fastify.register(rateLimit, {
      max: (_request, key) => limits.perKey.get(key) ?? limits.default,
      timeWindow: 60_000,
      // Probes and scrapes are never limited; neither is a key whose own limit is 0.
      allowList: (request, key) =>
        unlimitedPaths.has(request.url.split("?")[0] ?? "") ||
        (limits.perKey.get(key) ?? limits.default) === 0,
      // Without auth, any bearer token passes unchecked: counting by it would let a client dodge the limit.
      keyGenerator: (request) => (config.apiKeys.length > 0 ? keyId(request) : undefined) ?? request.ip,
      // The plugin throws what this returns (after setting Retry-After), so it must be an error our error
      // handler maps to 429.
      errorResponseBuilder: (_request, context) =>
        new AppError(
          "RATE_LIMITED",
          `more than ${context.max} requests per minute ${limits.source}; retry in ${Math.ceil(context.ttl / 1000)} s`,
        ),
    });
  }

  fastify.get("/health", () => ({ status: "ok" }));
  fastify.get("/ready", async (_request, reply) => {
    const readiness = await app.readiness();
    return reply.code(readiness.ready ? 200 : 503).send(readiness);
  });
  fastify.get("/metrics", async (_request, reply) => {
    const text = await app.metrics.registry.metrics();
    return reply.header("content-type", app.metrics.registry.contentType).send(text);
  });
  registerChatRoutes(fastify, app);
  registerCompletionRoutes(fastify, app);
  registerMemoryRoutes(fastify, app);
  registerNotificationRoutes(fastify, app);
  registerLoopRoutes(fastify, app);
  registerSkillRoutes(fastify, app);
  registerVoiceRoutes(fastify, app);
  registerSearchRoutes(fastify, app);
  registerGuardRoutes(fastify, app);
  registerRedTeamRoutes(fastify, app, logger);
  registerRepairRoutes(fastify, app);
  registerLoraRoutes(fastify, app);
  registerFeedbackRoutes(fastify, app);
  registerConversationRoutes(fastify, app);
  if (webEnabled) webFallback = registerWebRoutes(fastify, options.webRoot);

  let closed: Promise<void> | undefined;
  return {
    fastify,
    async listen() {
      return fastify.listen({ host: config.host, port: config.port });
    },
    close() {
      closed ??= (async () => {
        closing = true;
        const closing$ = fastify.close();
        const grace = new Promise<"timeout">((resolve) => {
          const timer = setTimeout(() => resolve("timeout"), config.shutdownGraceMs);
          timer.unref();
          void closing$.then(() => clearTimeout(timer));
        });
        if ((await Promise.race([closing$.then(() => "closed" as const), grace])) === "timeout") {
          logger.warn(
            { aborted: inFlight.size },
            "shutdown grace ended; aborting the generations still running",
          );
          for (const controller of inFlight) controller.abort();
        }
        await closing$;
      })();
      return closed;
    },
  };
}

/** Routes no rate limit applies to: liveness, readiness and Prometheus scrapes must answer during a burst. */
const unlimitedPaths: ReadonlySet<string> = new Set(["/health", "/ready", "/metrics"]);

/**
 * The requests per minute each client may send, or undefined when nothing is limited: with API keys, per key
 * (`server.apiKeys[].rateLimitPerMinute`, else `server.rateLimitPerMinute`); without keys (loopback only), none
 * unless `server.rateLimitWithoutKeys`, then `server.rateLimitPerMinute` per client address.
 */
function resolveRateLimits(
  config: App["config"]["server"],
): { default: number; perKey: ReadonlyMap<string, number>; source: string } | undefined {
  if (config.apiKeys.length === 0) {
    if (!config.rateLimitWithoutKeys || config.rateLimitPerMinute === 0) return undefined;
    return { default: config.rateLimitPerMinute, perKey: new Map(), source: "(server.rateLimitPerMinute)" };
  }
  const perKey = new Map<string, number>();
  for (const entry of config.apiKeys) {
    if (typeof entry !== "string" && entry.rateLimitPerMinute !== undefined)
      perKey.set(hashKey(entry.key), entry.rateLimitPerMinute);
  }
  if (config.rateLimitPerMinute === 0 && [...perKey.values()].every((max) => max === 0)) return undefined;
  return {
    default: config.rateLimitPerMinute,
    perKey,
    source: "for this API key (server.rateLimitPerMinute, or the key's own rateLimitPerMinute)",
  };
}

/** The API key's fingerprint (never the key): what rate limits count by. */
function keyId(request: FastifyRequest): string | undefined {
  const key = bearerToken(request);
  return key === undefined ? undefined : hashKey(key);
}

function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== "string") return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match?.[1];
}

/** Constant-time comparison of the bearer key against every configured key; returns the key's bound user. */
function authenticate(
  request: FastifyRequest,
  keys: readonly { key: string; user?: string }[],
): string | undefined {
  const given = bearerToken(request);
  if (given === undefined) {
    throw new AppError("UNAUTHORIZED", "missing API key: send Authorization: Bearer <key>");
  }
  const givenHash = createHash("sha256").update(given).digest();
  let match: { key: string; user?: string } | undefined;
  for (const entry of keys) {
    // Hashing first makes both sides the same length, so the comparison time says nothing about the key.
    if (timingSafeEqual(givenHash, createHash("sha256").update(entry.key).digest())) match = entry;
  }
  if (match === undefined) throw new AppError("UNAUTHORIZED", "invalid API key");
  return match.user;
}

/**
 * The calls the audit log records: what writes memory, runs a skill or administers the loop, the red team,
 * self-repair or LoRA learning (reads and chat turns are not calls; what a turn stores is `memory.learn`).
 */
function auditedCall(method: string, route: string): { type: string; target: string } | undefined {
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return undefined;
  if (route.startsWith("/v1/memory")) {
    const type =
      method === "DELETE"
        ? "memory.delete"
        : route.endsWith("/import")
          ? "memory.import"
          : route.endsWith("/extract")
            ? "memory.extract"
            : "memory.write";
    return { type, target: route };
  }
  if (route.startsWith("/v1/skills/")) return { type: "skill.run", target: route };
  if (route.startsWith("/v1/conversations"))
    return { type: method === "DELETE" ? "conversation.delete" : "conversation.write", target: route };
  if (route.startsWith("/v1/feedback"))
    return { type: method === "DELETE" ? "feedback.delete" : "feedback.write", target: route };
  if (
    route.startsWith("/v1/loop") ||
    route.startsWith("/v1/redteam") ||
    route.startsWith("/v1/repair") ||
    route.startsWith("/v1/lora")
  )
    return { type: "admin.call", target: route };
  return undefined;
}

/** Who made an audited call: the key's bound user, else the named user, plus the key. */
function auditActor(request: FastifyRequest): { actor: string } {
  const body = request.body as { user?: unknown } | undefined;
  const query = request.query as { user?: unknown } | undefined;
  const named =
    typeof body?.user === "string" ? body.user : typeof query?.user === "string" ? query.user : undefined;
  // A request refused before its context was set (the server shutting down) has none.
  const context = request.sarai as RequestContext | null;
  const user = context?.boundUser ?? named ?? "anonymous";
  const key = context?.keyActor;
  return { actor: key === undefined ? user : `${user} (${key})` };
}

function outcomeOf(status: number): "ok" | "denied" | "error" {
  return status < 400 ? "ok" : status === 401 || status === 403 || status === 429 ? "denied" : "error";
}

/** Where a body stops being UTF-8: the byte offset of the first replacement the decoder had to make. */
function firstInvalidByte(bytes: Buffer): number {
  const decoded = bytes.toString("utf8");
  const at = decoded.indexOf("\uFFFD");
  return at === -1 ? 0 : Buffer.byteLength(decoded.slice(0, at));
}
