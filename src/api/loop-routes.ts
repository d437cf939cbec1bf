import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { App } from "../app.js";
import { loopEventName } from "../config/index.js";
import {
  liveLoopProcesses,
  toPruneWire,
  type Job,
  type LoopService,
  type LoopStatus,
  type RunRecord,
} from "../proactive/index.js";
import { AppError } from "../shared/index.js";
import { parseRequest } from "./errors.js";

const actionParams = z.object({ name: z.string().min(1).max(64) }).strict();
const jobParams = z.object({ id: z.coerce.number().int().positive() }).strict();
const runBody = z
  .object({
    /** The action's arguments; absent means the configured ones. Checked by the action's own schema. */
    args: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
const pruneBody = z
  .object({
    /** Unload models no request is using. Default: `true`. */
    unloadModels: z.boolean().optional(),
    /** Drop caches that are rebuilt on demand. Default: `true`. */
    dropCaches: z.boolean().optional(),
  })
  .strict();
const eventParams = z
  .object({ name: z.string().regex(loopEventName, "an event name is 1–64 of a-z, 0-9 and _") })
  .strict();
const eventBody = z
  .object({
    /** The event's payload, which the actions it triggers see. */
    data: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
const historyQuery = z
  .object({
    action: z.string().min(1).max(64).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function toRunJson(run: RunRecord) {
  return {
    id: run.id,
    job_id: run.jobId,
    action: run.action,
    trigger: run.trigger,
    attempt: run.attempt,
    owner: run.owner,
    started_at: iso(run.startedAt),
    duration_ms: run.durationMs,
    outcome: run.outcome,
    result: run.result,
    error: run.error,
  };
}

function toJobJson(job: Job) {
  return {
    id: job.id,
    action: job.action,
    trigger: job.trigger,
    priority: job.priority,
    // Jobs store `{ args, event }`; clients gave (and see) the arguments.
    args: (job.args as { args?: unknown } | null)?.args ?? null,
    status: job.status,
    attempts: job.attempts,
    execute_at: iso(job.executeAt),
    created_at: iso(job.createdAt),
    finished_at: iso(job.finishedAt),
    last_error: job.lastError,
    result: job.result,
  };
}

function toStatusJson(status: LoopStatus) {
  const alive = new Set(liveLoopProcesses(status).map((p) => p.owner));
  return {
    object: "loop.status",
    /** This server's loop runs the schedule (`proactive.inServer`); else a `sarai loop` process may. */
    running: status.running,
    owner: status.owner,
    now: iso(status.now),
    restarts: status.restarts,
    actions: status.actions.map((action) => ({
      name: action.name,
      description: action.description,
      enabled: action.enabled,
      schedule: action.schedule,
      on: action.on,
      priority: action.priority,
      next_run_at: iso(action.nextRunAt),
      last_run: action.lastRun === null ? null : toRunJson(action.lastRun),
    })),
    processes: status.processes.map((p) => ({
      owner: p.owner,
      pid: p.pid,
      started_at: iso(p.startedAt),
      heartbeat_at: iso(p.heartbeatAt),
      heartbeat_age_ms: status.now - p.heartbeatAt,
      alive: alive.has(p.owner),
    })),
  };
}

/**
 * `/v1/loop`: the proactive loop's admin routes — status, a manual run of an action, the run history, events
 * from outside. They read and write the loop database, so they work whether the schedule runs in this server
 * or in `sarai loop`. `/v1/loop/server` and `/v1/loop/prune` are what `sarai loop` asks this server for: its
 * RSS and its pruner (the models live here). System-wide, so an API key bound to one user may not use them.
 */
export function registerLoopRoutes(fastify: FastifyInstance, app: App): void {
  const loopOf = (request: FastifyRequest): LoopService => {
    if (request.sarai.boundUser !== undefined) {
      throw new AppError("FORBIDDEN", "the loop's admin routes need an API key that is not bound to a user");
    }
    if (app.loop === undefined) {
      throw new AppError(
        "LOOP_DISABLED",
        "the proactive loop is off on this server (proactive.enabled: false)",
      );
    }
    return app.loop;
  };
  const assertKnown = (loop: LoopService, action: string, param: string) => {
    const names = loop.scheduler.describe().map((a) => a.name);
    if (!names.includes(action)) {
      throw new AppError("NOT_FOUND", `no action named "${action}"; known: ${names.join(", ")}`, { param });
    }
  };

  fastify.get("/v1/loop/status", (request) => toStatusJson(loopOf(request).status()));

  fastify.post("/v1/loop/actions/:name/run", async (request, reply) => {
    const loop = loopOf(request);
    const { name } = parseRequest(actionParams, request.params);
    assertKnown(loop, name, "name");
    const body = parseRequest(runBody, request.body);
    const job = loop.run(name, body.args);
    const processes = liveLoopProcesses(loop.status());
    return reply
      .code(202)
      .header("location", `/v1/loop/jobs/${job.id}`)
      .send({
        ...toJobJson(job),
        // Queued in the database: a running loop (this server's, or `sarai loop`) picks it up within a poll.
        loop_alive: processes.length > 0,
      });
  });

  fastify.post("/v1/loop/events/:name", async (request, reply) => {
    const loop = loopOf(request);
    const { name } = parseRequest(eventParams, request.params);
    const body = parseRequest(eventBody, request.body);
    const jobs = loop.emit(name, body.data);
    return reply.code(202).send({
      object: "loop.event",
      name,
      // One job per action listening for it (`proactive.actions.<action>.on`); none is not an error.
      jobs: jobs.map(toJobJson),
      loop_alive: liveLoopProcesses(loop.status()).length > 0,
    });
  });

  fastify.get("/v1/loop/server", async (request) => {
    const loop = loopOf(request);
    const readings = loop.memoryReadings();
    const models = await app.pool.detailedStatus();
    return {
      object: "loop.server",
      pid: process.pid,
      rss_bytes: readings.rssBytes,
      available_memory_bytes: readings.availableMemoryBytes,
      models: models.map((m) => ({ role: m.role, loaded: m.loaded })),
    };
  });

  fastify.post("/v1/loop/prune", async (request) => {
    const loop = loopOf(request);
    const body = parseRequest(pruneBody, request.body);
    // Steps that fail are listed in `errors` (the other step still ran): a report, not a request error.
    return toPruneWire(await loop.prune(body));
  });

  fastify.get("/v1/loop/jobs/:id", (request) => {
    const loop = loopOf(request);
    const { id } = parseRequest(jobParams, request.params);
    const job = loop.store.get(id);
    if (job === undefined) throw new AppError("NOT_FOUND", `no loop job ${id}`, { param: "id" });
    const runs = loop.store.runs({ action: job.action, limit: 100 }).filter((run) => run.jobId === id);
    return { ...toJobJson(job), runs: runs.map(toRunJson) };
  });

  fastify.get("/v1/loop/history", (request) => {
    const loop = loopOf(request);
    const query = parseRequest(historyQuery, request.query);
    if (query.action !== undefined) assertKnown(loop, query.action, "action");
    const runs = loop.store.runs({
      ...(query.action === undefined ? {} : { action: query.action }),
      limit: query.limit ?? 50,
    });
    return { object: "list", data: runs.map(toRunJson) };
  });
}
