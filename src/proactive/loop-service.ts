import type { ResolvedConfig } from "../config/index.js";
import { createSilentLogger, type Logger } from "../shared/index.js";
import { AppError } from "../shared/index.js";
import { createBuiltinActions, pruneWith } from "./actions/index.js";
import { resolveSchedules, resolveSettings } from "./defaults.js";
import { JobStore, type Job, type Notification, type RunRecord } from "./job-store.js";
import type { LoopPorts, PruneOptions, PruneReport } from "./ports.js";
import {
  Scheduler,
  systemClock,
  type ActionDefinition,
  type ActionSchedule,
  type Clock,
  type LoopEvent,
  type RunReport,
} from "./scheduler.js";

export interface LoopServiceOptions {
  config: ResolvedConfig;
  /** Everything but the store, which the service opens from `proactive.database`. */
  ports: Omit<LoopPorts, "store">;
  logger?: Logger;
  clock?: Clock;
  owner?: string;
  /** Each attempt this process finishes (logs, tests). The metrics count runs from the database instead. */
  onRun?: (report: RunReport) => void;
  /** Replaces the built-in actions (tests). */
  actions?: (ports: LoopPorts) => ActionDefinition<unknown>[];
  /** Replaces the schedules resolved from the config (tests). */
  schedules?: ActionSchedule[];
}

export interface ActionStatus {
  name: string;
  description: string;
  schedule: string | null;
  on: readonly string[];
  priority: number | null;
  enabled: boolean;
  nextRunAt: number | null;
  lastRun: RunRecord | null;
}

export interface LoopStatus {
  owner: string;
  running: boolean;
  now: number;
  actions: ActionStatus[];
  /** Loop processes seen by the database, newest first. */
  processes: { owner: string; pid: number; startedAt: number; heartbeatAt: number }[];
  /** Starts after the first one: restarts by a supervisor, or of `sarai serve`. */
  restarts: number;
}

/**
 * The proactive loop as SARAi runs it: the job store from the config, the built-in actions over the given
 * ports, the resolved schedules. Runs inside `sarai serve` or as `sarai loop`; both may run at once on one
 * database (each slot still runs once).
 */
export class LoopService {
  readonly store: JobStore;
  readonly scheduler: Scheduler;
  readonly #clock: Clock;
  readonly #ports: LoopPorts;
  #running = false;
  #runCursor: number;

  private constructor(store: JobStore, scheduler: Scheduler, clock: Clock, ports: LoopPorts) {
    this.store = store;
    this.scheduler = scheduler;
    this.#clock = clock;
    this.#ports = ports;
    this.#runCursor = store.lastRunId();
  }

  static open(options: LoopServiceOptions): LoopService {
    const store = JobStore.open({ file: options.config.proactive.database });
    try {
      const ports: LoopPorts = { ...options.ports, store };
      const clock = options.clock ?? systemClock;
      const actions =
        options.actions?.(ports) ?? createBuiltinActions(ports, resolveSettings(options.config));
      checkConfiguredArgs(options.config.proactive.actions, actions);
      const scheduler = new Scheduler({
        store,
        clock,
        actions,
        schedules: options.schedules ?? resolveSchedules(options.config.proactive),
        concurrency: options.config.proactive.concurrency,
        pollMs: options.config.proactive.pollMs,
        logger: options.logger ?? createSilentLogger(),
        ...(options.owner === undefined ? {} : { owner: options.owner }),
        ...(options.onRun === undefined ? {} : { onRun: options.onRun }),
      });
      return new LoopService(store, scheduler, clock, ports);
    } catch (error) {
      store.close();
      throw error;
    }
  }

  get running(): boolean {
    return this.#running;
  }

  /** Starts the timers; returns how many loop starts the database has seen (1 on the first ever). */
  start(): number {
    const starts = this.scheduler.start();
    this.#running = true;
    return starts;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.scheduler.stop();
  }

  /** Stops and closes the database. */
  async close(): Promise<void> {
    await this.stop();
    this.store.close();
  }

  /** Records a user's turn: an active user gets no suggestion. */
  touchUser(userId: string): void {
    this.store.touchUser(userId, this.#clock.now());
  }

  /** Queues a run of an action now. */
  run(action: string, args?: unknown): Job {
    return this.scheduler.enqueue(action, args);
  }

  /**
   * Puts an event on the bus (`model_error`, `config_changed`, custom names): a job for each action listening
   * for it, in the database, so whichever loop process is running picks it up. Same `dedupeKey`, one job.
   */
  emit(name: string, payload?: unknown, options: { dedupeKey?: string } = {}): Job[] {
    return this.scheduler.emit(name, payload, options);
  }

  /** Listens to the bus (the notifications feed wakes on `notification`). */
  subscribe(listener: (event: LoopEvent) => void): () => void {
    return this.scheduler.subscribe(listener);
  }

  /**
   * Runs this process's pruner now, outside the schedule (`POST /v1/loop/prune`: what `sarai loop`'s `prune`
   * asks the server for). Nothing to prune here (no pruner port) is a report with nothing in it.
   */
  prune(options: PruneOptions = {}, signal?: AbortSignal): Promise<PruneReport> {
    const rss = () => this.#ports.readings.rssBytes();
    if (this.#ports.pruner === undefined) {
      const now = rss();
      return Promise.resolve({
        unloadedModels: [],
        droppedCaches: [],
        rssBeforeBytes: now,
        rssAfterBytes: now,
        errors: [],
      });
    }
    return pruneWith(this.#ports.pruner, rss, options, signal);
  }

  /** This process's memory readings, as its RAM check sees them (injected ones in tests). */
  memoryReadings(): { rssBytes: number; availableMemoryBytes: number } {
    return {
      rssBytes: this.#ports.readings.rssBytes(),
      availableMemoryBytes: this.#ports.readings.availableMemoryBytes(),
    };
  }

  /**
   * Runs recorded in the database since the service opened or the previous call, by any process, oldest first:
   * the server's metrics count each one once, whether this server's loop or `sarai loop` ran it.
   */
  takeRecordedRuns(): ReturnType<JobStore["runsAfter"]> {
    const runs = this.store.runsAfter(this.#runCursor);
    const last = runs.at(-1);
    if (last !== undefined) this.#runCursor = last.id;
    return runs;
  }

  /** Notifies a user at once, idle or not (a repair's outcome for the admin). */
  notify(userId: string, kind: string, text: string, data?: unknown): Notification {
    return this.store.notify({ userId, kind, text, data: data ?? null, createdAt: this.#clock.now() });
  }

  notifications(userId: string, afterId = 0, limit = 100): Notification[] {
    return this.store.notifications(userId, afterId, limit);
  }

  status(): LoopStatus {
    const now = this.#clock.now();
    const lastRuns = new Map<string, RunRecord>();
    for (const run of this.store.runs({ limit: 1000 }))
      if (!lastRuns.has(run.action)) lastRuns.set(run.action, run);
    const processes = this.store.starts();
    const startCount = this.store.startCount();
    return {
      owner: this.scheduler.owner,
      running: this.#running,
      now,
      actions: this.scheduler.describe().map((action) => ({
        name: action.name,
        description: action.description,
        schedule: action.schedule?.schedule ?? null,
        on: action.schedule?.on ?? [],
        priority: action.schedule?.priority ?? null,
        enabled: action.schedule !== undefined,
        nextRunAt: action.nextRunAt ?? null,
        lastRun: lastRuns.get(action.name) ?? null,
      })),
      processes,
      restarts: Math.max(0, startCount - 1),
    };
  }
}

/**
 * Checks `proactive.actions.<name>.args` against each action's own schema, disabled actions included (the
 * scheduler checks the enabled ones again): a mistake is a config error naming its path.
 */
function checkConfiguredArgs(
  configured: ResolvedConfig["proactive"]["actions"],
  actions: readonly ActionDefinition<unknown>[],
): void {
  for (const [name, override] of Object.entries(configured)) {
    if (override?.args === undefined) continue;
    const action = actions.find((a) => a.name === name);
    if (action === undefined) continue;
    const parsed = action.args.safeParse(override.args);
    if (parsed.success) continue;
    const issue = parsed.error.issues[0];
    const where = [name, "args", ...(issue?.path ?? []).map(String)].join(".");
    throw new AppError("CONFIG_INVALID", `proactive.actions.${where}: ${issue?.message ?? "invalid"}`);
  }
}
