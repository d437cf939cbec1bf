import type { AuditSink } from "../security/index.js";
import { AppError } from "../shared/index.js";
import { runCampaign, type AttackCase } from "./campaign.js";
import { createProbeCatalogue, selectProbes } from "./probes.js";
import { buildReport, formatCase, type RedTeamReport } from "./report.js";
import { ReportStore } from "./report-store.js";
import type { Probe } from "./types.js";

export interface RedTeamOptions {
  /** Folder of reports and regression cases. */
  dir: string;
  /** The running server the campaigns attack. */
  baseUrl: string;
  apiKey?: string;
  audit?: AuditSink;
  /** Pause between attempts, in ms. */
  minIntervalMs?: number;
  timeoutMs?: number;
  /** Model-written variants per text family and campaign (see `CampaignOptions.modelVariants`). Default: `0`. */
  modelVariants?: number;
  /** Called with each saved report (metrics, notifications). */
  onReport?: (report: RedTeamReport) => void;
}

export interface CampaignRequest {
  /** Probe families; all when empty or absent. */
  families?: readonly string[];
  /** New attempts beyond the regression reruns. Default: one per coverage cell. */
  budget?: number;
  seed?: number;
  /** Run exactly these cases (a reproducer) instead of a planned campaign. */
  cases?: readonly AttackCase[];
  /** Another server than the configured one (the API's route passes its own address). */
  baseUrl?: string;
  apiKey?: string;
  signal?: AbortSignal;
}

export interface CampaignOutcome {
  report: RedTeamReport;
  paths: { json: string; html: string };
}

/** Campaigns against a running server, their saved reports, and the regression cases they feed. */
export class RedTeam {
  readonly store: ReportStore;
  readonly catalogue: readonly Probe[];
  readonly #options: RedTeamOptions;
  #running: { startedAt: string } | undefined;

  constructor(options: RedTeamOptions) {
    this.#options = options;
    this.store = new ReportStore(options.dir);
    this.catalogue = createProbeCatalogue();
  }

  /** The campaign in progress, if any. */
  get running(): { startedAt: string } | undefined {
    return this.#running;
  }

  /** Runs one campaign; a second one while it runs is refused (`CAMPAIGN_RUNNING`). */
  async run(request: CampaignRequest = {}): Promise<CampaignOutcome> {
    if (this.#running !== undefined)
      throw new AppError(
        "CAMPAIGN_RUNNING",
        `a red-team campaign started at ${this.#running.startedAt} is still running`,
      );
    this.#running = { startedAt: new Date().toISOString() };
    try {
      return await this.#run(request);
    } finally {
      this.#running = undefined;
    }
  }

  async #run(request: CampaignRequest): Promise<CampaignOutcome> {
    const probes = selectProbes(this.catalogue, request.families ?? []);
    const known = new Set(this.catalogue.map((probe) => probe.id));
    for (const given of request.cases ?? [])
      if (!known.has(given.probeId)) throw new Error(`--case: no probe "${given.probeId}"`);
    const reproducing = request.cases !== undefined && request.cases.length > 0;
    const previous = this.store.latest();
    const result = await runCampaign({
      baseUrl: request.baseUrl ?? this.#options.baseUrl,
      probes: reproducing ? this.catalogue : probes,
      ...(reproducing
        ? { budget: 0 }
        : request.budget === undefined || request.budget === 0
          ? {}
          : { budget: request.budget }),
      seed: request.seed ?? 1,
      regressions: reproducing
        ? request.cases
        : this.store.regressions().filter((known) => probes.some((probe) => probe.id === known.probeId)),
      ...((request.apiKey ?? this.#options.apiKey) === undefined
        ? {}
        : { apiKey: request.apiKey ?? this.#options.apiKey }),
      ...(this.#options.audit === undefined ? {} : { audit: this.#options.audit }),
      ...(this.#options.minIntervalMs === undefined ? {} : { minIntervalMs: this.#options.minIntervalMs }),
      ...(this.#options.timeoutMs === undefined ? {} : { timeoutMs: this.#options.timeoutMs }),
      ...(request.signal === undefined ? {} : { signal: request.signal }),
      modelVariants: reproducing ? 0 : (this.#options.modelVariants ?? 0),
    });
    const report = buildReport(result, previous);
    const paths = this.store.save(report);
    if (!reproducing)
      this.store.updateRegressions(
        report,
        new Map(result.attempts.filter((a) => a.regression).map((a) => [formatCase(a), a.verdict])),
      );
    this.#options.onReport?.(report);
    return { report, paths };
  }
}
