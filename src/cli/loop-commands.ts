import type { Command } from "commander";
import { loopEventName, type LoadedConfig, type ResolvedConfig } from "../config/index.js";
import { EntityStore } from "../memory/index.js";
import {
  createEntityMemoryPort,
  createLoopbackLearning,
  createLoopbackModelServer,
  createLoopbackSuggester,
  createSystemReadings,
  liveLoopProcesses,
  loopAliveMs,
  LoopService,
  pickLoopApiKey,
  resolveSchedules,
  type ImageCachePort,
  type Job,
  type LoopStatus,
  type RunRecord,
} from "../proactive/index.js";
import { AppError, createLogger, isAppError } from "../shared/index.js";
import { printTable } from "./print-table.js";
import { UsageError } from "./usage-error.js";

interface RunFlags {
  args?: string;
  wait: boolean;
  timeout: string;
  json?: boolean;
}

/**
 * `sarai loop`: the proactive loop as its own process (under a supervisor), and its admin commands, which read
 * and write the loop database directly (no server needed).
 */
export function registerLoopCommands(program: Command, loadConfigured: () => LoadedConfig): void {
  const loop = program
    .command("loop")
    .description(
      "the proactive loop: run it as its own process (the default), status, run <action>, emit <event>, history",
    );

  loop
    .command("start", { isDefault: true })
    .description(
      "run the loop in this process until SIGTERM/SIGINT; model work goes to the server (proactive.serverUrl)",
    )
    .action(async () => {
      await runLoopProcess(loadConfigured());
    });

  loop
    .command("status")
    .description("actions with their next and last run, loop processes with their heartbeat, restarts")
    .option("--json", "print JSON")
    .action((flags: { json?: boolean }) => {
      withLoop(loadConfigured().config, (service) => {
        const status = service.status();
        if (flags.json === true) printJson(withHeartbeatAges(status));
        else printStatus(status);
      });
    });

  loop
    .command("run")
    .description(
      "queue a run of an action now and wait for its outcome; a running loop picks it up, else it runs here",
    )
    .argument("<action>", "an action name (sarai loop status lists them)")
    .option("--args <json>", "the action's arguments as a JSON object (default: the configured ones)")
    .option("--no-wait", "only queue the run; print the job and return")
    .option("--timeout <seconds>", "how long to wait for the outcome (default 120)", "120")
    .option("--json", "print JSON")
    .action(async (action: string, flags: RunFlags) => {
      const args = parseArgsFlag(flags.args);
      const timeoutMs = parsePositive("--timeout")(flags.timeout) * 1000;
      const { config } = loadConfigured();
      // The memory port is only used when the run happens here; a live loop uses its own connection.
      const memoryStore = openMemory(config);
      const service = LoopService.open({
        config,
        ports: processPorts(config, memoryStore),
        // Run here, the pass that runs the job must not also run the schedule (an idle_check would find users
        // to suggest to): the cron triggers are left out; events the run emits still run their actions.
        schedules: resolveSchedules(config.proactive).map((schedule) => ({
          ...schedule,
          schedule: undefined,
        })),
      });
      try {
        const job = queue(service, action, args);
        if (!flags.wait) {
          if (flags.json === true) printJson(job);
          else process.stdout.write(`queued job #${job.id} (${job.action})\n`);
          return;
        }
        const alive = liveLoopProcesses(service.status()).length > 0;
        // No loop to pick it up: it runs here (with any other job already due in the database).
        if (!alive) await service.scheduler.settle();
        // Run here, a job still pending waits for a retry (backoff) that only a running loop will make.
        const done = await waitForJob(service, job.id, alive ? timeoutMs : 0);
        report(service, done, alive, flags.json === true);
      } finally {
        await service.close();
        memoryStore?.close();
      }
    });

  loop
    .command("emit")
    .description(
      "put an event on the loop's bus: each action listening for it (proactive.actions.<action>.on) gets a job",
    )
    .argument("<name>", "the event's name: 1–64 of a-z, 0-9 and _")
    .option("--data <json>", "the event's payload as a JSON object, which the actions see")
    .option("--json", "print JSON")
    .action((name: string, flags: { data?: string; json?: boolean }) => {
      if (!loopEventName.test(name)) {
        throw new UsageError(`<name>: "${name}" is not an event name (1–64 of a-z, 0-9 and _)`);
      }
      const data = parseJsonObject("--data", flags.data);
      withLoop(loadConfigured().config, (service) => {
        const jobs = service.emit(name, data);
        const alive = liveLoopProcesses(service.status()).length > 0;
        if (flags.json === true) {
          printJson({ name, jobs, loopAlive: alive });
          return;
        }
        if (jobs.length === 0) {
          process.stdout.write(`no action listens for "${name}" (proactive.actions.<action>.on)\n`);
          return;
        }
        for (const job of jobs) process.stdout.write(`queued job #${job.id} (${job.action}) on ${name}\n`);
        if (!alive) process.stdout.write("no loop is running: they run when one starts\n");
      });
    });

  loop
    .command("history")
    .description("the latest runs (attempts), newest first")
    .option("--action <name>", "only this action's runs")
    .option("--limit <n>", "how many (default 20)", "20")
    .option("--json", "print JSON")
    .action((flags: { action?: string; limit: string; json?: boolean }) => {
      const limit = parsePositive("--limit")(flags.limit);
      withLoop(loadConfigured().config, (service) => {
        if (flags.action !== undefined) assertKnownAction(service, flags.action);
        const runs = service.store.runs({
          ...(flags.action === undefined ? {} : { action: flags.action }),
          limit: Math.floor(limit),
        });
        if (flags.json === true) printJson(runs);
        else printHistory(runs);
      });
    });
}

/** Runs the loop until SIGTERM or SIGINT, then stops it cleanly (exit 0). Nothing goes to stdout. */
async function runLoopProcess(loaded: LoadedConfig): Promise<void> {
  const { config } = loaded;
  if (!config.proactive.enabled) {
    throw new UsageError("the proactive loop is off (proactive.enabled: false); nothing to run");
  }
  const appLogger = await createLogger({
    level: config.log.level,
    // stdout stays empty: supervisors capture stderr, and the log file is written when log.file is on.
    console: "stderr",
    dir: config.log.file ? config.paths.logDir : undefined,
    maxSizeMb: config.log.maxSizeMb,
    maxFiles: config.log.maxFiles,
  });
  const logger = appLogger.logger;
  const memoryStore = openMemory(config);
  let service: LoopService | undefined;
  try {
    service = LoopService.open({ config, ports: processPorts(config, memoryStore), logger });
    const starts = service.start();
    logger.info(
      {
        starts,
        restarts: starts - 1,
        pid: process.pid,
        owner: service.scheduler.owner,
        database: config.proactive.database,
        serverUrl: config.proactive.serverUrl,
      },
      `proactive loop started (start ${starts} on this database)`,
    );
    const signal = await new Promise<string>((resolve) => {
      process.once("SIGTERM", () => resolve("SIGTERM"));
      process.once("SIGINT", () => resolve("SIGINT"));
    });
    logger.info({ signal }, "proactive loop stopping");
  } finally {
    await service?.close();
    memoryStore?.close();
  }
  logger.info("proactive loop stopped");
  await appLogger.dispose();
}

/**
 * The ports of a process that holds no model: real readings, its own connection to the memory database, and the
 * server (`proactive.serverUrl`) for everything about the models: suggestions, the RSS the RAM check compares
 * (this process's own is small and says nothing) and `prune`, which runs the server's pruner.
 */
function processPorts(config: ResolvedConfig, memoryStore: EntityStore | undefined) {
  const key = pickLoopApiKey(config.server.apiKeys);
  const target = { serverUrl: config.proactive.serverUrl, apiKey: key?.key };
  return {
    readings: createSystemReadings(),
    memory: memoryStore === undefined ? undefined : createEntityMemoryPort(memoryStore),
    suggester: createLoopbackSuggester({
      ...target,
      // A key bound to a user acts as that user whatever is sent; an unbound one acts as `sarai-loop`.
      user: key?.user === undefined ? "sarai-loop" : undefined,
    }),
    server: createLoopbackModelServer(target),
    // The adapter trains where the main model runs: in the server.
    learning:
      config.learning.enabled && config.learning.lora.enabled && config.models.main?.remote === undefined
        ? createLoopbackLearning(target)
        : undefined,
    imageCache: config.vision.enabled && config.vision.cache.enabled ? imageCachePort(config) : undefined,
    logDir: config.paths.logDir,
    stateDir: config.paths.stateDir,
  };
}

/**
 * The image cache's expiry from this process: the cache is opened for the run and closed after it. Imported on
 * first use, so that starting `sarai loop` does not load sharp (the restart time under a supervisor counts).
 */
function imageCachePort(config: ResolvedConfig): ImageCachePort {
  return {
    async expire() {
      const { ImageCache } = await import("../vision/index.js");
      const warnings: string[] = [];
      const cache = ImageCache.open({
        dir: config.vision.cache.dir,
        ttlMs: config.vision.cache.ttlDays * 86_400_000,
        maxBytes: config.vision.cache.maxMb * 2 ** 20,
        hammingThreshold: config.vision.cache.hammingThreshold,
        onWarning: (message, error) =>
          warnings.push(error instanceof Error ? `${message}: ${error.message}` : message),
      });
      try {
        // A cache that could not open its file (locked past the wait, a newer schema) runs in memory: expiring
        // that would report success for nothing. The run fails with the reason instead.
        if (warnings.length > 0)
          throw new Error(`the image cache could not be opened: ${warnings.join("; ")}`);
        return cache.expire();
      } finally {
        cache.close();
      }
    },
  };
}

function openMemory(config: ResolvedConfig): EntityStore | undefined {
  if (!config.memory.enabled) return undefined;
  return EntityStore.open({ file: config.memory.database, synchronous: config.memory.synchronous });
}

/** Opens the loop database with the built-in actions (never started: no timers, no recorded start). */
function withLoop(config: ResolvedConfig, body: (service: LoopService) => void): void {
  const service = LoopService.open({ config, ports: processPorts(config, undefined) });
  try {
    body(service);
  } finally {
    service.store.close();
  }
}

function queue(service: LoopService, action: string, args: unknown): Job {
  try {
    return service.run(action, args);
  } catch (error) {
    // An unknown action or arguments that fail the action's schema are usage errors (exit 2).
    if (isAppError(error) && (error.code === "NOT_FOUND" || error.code === "INVALID_REQUEST")) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}

function assertKnownAction(service: LoopService, action: string): void {
  const names = service.scheduler.describe().map((a) => a.name);
  if (!names.includes(action)) {
    throw new UsageError(`--action: no action named "${action}"; known: ${names.join(", ")}`);
  }
}

function parseArgsFlag(text: string | undefined): unknown {
  return parseJsonObject("--args", text);
}

function parseJsonObject(flag: string, text: string | undefined): unknown {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${flag}: not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`${flag}: must be a JSON object, e.g. '{"days": 30}'`);
  }
  return parsed;
}

/** Checked in the action rather than by commander, whose argument errors exit 1: usage errors exit 2. */
function parsePositive(name: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) {
      throw new UsageError(`${name} must be a number above 0, got "${value}"`);
    }
    return parsed;
  };
}

const finished = new Set<Job["status"]>(["succeeded", "failed", "skipped"]);

/** Polls the job until it finished for good (retries included) or `timeoutMs` passed. */
async function waitForJob(service: LoopService, id: number, timeoutMs: number): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = service.store.get(id);
    if (job === undefined) throw new AppError("NOT_FOUND", `job #${id} is gone from the loop database`);
    if (finished.has(job.status) || Date.now() >= deadline) return job;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function report(service: LoopService, job: Job, ranByLoop: boolean, json: boolean): void {
  const runs = service.store.runs({ action: job.action, limit: 50 }).filter((run) => run.jobId === job.id);
  const where = ranByLoop ? "by the running loop" : "in this process (no loop is running)";
  if (json) {
    printJson({ job, runs, ranBy: ranByLoop ? "loop" : "cli" });
  } else if (!finished.has(job.status)) {
    const failed = job.lastError !== null;
    process.stdout.write(
      failed
        ? `${job.action} failed (attempt ${job.attempts}) ${where}: ${job.lastError}; ` +
            `a running loop retries it at ${formatTime(job.executeAt)} (job #${job.id})\n`
        : `${job.action} is still ${job.status} (job #${job.id}); see \`sarai loop history\`\n`,
    );
  } else {
    const last = runs[0];
    const duration = last === undefined ? "" : ` in ${formatDuration(last.durationMs)}`;
    const detail =
      job.status === "succeeded" ? JSON.stringify(job.result) : (job.lastError ?? "no error recorded");
    process.stdout.write(`${job.action} ${job.status}${duration} ${where}: ${detail}\n`);
  }
  if (job.status !== "succeeded") process.exitCode = 1;
}

function withHeartbeatAges(status: LoopStatus) {
  return {
    ...status,
    processes: status.processes.map((p) => ({
      ...p,
      heartbeatAgeMs: status.now - p.heartbeatAt,
      alive: status.now - p.heartbeatAt < loopAliveMs,
    })),
  };
}

function printStatus(status: LoopStatus): void {
  const alive = liveLoopProcesses(status);
  process.stdout.write(
    `loop: ${alive.length === 0 ? "no process running" : `${alive.length} process(es) running`}` +
      `, ${status.restarts} restart(s) recorded\n\n`,
  );
  printTable(
    ["action", "schedule", "priority", "next run", "last run", "outcome"],
    status.actions.map((a) => [
      a.name,
      a.enabled
        ? [a.schedule, ...a.on.map((e) => `on ${e}`)].filter(Boolean).join(", ") || "manual"
        : "disabled",
      a.priority === null ? "-" : String(a.priority),
      a.nextRunAt === null ? "-" : formatTime(a.nextRunAt),
      a.lastRun === null ? "-" : formatTime(a.lastRun.startedAt),
      a.lastRun === null
        ? "-"
        : `${a.lastRun.outcome}${a.lastRun.error === null ? "" : `: ${truncate(a.lastRun.error, 60)}`}`,
    ]),
  );
  if (status.processes.length > 0) {
    process.stdout.write("\n");
    printTable(
      ["pid", "owner", "started", "heartbeat", "state"],
      status.processes.map((p) => [
        String(p.pid),
        p.owner,
        formatTime(p.startedAt),
        `${formatDuration(status.now - p.heartbeatAt)} ago`,
        status.now - p.heartbeatAt < loopAliveMs ? "alive" : "gone",
      ]),
    );
  }
}

function printHistory(runs: RunRecord[]): void {
  if (runs.length === 0) {
    process.stdout.write("no runs recorded\n");
    return;
  }
  printTable(
    ["started", "action", "trigger", "attempt", "outcome", "duration", "detail"],
    runs.map((run) => [
      formatTime(run.startedAt),
      run.action,
      run.trigger,
      String(run.attempt),
      run.outcome,
      formatDuration(run.durationMs),
      truncate(run.error ?? JSON.stringify(run.result) ?? "", 80),
    ]),
  );
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
