import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { App } from "../app.js";
import type {
  ArchivedAdapter,
  GateFigures,
  LearningService,
  LearningStatus,
  TrainingReport,
} from "../learning/index.js";
import { AppError, isAppError } from "../shared/index.js";
import { parseRequest } from "./errors.js";

const trainBody = z
  .object({
    /** Train even with too little new feedback or a busy machine (never with too few examples). */
    force: z.boolean().optional(),
  })
  .strict();

const promoteBody = z
  .object({
    /** The archived adapter to put in use; `null` runs the bare model. */
    id: z.string().min(1).max(128).nullable(),
  })
  .strict();

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/**
 * One archive entry on the wire: snake_case, the time as an ISO string, metrics under their own names. A damaged
 * entry (its record missing or unreadable) has status `damaged`, `damaged` saying why, and nulls for the rest.
 */
export function toAdapterWire(entry: ArchivedAdapter & { active: boolean }) {
  if ("damaged" in entry) {
    return {
      id: entry.id,
      object: "lora.adapter",
      created_at: iso(entry.createdAt),
      status: "damaged",
      damaged: entry.damaged,
      base_model: null,
      base_model_sha256: null,
      rank: null,
      alpha: null,
      examples: null,
      metrics: null,
      sha256: null,
      active: entry.active,
    };
  }
  return {
    id: entry.id,
    object: "lora.adapter",
    created_at: iso(entry.createdAt),
    status: entry.status,
    damaged: null,
    base_model: entry.baseModel,
    base_model_sha256: entry.baseModelSha256,
    rank: entry.rank,
    alpha: entry.alpha,
    examples: entry.examples,
    metrics: entry.metrics ?? null,
    sha256: entry.sha256,
    active: entry.active,
  };
}

/** `GET /v1/lora` (and what promote and rollback answer): the adapter in use, the one before, the archive. */
export function toLoraStatusWire(
  status: LearningStatus,
  adapters: readonly (ArchivedAdapter & { active: boolean })[],
) {
  const run = status.lastRun;
  return {
    object: "lora.status",
    active: status.active ?? null,
    previous: status.previous ?? null,
    running: status.running,
    last_run:
      run === undefined
        ? null
        : {
            at: iso(run.at),
            outcome: run.outcome,
            reason: run.reason ?? null,
            adapter_id: run.adapterId ?? null,
          },
    data: adapters.map(toAdapterWire),
  };
}

// A set's figures have one-word names (nll, perplexity, exact, total, …): the same on the wire.
const toFiguresWire = (figures: GateFigures | undefined) =>
  figures === undefined ? null : { held_out: figures.heldOut, regression: figures.regression };

/** A training run's report on the wire; what a skipped run did not reach is null. */
export function toTrainingReportWire(report: TrainingReport) {
  return {
    object: "lora.training",
    outcome: report.outcome,
    reason: report.reason ?? null,
    adapter_id: report.adapterId ?? null,
    previous: report.previous ?? null,
    examples: report.examples,
    held_out: report.heldOut,
    train_positions: report.trainPositions,
    steps: report.steps,
    stopped: report.stopped ?? null,
    resumed_from: report.resumedFrom ?? null,
    first_loss: report.firstLoss ?? null,
    last_loss: report.lastLoss ?? null,
    step_ms: report.stepMs ?? null,
    train_seconds: report.trainSeconds ?? null,
    peak_rss_mb: report.peakRssMb ?? null,
    current: toFiguresWire(report.current),
    candidate: toFiguresWire(report.candidate),
    verdict:
      report.verdict === undefined
        ? null
        : { promote: report.verdict.promote, reasons: report.verdict.reasons },
  };
}

export type LoraAdapterWire = ReturnType<typeof toAdapterWire>;
export type LoraStatusWire = ReturnType<typeof toLoraStatusWire>;
export type TrainingReportWire = ReturnType<typeof toTrainingReportWire>;

/**
 * `/v1/lora`: the learning loop's admin routes — the adapter archive and which adapter is in use, a training run
 * now, promoting an archived adapter (or none) and rolling back. System-wide, so an API key bound to one user may
 * not use them. A run the gate refuses is still a 200: the report's `outcome` says what became of the adapter.
 */
export function registerLoraRoutes(fastify: FastifyInstance, app: App): void {
  const learningOf = (request: FastifyRequest): LearningService => {
    if (request.sarai.boundUser !== undefined)
      throw new AppError("FORBIDDEN", "the LoRA routes need an API key that is not bound to a user");
    if (app.learning === undefined)
      throw new AppError(
        "NOT_FOUND",
        "LoRA learning is off on this server (learning.enabled or learning.lora.enabled is false), " +
          "or the main model is remote",
      );
    return app.learning;
  };
  const statusOf = async (learning: LearningService) =>
    toLoraStatusWire(learning.status(), await learning.list());

  // A run takes minutes: it outlives a client that stops waiting (its result is archived and in the status), and
  // server.requestTimeoutMs does not bound it. Only the server closing stops it, at once rather than after the
  // shutdown grace, which is meant for generations.
  const closing = new AbortController();
  fastify.addHook("preClose", (done) => {
    closing.abort(new AppError("SHUTTING_DOWN", "the server is shutting down"));
    done();
  });

  fastify.get("/v1/lora", (request) => statusOf(learningOf(request)));

  fastify.post("/v1/lora/train", async (request) => {
    const learning = learningOf(request);
    const body = parseRequest(trainBody, request.body);
    try {
      const report = await learning.train({ force: body.force === true, signal: closing.signal });
      return toTrainingReportWire(report);
    } catch (error) {
      if (closing.signal.aborted && !(isAppError(error) && error.code === "LEARNING_BUSY"))
        throw new AppError("SHUTTING_DOWN", "the server shut down during the training run; it was stopped", {
          cause: error,
        });
      throw error;
    }
  });

  fastify.post("/v1/lora/promote", async (request) => {
    const learning = learningOf(request);
    const { id } = parseRequest(promoteBody, request.body);
    // Asked of the listing first: the archive checks for its keys before it looks for the id.
    if (id !== null && !(await learning.list()).some((entry) => entry.id === id))
      throw new AppError("ADAPTER_NOT_FOUND", `no adapter ${id} in the archive (sarai lora list)`, {
        param: "id",
      });
    await learning.promote(id ?? undefined);
    return statusOf(learning);
  });

  fastify.post("/v1/lora/rollback", async (request) => {
    const learning = learningOf(request);
    await learning.rollback();
    return statusOf(learning);
  });
}
