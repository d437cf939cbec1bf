import type { ResolvedConfig } from "../config/index.js";
import { createSilentLogger, type Logger } from "../shared/index.js";
import { createBuiltinActions } from "./actions/index.js";
import { resolveSchedules, resolveSettings } from "./defaults.js";
import { JobStore, type Job, type Notification, type RunRecord } from "./job-store.js";
import type { LoopPorts } from "./ports.js";
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
  #running = false;

  private constructor(store: JobStore, scheduler: Scheduler, clock: Clock) {
    this.store = store;
    this.scheduler = scheduler;
    this.#clock = clock;
  }

  static open(options: LoopServiceOptions): LoopService {
    const store = JobStore.open({ file: options.config.proactive.database });
    try {
      const ports: LoopPorts = { ...options.ports, store };
      const clock = options.clock ?? systemClock;
      const scheduler = new Scheduler({
        store,
        clock,
        actions: options.actions?.(ports) ?? createBuiltinActions(ports, resolveSettings(options.config)),
        schedules: options.schedules ?? resolveSchedules(options.config.proactive),
        concurrency: options.config.proactive.concurrency,
        pollMs: options.config.proactive.pollMs,
        logger: options.logger ?? createSilentLogger(),
        ...(options.owner === undefined ? {} : { owner: options.owner }),
        ...(options.onRun === undefined ? {} : { onRun: options.onRun }),
      });
      return new LoopService(store, scheduler, clock);
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
