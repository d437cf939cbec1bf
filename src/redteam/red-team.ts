import type { AuditSink } from "../security/index.js";
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

  constructor(options: RedTeamOptions) {
    this.#options = options;
    this.store = new ReportStore(options.dir);
    this.catalogue = createProbeCatalogue();
  }

  async run(request: CampaignRequest = {}): Promise<CampaignOutcome> {
    const probes = selectProbes(this.catalogue, request.families ?? []);
    const known = new Set(this.catalogue.map((probe) => probe.id));
    for (const given of request.cases ?? [])
      if (!known.has(given.probeId)) throw new Error(`--case: no probe "${given.probeId}"`);
    const reproducing = request.cases !== undefined && request.cases.length > 0;
    const previous = this.store.latest();
    const result = await runCampaign({
      baseUrl: this.#options.baseUrl,
      probes: reproducing ? this.catalogue : probes,
      budget: reproducing ? 0 : (request.budget ?? undefined),
      seed: request.seed ?? 1,
      regressions: reproducing
        ? request.cases
        : this.store.regressions().filter((known) => probes.some((probe) => probe.id === known.probeId)),
      ...(this.#options.apiKey === undefined ? {} : { apiKey: this.#options.apiKey }),
      ...(this.#options.audit === undefined ? {} : { audit: this.#options.audit }),
      ...(this.#options.minIntervalMs === undefined ? {} : { minIntervalMs: this.#options.minIntervalMs }),
      ...(this.#options.timeoutMs === undefined ? {} : { timeoutMs: this.#options.timeoutMs }),
      ...(request.signal === undefined ? {} : { signal: request.signal }),
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
