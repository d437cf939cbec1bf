/**
 * The learning loop's assembly, beside `createApp`: the signed adapter archive, the service that trains, gates and
 * hot-applies LoRA adapters from feedback, its metrics, audit entries and the notification of each verdict.
 */
import type { ResolvedConfig } from "./config/index.js";
import type { ModelPool } from "./inference/index.js";
import {
  AdapterArchive,
  LearningService,
  type FeedbackStore,
  type LearningSettings,
  type TrainingReport,
} from "./learning/index.js";
import type { Metrics } from "./observability/index.js";
import type { LearningPort } from "./proactive/index.js";
import type { Logger } from "./shared/index.js";
import {
  loadSigningKey,
  loadTrustedKey,
  resolveSigningKeyFiles,
  type AuditSink,
  type InjectionGuard,
  type SigningKey,
} from "./security/index.js";

export interface LearningParts {
  config: ResolvedConfig;
  pool: ModelPool;
  feedback: FeedbackStore | undefined;
  guard: InjectionGuard | undefined;
  logger: Logger;
  audit: AuditSink;
  metrics: () => Metrics;
  /** Sends a notification to a user (the loop's feed); absent when the loop is off. */
  notify?: (userId: string, text: string) => void;
}

/** The settings `learning.lora.*` give the service. */
export function learningSettings(config: ResolvedConfig): LearningSettings {
  const lora = config.learning.lora;
  return {
    userId: lora.user,
    minNewFeedback: lora.minNewFeedback,
    minExamples: lora.minExamples,
    heldOutFraction: lora.heldOutFraction,
    rank: lora.rank,
    alpha: lora.alpha,
    learningRate: lora.learningRate,
    steps: lora.steps,
    batchSize: lora.batchSize,
    weightDecay: lora.weightDecay,
    anchorWeight: lora.anchorWeight,
    timeBudgetMs: lora.timeBudgetSeconds * 1000,
    memoryBudgetBytes: lora.memoryBudgetMb * 2 ** 20,
    maxAnswerTokens: lora.maxAnswerTokens,
    gate: {
      minImprovement: lora.minImprovement,
      maxRegressionIncrease: lora.maxRegressionIncrease,
      maxAgreementDrop: lora.maxAgreementDrop,
    },
    keepDays: lora.keepDays,
  };
}

/**
 * The learning service when `learning.enabled` and `learning.lora.enabled` and the main model runs here; undefined
 * otherwise. Without a signing key (`sarai keys init`) adapters cannot be archived signed: the service still opens
 * (list, status) and a run fails with `SIGNING_KEY_MISSING`.
 */
export async function assembleLearning(parts: LearningParts): Promise<LearningService | undefined> {
  const { config, feedback, logger, audit } = parts;
  if (!config.learning.enabled || !config.learning.lora.enabled || feedback === undefined) return undefined;
  if (!parts.pool.hasRole("main") || config.models.main?.remote !== undefined) return undefined;
  const files = resolveSigningKeyFiles(config);
  const signingKey = await loadSigningKey(files.privateKey, process.env["SARAI_SIGNING_PASSPHRASE"]).catch(
    (error: unknown): SigningKey | undefined => {
      logger.info(
        { reason: error instanceof Error ? error.message : String(error) },
        "LoRA adapters cannot be signed",
      );
      return undefined;
    },
  );
  const trustedKey = await loadTrustedKey(files.publicKey).catch(() => undefined);
  const archive = await AdapterArchive.open({
    dir: `${config.learning.lora.dir}/adapters`,
    ...(signingKey === undefined ? {} : { signingKey }),
    ...(trustedKey === undefined ? {} : { trustedKey }),
    logger,
  });
  const guard = parts.guard;
  const service = await LearningService.open({
    pool: parts.pool,
    feedback,
    archive,
    screen: (text) => guard !== undefined && guard.check(text).verdict === "attack",
    dir: config.learning.lora.dir,
    settings: learningSettings(config),
    logger: logger.child({ component: "learning" }),
    events: {
      onStep: (seconds) => parts.metrics().loraStepSeconds.observe(seconds),
      onFailure: (error) => {
        parts.metrics().loraRuns.inc({ outcome: "failed" });
        const message = error instanceof Error ? error.message : String(error);
        audit.record({ type: "lora.train", target: "none", outcome: "error", details: { error: message } });
        parts.notify?.(config.learning.lora.user, `LoRA training failed: ${message}`);
      },
      onReport: (report) => {
        const metrics = parts.metrics();
        metrics.loraRuns.inc({ outcome: report.outcome });
        if (report.current !== undefined && report.candidate !== undefined) {
          metrics.loraNll.set({ set: "held_out", adapter: "current" }, report.current.heldOut.nll);
          metrics.loraNll.set({ set: "held_out", adapter: "candidate" }, report.candidate.heldOut.nll);
          metrics.loraNll.set({ set: "regression", adapter: "current" }, report.current.regression.nll);
          metrics.loraNll.set({ set: "regression", adapter: "candidate" }, report.candidate.regression.nll);
        }
        if (report.outcome !== "skipped") {
          audit.record({
            type: "lora.train",
            target: report.adapterId ?? "none",
            outcome: report.outcome === "promoted" ? "ok" : "denied",
            details: {
              examples: report.examples,
              steps: report.steps,
              verdict: report.verdict?.reasons ?? [],
            },
          });
          parts.notify?.(config.learning.lora.user, describeReport(report));
        }
      },
      onPromote: ({ id, previous, by }) => {
        const metrics = parts.metrics();
        metrics.loraActive.reset();
        metrics.loraActive.set({ adapter: id ?? "none" }, id === undefined ? 0 : 1);
        audit.record({
          type: "lora.promote",
          target: id ?? "none",
          outcome: "ok",
          details: { previous: previous ?? null, by },
        });
      },
    },
  });
  parts
    .metrics()
    .loraActive.set(
      { adapter: service.status().active ?? "none" },
      service.status().active === undefined ? 0 : 1,
    );
  return service;
}

/** The loop's view of the service: a nightly run (the service counts and records failures itself). */
export function toLearningPort(service: LearningService): LearningPort {
  return { train: (options, signal) => service.train({ force: options.force, signal }) };
}

/** The notification text for a run's verdict. */
export function describeReport(report: TrainingReport): string {
  if (report.outcome === "skipped") return `LoRA training skipped: ${report.reason ?? ""}`;
  const figures =
    report.current === undefined || report.candidate === undefined
      ? ""
      : ` Held-out NLL ${report.current.heldOut.nll.toFixed(3)} → ${report.candidate.heldOut.nll.toFixed(3)}, ` +
        `exact ${report.current.heldOut.exact}/${report.current.heldOut.total} → ` +
        `${report.candidate.heldOut.exact}/${report.candidate.heldOut.total}; regression NLL ` +
        `${report.current.regression.nll.toFixed(3)} → ${report.candidate.regression.nll.toFixed(3)}.`;
  const verdict =
    report.outcome === "promoted"
      ? `promoted adapter ${report.adapterId ?? ""}`
      : `refused adapter ${report.adapterId ?? ""}: ${(report.verdict?.reasons ?? []).filter((r) => r.startsWith("failed")).join("; ")}`;
  return `LoRA training from ${report.examples} examples: ${verdict}.${figures}`;
}
