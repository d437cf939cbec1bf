import { randomUUID } from "node:crypto";
import { Cron } from "croner";
import type { z } from "zod";
import { AppError, createSilentLogger, type Logger } from "../shared/index.js";
import type { Job, JobStore, RunRecord } from "./job-store.js";

/** Where the loop reads the time: the system clock, or a manual one that tests move (a simulated day). */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  #time: number;
  constructor(start: number) {
    this.#time = start;
  }
  now(): number {
    return this.#time;
  }
  set(time: number): void {
    this.#time = time;
  }
  advance(ms: number): void {
    this.#time += ms;
  }
}

/** An event on the loop's bus: what triggered an event-driven job. */
export interface LoopEvent {
  name: string;
  payload?: unknown;
}

export interface ActionContext<A> {
  /** The action's arguments from config (or the manual run). */
  args: A;
  /** The event that triggered this run, for event-driven jobs. */
  event: LoopEvent | undefined;
  /** Fires when the run times out or the loop stops. */
  signal: AbortSignal;
  /** The loop's clock. */
  now(): number;
  /** Puts an event on the bus (e.g. `ram_high` from the RAM check). */
  emit(name: string, payload?: unknown, options?: EmitOptions): void;
  job: Job;
  logger: Logger;
}

/** A built-in or custom action: what the loop can run. */
export interface ActionDefinition<A = unknown> {
  name: string;
  description: string;
  /** Validates the arguments given in config or to a manual run. */
  args: z.ZodType<A>;
  /** Returns a JSON-able summary recorded with the run (what was done, MB saved, …). */
  run(context: ActionContext<A>): Promise<unknown>;
}

/** What to do with schedule slots that passed while no loop ran. */
export type CatchUpPolicy = "skip" | "latest" | "all";

/** When and how one action runs. */
export interface ActionSchedule {
  action: string;
  /** Cron: `@hourly`, `@daily`, `@weekly` or five fields. */
  schedule?: string | undefined;
  /** Events that trigger it. */
  on?: readonly string[] | undefined;
  /** 1–10; higher runs first. */
  priority: number;
  timeoutMs: number;
  /** Extra attempts after a failure or timeout. */
  retries: number;
  /** Wait before the first retry; doubles each time. */
  backoffMs: number;
  catchUp: CatchUpPolicy;
  args: unknown;
}

export interface EmitOptions {
  /** Events with the same key trigger one job per action, whichever process emits them. */
  dedupeKey?: string;
}

/** One finished attempt, for metrics and logs. */
export interface RunReport {
  action: string;
  trigger: string;
  outcome: RunRecord["outcome"];
  durationMs: number;
  error?: string;
}

export interface SchedulerOptions {
  store: JobStore;
  actions: readonly ActionDefinition<unknown>[];
  schedules: readonly ActionSchedule[];
  clock?: Clock;
  /** Runs at once, at most. */
  concurrency: number;
  /** This process's name in leases and history. Default: a random id. */
  owner?: string;
  logger?: Logger;
  /** A slot older than this when first seen counts as missed (catch-up policy). Default 60 s. */
  graceMs?: number;
  /** Most missed slots one action runs under `catchUp: all`. Default 24. */
  maxCatchUp?: number;
  /** How often the running loop looks for due work (real time). Default 1 s. */
  pollMs?: number;
  onRun?: (report: RunReport) => void;
}

interface JobArgs {
  args: unknown;
  event?: LoopEvent;
}

/**
 * The proactive loop: cron and event triggers, persisted jobs, bounded concurrency, priorities, per-run
 * timeouts, retries with backoff and a history of every attempt. Any number of schedulers (processes) may share
 * one `JobStore`: each schedule slot and each deduplicated event runs once.
 */
export class Scheduler {
  readonly owner: string;
  readonly #store: JobStore;
  readonly #actions: Map<string, ActionDefinition<unknown>>;
  readonly #schedules: Map<string, ActionSchedule>;
  readonly #crons = new Map<string, Cron>();
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #options: SchedulerOptions;
  readonly #inFlight = new Map<number, Promise<void>>();
  readonly #listeners = new Set<(event: LoopEvent) => void>();
  readonly #stopping = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<number> | undefined;
  #started = false;

  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? createSilentLogger();
    this.owner = options.owner ?? `loop-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.#actions = new Map(options.actions.map((a) => [a.name, a]));
    this.#schedules = new Map();
    for (const schedule of options.schedules) {
      const action = this.#actions.get(schedule.action);
      if (action === undefined) {
        throw new AppError("CONFIG_INVALID", `proactive.actions.${schedule.action}: no such action`);
      }
      const args = action.args.safeParse(schedule.args);
      if (!args.success) {
        const issue = args.error.issues[0];
        const where = [schedule.action, "args", ...(issue?.path ?? []).map(String)].join(".");
        throw new AppError("CONFIG_INVALID", `proactive.actions.${where}: ${issue?.message ?? "invalid"}`);
      }
      this.#schedules.set(schedule.action, { ...schedule, args: args.data });
      if (schedule.schedule !== undefined) this.#crons.set(schedule.action, parseCron(schedule.schedule));
    }
  }

  get clock(): Clock {
    return this.#clock;
  }

  get store(): JobStore {
    return this.#store;
  }

  /** Action names with their descriptions and schedules. */
  describe(): { name: string; description: string; schedule?: ActionSchedule; nextRunAt?: number }[] {
    const now = this.#clock.now();
    const pending = this.#store.nextRuns();
    return [...this.#actions.values()].map((action) => {
      const schedule = this.#schedules.get(action.name);
      const cronNext = this.#crons.get(action.name)?.nextRun(new Date(now))?.getTime();
      const next = [pending.get(action.name), cronNext].filter((t): t is number => t !== undefined);
      return {
        name: action.name,
        description: action.description,
        ...(schedule === undefined ? {} : { schedule }),
        ...(next.length === 0 ? {} : { nextRunAt: Math.min(...next) }),
      };
    });
  }

  /** Starts polling with real timers; records the start (restarts are counted from these). */
  start(): number {
    if (this.#started) throw new AppError("INTERNAL", "the loop is already running");
    this.#started = true;
    const starts = this.#store.recordStart(this.owner, process.pid, this.#clock.now());
    const poll = () => {
      this.#store.heartbeat(this.owner, this.#clock.now());
      void this.tick().catch((error: unknown) => this.#logger.error({ err: error }, "loop tick failed"));
    };
    this.#timer = setInterval(poll, this.#options.pollMs ?? 1000);
    poll();
    return starts;
  }

  /** Stops polling, aborts running actions and waits for them to settle. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#stopping.abort(new AppError("SHUTTING_DOWN", "the proactive loop is stopping"));
    await this.#ticking?.catch(() => 0);
    await Promise.allSettled(this.#inFlight.values());
  }

  /** Listens to every event on the bus (the notifications feed, tests). Returns the unsubscribe function. */
  subscribe(listener: (event: LoopEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Puts an event on the bus: each action listening for it gets a job, run as soon as a slot is free. */
  emit(name: string, payload?: unknown, options: EmitOptions = {}): Job[] {
    const now = this.#clock.now();
    const created: Job[] = [];
    for (const schedule of this.#schedules.values()) {
      if (schedule.on?.includes(name) !== true) continue;
      const job = this.#store.insert({
        action: schedule.action,
        trigger: `event:${name}`,
        slot: `event:${name}:${options.dedupeKey ?? randomUUID()}`,
        priority: schedule.priority,
        args: { args: schedule.args, event: { name, payload } } satisfies JobArgs,
        executeAt: now,
        createdAt: now,
      });
      if (job !== undefined) created.push(job);
    }
    for (const listener of this.#listeners) {
      try {
        listener({ name, payload });
      } catch (error) {
        this.#logger.warn({ err: error, event: name }, "a loop event listener failed");
      }
    }
    if (created.length > 0 && this.#started) void this.tick().catch(() => undefined);
    return created;
  }

  /** Queues one run of an action now (admin `loop run`), with its configured or given arguments. */
  enqueue(actionName: string, args?: unknown): Job {
    const action = this.#actions.get(actionName);
    if (action === undefined) {
      throw new AppError(
        "NOT_FOUND",
        `no action named "${actionName}"; known: ${[...this.#actions.keys()].join(", ")}`,
        { param: "action" },
      );
    }
    const schedule = this.#schedules.get(actionName);
    const parsed = action.args.safeParse(args ?? schedule?.args ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = ["args", ...(issue?.path ?? []).map(String)].join(".");
      throw new AppError("INVALID_REQUEST", `${where}: ${issue?.message ?? "invalid arguments"}`, {
        param: where,
      });
    }
    const now = this.#clock.now();
    const job = this.#store.insert({
      action: actionName,
      trigger: "manual",
      slot: `manual:${randomUUID()}`,
      priority: schedule?.priority ?? 5,
      args: { args: parsed.data } satisfies JobArgs,
      executeAt: now,
      createdAt: now,
    });
    if (job === undefined) throw new AppError("INTERNAL", "could not queue the manual run");
    if (this.#started) void this.tick().catch(() => undefined);
    return job;
  }

  /**
   * One pass: records the cron slots that came due (applying each action's catch-up policy to slots missed
   * while no loop ran) and starts due jobs up to the concurrency bound. Returns how many jobs it started.
   */
  tick(): Promise<number> {
    // One pass at a time per process; a caller arriving meanwhile gets the next pass.
    const previous = this.#ticking ?? Promise.resolve(0);
    const next = previous.catch(() => 0).then(() => this.#tickOnce());
    this.#ticking = next;
    return next;
  }

  /** Ticks until nothing is due and nothing runs: what a simulated clock needs after each step. */
  async settle(): Promise<void> {
    for (;;) {
      const started = await this.tick();
      if (started === 0 && this.#inFlight.size === 0) return;
      if (this.#inFlight.size > 0) await Promise.race(this.#inFlight.values());
    }
  }

  #tickOnce(): number {
    if (this.#stopping.signal.aborted) return 0;
    const now = this.#clock.now();
    for (const [action, cron] of this.#crons) this.#materialize(action, cron, now);
    const free = this.#options.concurrency - this.#inFlight.size;
    if (free <= 0) return 0;
    const jobs = this.#store.claimDue(
      now,
      this.owner,
      (job) => (this.#schedules.get(job.action)?.timeoutMs ?? 60_000) + 30_000,
      free,
    );
    for (const job of jobs) {
      const run = this.#run(job).finally(() => this.#inFlight.delete(job.id));
      this.#inFlight.set(job.id, run);
    }
    return jobs.length;
  }

  #materialize(action: string, cron: Cron, now: number): void {
    const schedule = this.#schedules.get(action);
    if (schedule === undefined) return;
    const last = this.#store.lastCronSlot(action);
    if (last === undefined) {
      // A new action starts with its next slot; there is nothing to catch up on.
      const first = cron.previousRuns(1, new Date(now + 1))[0]?.getTime();
      if (first !== undefined && first >= now - (this.#options.graceMs ?? 60_000)) {
        this.#insertSlot(schedule, first, now);
      } else {
        // Anchor the history at now, so later ticks enumerate only slots after it.
        this.#insertSlot(schedule, now, now, "skipped", "first start: slots before it were never due");
      }
      return;
    }
    const slots: number[] = [];
    let cursor = last;
    for (;;) {
      const next = cron.nextRun(new Date(cursor))?.getTime();
      if (next === undefined || next > now) break;
      slots.push(next);
      cursor = next;
      // Minutely cron over a long outage: the policies need only the newest ones.
      if (slots.length > 10_000) slots.shift();
    }
    if (slots.length === 0) return;
    const graceMs = this.#options.graceMs ?? 60_000;
    const missed = slots.filter((t) => t < now - graceMs);
    const due = slots.filter((t) => t >= now - graceMs);
    const run =
      schedule.catchUp === "all"
        ? missed.slice(-(this.#options.maxCatchUp ?? 24))
        : schedule.catchUp === "latest"
          ? missed.slice(-1)
          : [];
    const skipped = missed.length - run.length;
    if (skipped > 0 && run.length === 0 && due.length === 0) {
      const newest = missed[missed.length - 1] as number;
      this.#insertSlot(
        schedule,
        newest,
        now,
        "skipped",
        `missed ${skipped} slot(s) while no loop ran (catchUp: ${schedule.catchUp})`,
      );
    }
    if (skipped > 0) {
      this.#logger.info({ action, missed: missed.length, run: run.length }, "catching up on missed slots");
    }
    for (const slot of [...run, ...due]) this.#insertSlot(schedule, slot, now);
  }

  #insertSlot(
    schedule: ActionSchedule,
    slot: number,
    now: number,
    status?: "skipped",
    reason?: string,
  ): void {
    const job = this.#store.insert({
      action: schedule.action,
      trigger: `cron:${schedule.schedule ?? ""}`,
      slot: `cron:${slot}`,
      priority: schedule.priority,
      args: { args: schedule.args } satisfies JobArgs,
      executeAt: slot,
      createdAt: now,
    });
    if (job !== undefined && status === "skipped") this.#store.skip([job.id], reason ?? "skipped", now);
  }

  async #run(job: Job): Promise<void> {
    const action = this.#actions.get(job.action);
    const schedule = this.#schedules.get(job.action);
    const startedAt = this.#clock.now();
    const started = performance.now();
    const timeoutMs = schedule?.timeoutMs ?? 60_000;
    const controller = new AbortController();
    const onStop = () => controller.abort(this.#stopping.signal.reason);
    this.#stopping.signal.addEventListener("abort", onStop, { once: true });
    let timer: NodeJS.Timeout | undefined;
    let outcome: RunRecord["outcome"] = "succeeded";
    let result: unknown;
    let error: string | undefined;
    try {
      if (action === undefined) throw new AppError("CONFIG_INVALID", `no action named "${job.action}"`);
      const { args, event } = (job.args ?? { args: {} }) as JobArgs;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort(new AppError("REQUEST_TIMEOUT", `timed out after ${timeoutMs} ms`));
          reject(new TimeoutError(`timed out after ${timeoutMs} ms`));
        }, timeoutMs);
      });
      result = await Promise.race([
        action.run({
          args,
          event,
          signal: controller.signal,
          now: () => this.#clock.now(),
          emit: (name, payload, options) => {
            this.emit(name, payload, options);
          },
          job,
          logger: this.#logger.child({ action: job.action, job: job.id }),
        }),
        timeout,
      ]);
    } catch (thrown) {
      outcome = thrown instanceof TimeoutError ? "timeout" : "failed";
      error = thrown instanceof Error ? thrown.message : String(thrown);
    } finally {
      clearTimeout(timer);
      this.#stopping.signal.removeEventListener("abort", onStop);
    }
    const durationMs = performance.now() - started;
    const now = this.#clock.now();
    const retries = schedule?.retries ?? 0;
    const retryAt =
      outcome !== "succeeded" && job.attempts <= retries && !this.#stopping.signal.aborted
        ? now + (schedule?.backoffMs ?? 1000) * 2 ** (job.attempts - 1)
        : undefined;
    try {
      this.#store.finish(job, this.owner, {
        startedAt,
        durationMs,
        outcome,
        ...(result === undefined ? {} : { result }),
        ...(error === undefined ? {} : { error }),
        ...(retryAt === undefined ? {} : { retryAt }),
        finishedAt: now,
      });
    } catch (storeError) {
      this.#logger.error({ err: storeError, action: job.action }, "could not record a loop run");
    }
    if (outcome !== "succeeded") {
      this.#logger.warn(
        { action: job.action, trigger: job.trigger, attempt: job.attempts, error, retryAt },
        "loop action failed",
      );
    } else {
      this.#logger.debug({ action: job.action, durationMs }, "loop action done");
    }
    this.#options.onRun?.({
      action: job.action,
      trigger: job.trigger,
      outcome,
      durationMs,
      ...(error === undefined ? {} : { error }),
    });
  }
}

class TimeoutError extends Error {}

/** Parses a cron expression (`@hourly`, `@daily`, `@weekly`, five fields); a clear error when it is not one. */
export function parseCron(expression: string): Cron {
  try {
    return new Cron(expression, { paused: true, mode: "5-part" });
  } catch (error) {
    throw new AppError(
      "CONFIG_INVALID",
      `"${expression}" is not a cron expression (five fields, or @hourly, @daily, @weekly): ` +
        (error instanceof Error ? error.message : String(error)),
    );
  }
}
