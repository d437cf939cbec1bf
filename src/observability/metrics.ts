import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** SARAi's Prometheus metrics. Every name starts with `sarai_`; where the seeds name a metric, theirs is used. */
export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<"route" | "method" | "status">;
  readonly httpDuration: Histogram<"route" | "method" | "status">;
  readonly timeToFirstToken: Histogram<"role">;
  readonly tokensPerSecond: Histogram<"role">;
  readonly generatedTokens: Counter<"role">;
  readonly queueDepth: Gauge<"role">;
  readonly activeSequences: Gauge<"role">;
  readonly modelLoadSeconds: Gauge<"role">;
  readonly ramGb: Gauge;
  readonly memoryFactsStored: Counter<"source" | "outcome">;
  readonly memoryFactsRecalled: Histogram;
  readonly memoryFacts: Gauge<"state">;
  readonly memoryDatabaseMb: Gauge;
  readonly speculativeAcceptanceRate: Gauge;
  readonly speculativeSpeedup: Gauge;
  readonly speculativeFallbacks: Counter<"reason">;
  readonly speculativeDraftedTokens: Counter;
  readonly speculativeAcceptedTokens: Counter;
  readonly proactiveActions: Counter<"action" | "result">;
  readonly proactiveActionDuration: Histogram<"action">;
  readonly proactiveNextRun: Gauge<"action">;
  readonly loopRestarts: Counter;
  /** Feeds one reflected turn to the loop's histograms and the autocorrection rate. */
  recordReflection(sample: ReflectionSample): void;
  readonly omniLoopLatency: Histogram;
  readonly omniLoopIterations: Histogram;
  readonly autocorrectionRate: Gauge;
  readonly fallbacks: Counter<"code">;
  readonly imageCacheHitRate: Gauge;
  readonly imagesPrepared: Counter<"cache">;
  readonly diskFreeBytes: Gauge<"path">;
  readonly diskMinFreeBytes: Gauge<"path">;
  /** Web searches, by whether the SQLite cache answered (`hit`) or SearXNG was asked (`miss`). */
  readonly searchRequests: Counter<"cache">;
  readonly injectionChecks: Counter<"source" | "verdict">;
  readonly injectionDetections: Counter<"source" | "technique" | "action">;
  readonly injectionScore: Histogram<"source">;
  /** Red-team attempts by family and verdict (`success`, `blocked`, `failed`). */
  readonly redteamAttempts: Counter<"family" | "verdict">;
  /** Successful attacks by family (the `success` share of `redteamAttempts`, kept apart for alerts). */
  readonly redteamSuccesses: Counter<"family">;
  /** The last campaign's (family × mutator × target) coverage, 0–1. */
  readonly redteamCoverage: Gauge;
  /** When the last red-team report was written, Unix seconds. */
  readonly redteamLastReport: Gauge;
  readonly repairAttempts: Counter;
  readonly repairRollbacks: Counter;
  readonly repairFaults: Gauge;
  /** LoRA training runs by outcome (`promoted`, `refused`, `skipped`, `failed`). */
  readonly loraRuns: Counter<"outcome">;
  /** Seconds per optimizer step of LoRA training. */
  readonly loraStepSeconds: Histogram;
  /** The last gated run's figures: NLL per token by set (`held_out`, `regression`) and adapter (`current`, `candidate`). */
  readonly loraNll: Gauge<"set" | "adapter">;
  /** 1 while an adapter is applied to the main model, with its id; 0 for none. */
  readonly loraActive: Gauge<"adapter">;
}

/** One reflected turn, as the metrics see it (`ReflectionReport` fits). */
export interface ReflectionSample {
  iterations: readonly unknown[];
  autoCorrected: boolean;
  totalLatencyMs: number;
}

/** What the loop's gauges read on each scrape: `LoopService.status()` fits (observability cannot import it). */
export interface LoopMetricsStatus {
  actions: readonly { name: string; nextRunAt: number | null }[];
  /** Loop starts the database has seen, minus the first. */
  restarts: number;
}

export interface MetricsOptions {
  /**
   * Called by each subsystem gauge on every scrape before its value is read (prom-client reads gauges in
   * parallel, so each one refreshes itself): where gauges of other subsystems get their values.
   */
  onCollect?: () => Promise<void>;
  /** Read on every scrape: fact counts and database size (absent when memory is off). */
  memoryStats?: () => { activeFacts: number; historicFacts: number; sizeMb: number } | undefined;
  /** Read on every scrape: the proactive loop's next runs and restarts (absent when the loop is off). */
  loopStatus?: () => LoopMetricsStatus | undefined;
  /**
   * Read on every scrape: the loop runs recorded in its database since the previous call, by whichever process
   * ran them (this server's loop or `sarai loop`); each is counted once (absent when the loop is off).
   */
  loopRuns?: () => readonly LoopRunSample[] | undefined;
  /** Read on every scrape: the image cache's hit rate since start (absent when the cache is off). */
  imageCacheHitRate?: () => number | undefined;
  /** Read on every scrape: free disk under the state folder and the minimum `/ready` needs (absent: no sample). */
  diskFree?: () => Promise<{ path: string; freeBytes: number; minFreeBytes: number } | undefined>;
}

/** Creates a registry with SARAi's metrics and Node's process metrics (prefixed `sarai_`). */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "sarai_" });
  const registers = [registry];
  const loopStatus = () => {
    try {
      return options.loopStatus?.();
    } catch {
      // A scrape during shutdown (the loop database closed) leaves the loop's metrics as they were.
      return undefined;
    }
  };
  let restartsSeen = 0;
  // Both loop run metrics ingest before they are read (prom-client reads them in parallel); the first one to be
  // read takes the new runs and feeds both, so each run is counted once.
  const ingestLoopRuns = () => {
    let runs: readonly LoopRunSample[] | undefined;
    try {
      runs = options.loopRuns?.();
    } catch {
      return;
    }
    for (const run of runs ?? []) recordLoopRun(metrics, run);
  };
  const readDisk = async () => {
    try {
      return await options.diskFree?.();
    } catch {
      // An unreadable folder leaves the disk gauges as they were; /ready reports the failure.
      return undefined;
    }
  };
  let reflected = 0;
  let corrected = 0;
  const metrics: Metrics = {
    registry,
    httpRequests: new Counter({
      name: "sarai_http_requests_total",
      help: "HTTP requests by route, method and status",
      labelNames: ["route", "method", "status"],
      registers,
    }),
    httpDuration: new Histogram({
      name: "sarai_http_request_duration_seconds",
      help: "HTTP request latency (to the last byte) by route, method and status",
      labelNames: ["route", "method", "status"],
      buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    }),
    timeToFirstToken: new Histogram({
      name: "sarai_time_to_first_token_seconds",
      help: "Time from the request to the first generated token",
      labelNames: ["role"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    tokensPerSecond: new Histogram({
      name: "sarai_generated_tokens_per_second",
      help: "Decode speed of each generation, in tokens per second",
      labelNames: ["role"],
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000],
      registers,
    }),
    generatedTokens: new Counter({
      name: "sarai_generated_tokens_total",
      help: "Completion tokens generated",
      labelNames: ["role"],
      registers,
    }),
    queueDepth: new Gauge({
      name: "sarai_queue_depth",
      help: "Requests waiting for a free sequence",
      labelNames: ["role"],
      registers,
      async collect() {
        await options.onCollect?.();
      },
    }),
    activeSequences: new Gauge({
      name: "sarai_active_sequences",
      help: "Sequences generating right now",
      labelNames: ["role"],
      registers,
      async collect() {
        await options.onCollect?.();
      },
    }),
    modelLoadSeconds: new Gauge({
      name: "sarai_model_load_seconds",
      help: "How long loading the role's model took",
      labelNames: ["role"],
      registers,
      async collect() {
        await options.onCollect?.();
      },
    }),
    ramGb: new Gauge({
      name: "sarai_ram_gb",
      help: "Resident memory of the SARAi process, in GB",
      registers,
      collect() {
        this.set(process.memoryUsage.rss() / 1e9);
      },
    }),
    memoryFactsStored: new Counter({
      name: "sarai_memory_facts_stored_total",
      help: "Facts stored by entity memory, by source and outcome (inserted, reinforced, kept_existing)",
      labelNames: ["source", "outcome"],
      registers,
    }),
    memoryFactsRecalled: new Histogram({
      name: "sarai_memory_facts_recalled",
      help: "Facts put into a turn's system prompt",
      buckets: [0, 1, 2, 4, 8, 16, 32],
      registers,
    }),
    memoryFacts: new Gauge({
      name: "sarai_memory_facts",
      help: "Facts in the memory database, active or historic",
      labelNames: ["state"],
      registers,
      collect() {
        const stats = options.memoryStats?.();
        if (stats === undefined) return;
        this.set({ state: "active" }, stats.activeFacts);
        this.set({ state: "historic" }, stats.historicFacts);
      },
    }),
    memoryDatabaseMb: new Gauge({
      name: "sarai_memory_database_mb",
      help: "Size of the memory database file and its WAL, in MiB",
      registers,
      collect() {
        const stats = options.memoryStats?.();
        if (stats !== undefined) this.set(stats.sizeMb);
      },
    }),
    speculativeAcceptanceRate: new Gauge({
      name: "sarai_speculative_acceptance_rate",
      help: "Share of drafted tokens the main model kept (moving average over requests)",
      registers,
    }),
    speculativeSpeedup: new Gauge({
      name: "sarai_speculative_speedup",
      help: "Speculative decode speed over plain decode speed of the same main model (moving averages)",
      registers,
    }),
    speculativeFallbacks: new Counter({
      name: "sarai_speculative_fallback_total",
      help:
        "Generations that left the draft: request (acceptance under the floor), pause (the pair paused), " +
        "stall (an evaluation stalled), incompatible (the draft was refused)",
      labelNames: ["reason"],
      registers,
    }),
    speculativeDraftedTokens: new Counter({
      name: "sarai_speculative_drafted_tokens_total",
      help: "Tokens proposed by the draft model",
      registers,
    }),
    speculativeAcceptedTokens: new Counter({
      name: "sarai_speculative_accepted_tokens_total",
      help: "Drafted tokens the main model kept",
      registers,
    }),
    proactiveActions: new Counter({
      name: "sarai_proactive_actions_total",
      help:
        "Proactive loop action runs (attempts) recorded in the loop database since this server started, by any " +
        "loop process, by action and result (succeeded, failed, timeout)",
      labelNames: ["action", "result"],
      registers,
      collect: ingestLoopRuns,
    }),
    proactiveActionDuration: new Histogram({
      name: "sarai_proactive_action_duration_seconds",
      help: "How long each proactive loop action run took, by action (runs of any loop process, as above)",
      labelNames: ["action"],
      buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60, 300, 600],
      registers,
      collect: ingestLoopRuns,
    }),
    proactiveNextRun: new Gauge({
      name: "sarai_proactive_next_run_timestamp_seconds",
      help: "When each scheduled proactive action runs next, as a Unix timestamp",
      labelNames: ["action"],
      registers,
      collect() {
        const status = loopStatus();
        if (status === undefined) return;
        this.reset();
        for (const action of status.actions)
          if (action.nextRunAt !== null) this.set({ action: action.name }, action.nextRunAt / 1000);
      },
    }),
    loopRestarts: new Counter({
      name: "sarai_loop_restarts_total",
      help: "Restarts of the proactive loop (sarai loop or sarai serve) recorded in its database: starts after the first",
      registers,
      collect() {
        // The database is the source of truth (other processes restart too); the counter follows it upwards.
        const restarts = loopStatus()?.restarts;
        if (restarts === undefined || restarts <= restartsSeen) return;
        this.inc(restarts - restartsSeen);
        restartsSeen = restarts;
      },
    }),
    omniLoopLatency: new Histogram({
      name: "sarai_omni_loop_latency_seconds",
      help: "Time a reflected turn spent in the reflexive loop, all iterations",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180],
      registers,
    }),
    omniLoopIterations: new Histogram({
      name: "sarai_omni_loop_iterations",
      help: "Iterations of a reflected turn (1 = the draft was confident enough)",
      buckets: [1, 2, 3],
      registers,
    }),
    autocorrectionRate: new Gauge({
      name: "sarai_autocorrection_rate",
      help: "Share of reflected turns whose answer is a revision rather than the draft, since start",
      registers,
      collect() {
        if (reflected > 0) this.set(corrected / reflected);
      },
    }),
    fallbacks: new Counter({
      name: "sarai_fallback_total",
      help: "Turns answered by the fallback model, by the main model's error code",
      labelNames: ["code"],
      registers,
    }),
    imageCacheHitRate: new Gauge({
      name: "sarai_image_cache_hit_rate",
      help: "Share of prepared images served from the cache (exact or perceptual hit), since start",
      registers,
      collect() {
        const rate = options.imageCacheHitRate?.();
        if (rate !== undefined && Number.isFinite(rate)) this.set(rate);
      },
    }),
    imagesPrepared: new Counter({
      name: "sarai_images_prepared_total",
      help: "Images received in requests, by how the cache answered (exact, similar, miss, off)",
      labelNames: ["cache"],
      registers,
    }),
    searchRequests: new Counter({
      name: "sarai_search_requests_total",
      help: "Web searches, by cache outcome (hit: from the SQLite cache; miss: SearXNG was asked)",
      labelNames: ["cache"],
      registers,
    }),
    injectionChecks: new Counter({
      name: "sarai_injection_checks_total",
      help: "Texts the prompt-injection guard screened, by source (user, memory, web…) and verdict",
      labelNames: ["source", "verdict"],
      registers,
    }),
    injectionDetections: new Counter({
      name: "sarai_injection_detections_total",
      help: "Prompt-injection hits, by source, technique and the action taken (block, sanitize, flag)",
      labelNames: ["source", "technique", "action"],
      registers,
    }),
    injectionScore: new Histogram({
      name: "sarai_injection_score",
      help: "The guard's attack score of each screened text, 0–1",
      labelNames: ["source"],
      buckets: [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
      registers,
    }),
    redteamAttempts: new Counter({
      name: "sarai_redteam_attempts_total",
      help: "Red-team attempts against this server, by attack family and verdict (success, blocked, failed)",
      labelNames: ["family", "verdict"],
      registers,
    }),
    redteamSuccesses: new Counter({
      name: "sarai_redteam_successes_total",
      help: "Red-team attacks that succeeded, by family",
      labelNames: ["family"],
      registers,
    }),
    redteamCoverage: new Gauge({
      name: "sarai_redteam_coverage_ratio",
      help: "Share of (family × mutator × target) cells the last red-team campaign exercised, 0–1",
      registers,
    }),
    redteamLastReport: new Gauge({
      name: "sarai_redteam_last_report_timestamp_seconds",
      help: "When the last red-team report was written, in Unix seconds",
      registers,
    }),
    repairAttempts: new Counter({
      name: "sarai_repair_attempts_total",
      help: "Self-repair attempts by level (0 none, 1 config, 2 signed patch, 3 model) and result",
      labelNames: ["level", "result"],
      registers,
    }),
    loraRuns: new Counter({
      name: "sarai_lora_runs_total",
      help: "LoRA training runs of the learning loop by outcome (promoted, refused, skipped, failed)",
      labelNames: ["outcome"],
      registers,
    }),
    loraStepSeconds: new Histogram({
      name: "sarai_lora_step_seconds",
      help: "Seconds per optimizer step of LoRA training on the CPU",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
    loraNll: new Gauge({
      name: "sarai_lora_nll",
      help: "The last gated run's mean NLL per token, by set (held_out, regression) and adapter (current, candidate)",
      labelNames: ["set", "adapter"],
      registers,
    }),
    loraActive: new Gauge({
      name: "sarai_lora_active",
      help: "1 for the LoRA adapter applied to the main model (label adapter; none when the model runs bare)",
      labelNames: ["adapter"],
      registers,
    }),
    repairRollbacks: new Counter({
      name: "sarai_repair_rollbacks_total",
      help: "Repairs undone because the fault did not clear or health degraded after them",
      registers,
    }),
    repairFaults: new Gauge({
      name: "sarai_repair_faults",
      help: "Faults the self-repair detectors found on their last pass, by fault",
      labelNames: ["fault"],
      registers,
    }),
    diskFreeBytes: new Gauge({
      name: "sarai_disk_free_bytes",
      help: "Free disk space (for an unprivileged user) under the state folder, in bytes",
      labelNames: ["path"],
      registers,
      async collect() {
        const disk = await readDisk();
        if (disk !== undefined) this.set({ path: disk.path }, disk.freeBytes);
      },
    }),
    diskMinFreeBytes: new Gauge({
      name: "sarai_disk_min_free_bytes",
      help: "Free disk under the state folder below which /ready fails (degraded below twice this), in bytes",
      labelNames: ["path"],
      registers,
      async collect() {
        const disk = await readDisk();
        if (disk !== undefined) this.set({ path: disk.path }, disk.minFreeBytes);
      },
    }),
    recordReflection(sample: ReflectionSample) {
      reflected++;
      if (sample.autoCorrected) corrected++;
      this.omniLoopLatency.observe(sample.totalLatencyMs / 1000);
      this.omniLoopIterations.observe(sample.iterations.length);
    },
  };
  return metrics;
}

/** One finished run of a loop action, as the scheduler reports it (`RunReport`). */
export interface LoopRunSample {
  action: string;
  outcome: "succeeded" | "failed" | "timeout";
  durationMs: number;
}

/**
 * Feeds a finished loop run to the metrics. The server does it for every run in the loop database
 * (`MetricsOptions.loopRuns`); feed a run here only if it is not recorded there, or it counts twice.
 */
export function recordLoopRun(metrics: Metrics, run: LoopRunSample): void {
  metrics.proactiveActions.inc({ action: run.action, result: run.outcome });
  metrics.proactiveActionDuration.observe({ action: run.action }, run.durationMs / 1000);
}
