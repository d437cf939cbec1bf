/**
 * The composition root's self-repair: the repairer from `repair.*`, reading the running parts (log tap, metrics,
 * pool, files) and repairing through them (config store, pool, role router, loop, caches).
 */
import { spawn } from "node:child_process";
import { readdir, readFile, rename, rm, stat, statfs, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ConfigStore, ResolvedConfig } from "./config/index.js";
import {
  parseModelSource,
  pullModel,
  type ModelPool,
  type ModelRole,
  type ResolvedModels,
  type RoleRouter,
} from "./inference/index.js";
import type { Metrics, Readiness } from "./observability/index.js";
import { liveLoopProcesses, type LoopService } from "./proactive/index.js";
import {
  CounterWindow,
  LogTap,
  ModelWatch,
  PatchApplier,
  probeDatabase,
  restoreSnapshotDir,
  snapshotDirFor,
  Repairer,
  RepairHistory,
  type Observation,
  type PatchHealth,
  type PatchOutcome,
  type PatchRequest,
  type RepairActions,
  type RepairConfigPort,
  type RepairRecord,
} from "./repair/index.js";
import { loadTrustedKey, resolveSigningKeyFiles, type AuditSink } from "./security/index.js";
import { AppError, type Logger } from "./shared/index.js";
import type { VisionService } from "./vision/index.js";

/** The running parts the repairer reads and acts on. */
export interface RepairParts {
  readonly configStore: ConfigStore;
  /** The logger's warn-and-above lines; without it the log detectors see nothing. */
  readonly logTap: LogTap | undefined;
  readonly logger: Logger;
  readonly audit: AuditSink;
  readonly metrics: () => Metrics;
  readonly pool: ModelPool;
  readonly router: RoleRouter;
  readonly models: ResolvedModels;
  readonly loop: LoopService | undefined;
  readonly vision: VisionService | undefined;
  /** The memory database file, when memory is on. */
  readonly memoryFile: string | undefined;
  readonly readiness: () => Promise<Readiness>;
}

type Counter = "cacheHits" | "cacheMisses" | "drafted" | "accepted";

/** Self-repair as the app holds it: the repairer, signed patches, and what starts and stops them. */
export interface RepairService {
  readonly repairer: Repairer;
  /** Undefined when `repair.patches.enabled` is false. */
  readonly patches: PatchApplier | undefined;
  /** Applies a signed patch and keeps its outcome in the repair history; `NOT_FOUND` when patches are off. */
  applyPatch(request: PatchRequest): Promise<PatchOutcome>;
  /** Starts the repair passes and the watched patch folder, and confirms a code patch after a restart. */
  start(): void;
  /**
   * A code patch applied with `repair.patches.restartCommand` left `pending.json`: healthy now keeps it,
   * unhealthy restores its snapshot, rebuilds and restarts. `start()` calls it after `healthWindowMs`.
   */
  confirmPending(): Promise<void>;
  dispose(): Promise<void>;
}

/** Self-repair from `repair.*`; undefined when `repair.enabled` is false. */
export function assembleRepair(parts: RepairParts): RepairService | undefined {
  const repairer = assembleRepairer(parts);
  if (repairer === undefined) return undefined;
  const settings = parts.configStore.current.repair.patches;
  const installDir = settings.installDir ?? packageRoot;
  const workDir = path.join(parts.configStore.current.repair.dir, "patches");
  const pendingFile = path.join(workDir, "pending.json");
  // A patched config file is re-read at once; changed code is built, then runs after a restart.
  const switchIn = async (files: readonly string[]): Promise<void> => {
    const reloaded = parts.configStore.reload();
    if (!reloaded.ok) throw reloaded.error;
    if (files.some(isCode) && settings.buildCommand.length > 0)
      await runCommand(settings.buildCommand, installDir, 15 * 60_000);
  };
  const patches = assemblePatches(
    parts.configStore.current,
    parts.audit,
    () => patchHealth(parts.readiness),
    switchIn,
  );
  const restart = (): void => {
    const command = settings.restartCommand;
    if (command === undefined) return;
    // After the response that reported the patch has gone out.
    setTimeout(() => {
      spawn(command[0]!, command.slice(1), { cwd: installDir, detached: true, stdio: "ignore" }).unref();
    }, 1000).unref();
  };
  let stopWatching: (() => Promise<void>) | undefined;
  let confirmTimer: NodeJS.Timeout | undefined;
  const afterApply = async (outcome: PatchOutcome, diffFile: string): Promise<void> => {
    recordPatchOutcome(repairer, outcome, diffFile);
    if (outcome.status !== "applied" || !outcome.files.some(isCode) || settings.restartCommand === undefined)
      return;
    await writeFile(
      pendingFile,
      JSON.stringify({ id: outcome.id, files: outcome.files, diff: path.basename(diffFile) }),
    );
    restart();
  };
  /** After a restart for a code patch: healthy through the window keeps it, else the snapshot comes back. */
  const confirmPending = async (): Promise<void> => {
    const pending = await readFile(pendingFile, "utf8")
      .then((text) => JSON.parse(text) as { id: string; files: string[]; diff: string })
      .catch(() => undefined);
    if (pending === undefined) return;
    const health = await patchHealth(parts.readiness);
    await rm(pendingFile, { force: true });
    const startedAt = Date.now();
    const base = {
      fault: "patch" as const,
      target: pending.diff,
      level: 2 as const,
      evidence: { id: pending.id },
    };
    if (health.ok) {
      repairer.record({
        ...base,
        action: `confirm ${pending.diff} after the restart`,
        result: "applied",
        summary: "the new code started and stayed healthy",
        detail: health.detail,
        startedAt,
        finishedAt: Date.now(),
        rolledBack: false,
      });
      return;
    }
    let detail = `unhealthy after the restart: ${health.detail}`;
    try {
      await restoreSnapshotDir(snapshotDirFor(workDir, pending.id));
      if (settings.buildCommand.length > 0) await runCommand(settings.buildCommand, installDir, 15 * 60_000);
      detail += "; the snapshot is restored and built";
      restart();
    } catch (error) {
      detail += `; restoring failed: ${error instanceof Error ? error.message : String(error)}`;
    }
    repairer.record({
      ...base,
      action: `roll back ${pending.diff} after the restart`,
      result: "rolled_back",
      summary: "the new code was unhealthy",
      detail,
      startedAt,
      finishedAt: Date.now(),
      rolledBack: true,
    });
  };
  return {
    repairer,
    patches,
    async applyPatch(request) {
      if (patches === undefined)
        throw new AppError("NOT_FOUND", "signed patches are off (repair.patches.enabled)");
      const outcome = await patches.apply(request);
      await afterApply(outcome, request.diffFile);
      return outcome;
    },
    confirmPending,
    start() {
      repairer.start();
      confirmTimer = setTimeout(() => void confirmPending(), settings.healthWindowMs);
      confirmTimer.unref();
      const watchDir = settings.watchDir;
      if (patches !== undefined && watchDir !== undefined && stopWatching === undefined)
        stopWatching = patches.watch(watchDir, (outcome, diffFile) => void afterApply(outcome, diffFile));
    },
    async dispose() {
      clearTimeout(confirmTimer);
      await stopWatching?.();
      await repairer.dispose();
    },
  };
}

/** Files whose change needs a build and a restart to take effect. */
function isCode(file: string): boolean {
  return (
    /^(src|web)\//.test(file) || /^package(-lock)?\.json$/.test(file) || /^tsconfig[^/]*\.json$/.test(file)
  );
}

/** Runs a command in `cwd`; rejects with its output's tail when it fails or outlives `timeoutMs`. */
function runCommand(command: readonly string[], cwd: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: timeoutMs,
    });
    let output = "";
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000));
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.once("error", reject);
    child.once("close", (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`${command.join(" ")} failed (${signal ?? code}): ${output.trim().slice(-500)}`)),
    );
  });
}

/** A patch keeps the server healthy while nothing failed (degraded is how the demo model runs). */
async function patchHealth(readiness: () => Promise<Readiness>): Promise<PatchHealth> {
  const result = await readiness();
  const failed = Object.entries(result.components)
    .filter(([, component]) => component.status === "failed")
    .map(([name, component]) => `${name}: ${component.detail}`);
  return failed.length === 0 ? { ok: true, detail: "ready" } : { ok: false, detail: failed.join("; ") };
}

function assembleRepairer(parts: RepairParts): Repairer | undefined {
  const config = parts.configStore.current;
  if (!config.repair.enabled) return undefined;
  const logTap = parts.logTap ?? new LogTap();
  const history = RepairHistory.open(path.join(config.repair.dir, "repair.db"));
  const watch = new ModelWatch(
    Object.entries(parts.models.roles).map(([role, options]) => ({
      role,
      file: options.file,
      pulled: isPulled(config, role as ModelRole),
    })),
    history,
  );
  const counters = new CounterWindow<Counter>(
    2 * (config.repair.windowMs + config.repair.verifyMs + config.repair.intervalMs),
  );
  const sampleCounters = async (at: number) => {
    const m = parts.metrics();
    const cache = parts.vision?.stats();
    counters.sample(at, {
      cacheHits: cache?.hits ?? 0,
      cacheMisses: cache?.misses ?? 0,
      drafted: await counterValue(m.speculativeDraftedTokens),
      accepted: await counterValue(m.speculativeAcceptedTokens),
    });
  };
  void sampleCounters(Date.now());

  // The loop is expected to run when this server runs it, or once a loop process was seen alive beside it: one
  // that has not started yet (supervisor starts it after the server) is not a crash.
  let loopSeenAlive = false;
  const observeLoop = (current: ResolvedConfig): Observation["loop"] => {
    const status = parts.loop?.status();
    if (status === undefined) return undefined;
    const alive = liveLoopProcesses(status).length > 0;
    loopSeenAlive ||= alive;
    if (!current.proactive.inServer && !loopSeenAlive) return undefined;
    const last = status.processes[0];
    return {
      alive,
      detail:
        last === undefined
          ? "no loop process has started"
          : `last heartbeat ${Math.round((status.now - last.heartbeatAt) / 1000)} s ago (pid ${last.pid})`,
    };
  };

  const observe = async (since: number): Promise<Observation> => {
    const current = parts.configStore.current;
    const now = Date.now();
    await sampleCounters(now);
    const delta = counters.delta(since);
    const disk = await statfs(current.paths.stateDir);
    const statuses = await parts.pool.detailedStatus();
    const loop = observeLoop(current);
    const speculating =
      current.inference.speculative.enabled &&
      parts.pool.hasRole("draft") &&
      parts.router.servingRole("main") === "main";
    return {
      at: now,
      logs: logTap.since(since),
      ram: { rssBytes: process.memoryUsage().rss, budgetBytes: current.inference.ramBudgetMb * 2 ** 20 },
      queues: statuses.map((s) => ({
        role: s.role,
        waiting: s.waiting ?? 0,
        maxQueue: current.server.maxQueue,
      })),
      disk: { path: current.paths.stateDir, freeBytes: disk.bavail * disk.bsize },
      databases: parts.memoryFile === undefined ? [] : [await probeDatabase("memory", parts.memoryFile)],
      models: await watch.probe(),
      redirects: parts.router.redirects(),
      ...(parts.vision?.stats() === undefined || delta === undefined
        ? {}
        : { imageCache: { lookups: delta.cacheHits + delta.cacheMisses, hits: delta.cacheHits } }),
      ...(speculating && delta !== undefined
        ? { speculative: { drafted: delta.drafted, accepted: delta.accepted } }
        : {}),
      ...(loop === undefined ? {} : { loop }),
    };
  };

  const repairer = new Repairer({
    config: toRepairConfigPort(parts.configStore),
    observe,
    actions: createRepairActions(parts, watch),
    history,
    audit: parts.audit,
    logger: parts.logger.child({ component: "repair" }),
    onRecord: (record) => recordRepair(parts.metrics(), record),
    notify: (text, record) =>
      parts.loop?.notify(parts.configStore.current.repair.notifyUser, "repair", text, {
        id: record.id,
        fault: record.fault,
        result: record.result,
      }),
    onCheck: (faults) => {
      const gauge = parts.metrics().repairFaults;
      gauge.reset();
      for (const fault of faults) gauge.inc({ fault: fault.fault });
    },
    onDispose: () => history.close(),
  });
  return repairer;
}

function toRepairConfigPort(store: ConfigStore): RepairConfigPort {
  const result = (r: ReturnType<ConfigStore["apply"]>) =>
    r.ok ? ({ ok: true } as const) : ({ ok: false, message: r.error.message } as const);
  return {
    current: () => store.current,
    apply: (patch, persist) =>
      result(store.apply(patch, { persist: persist && store.loaded.file !== undefined })),
    withdraw: (patch) => result(store.withdraw(patch)),
    subscribe: (listener) => store.subscribe(listener),
  };
}

/** Whether the role's model was downloaded by SARAi (an alias, `hf:` or URL source, or the default). */
function isPulled(config: ResolvedConfig, role: ModelRole): boolean {
  const source = config.models[role]?.source ?? (role === "main" ? config.models.default : undefined);
  if (source === undefined) return false;
  try {
    return parseModelSource(source).kind !== "file";
  } catch {
    return false;
  }
}

function createRepairActions(parts: RepairParts, watch: ModelWatch): RepairActions {
  const config = () => parts.configStore.current;
  const hasFallback = parts.pool.hasRole("fallback") || config().models.fallback?.remote !== undefined;
  return {
    unloadIdleModels: async () => {
      const roles = await parts.pool.unloadIdle();
      return roles.length === 0 ? "no model was idle" : `unloaded the ${roles.join(", ")} models`;
    },
    freeDisk: () => freeDisk(config(), parts),
    restartLoop: async () => {
      const loop = parts.loop;
      if (loop === undefined) throw new Error("the proactive loop is off (proactive.enabled)");
      if (loop.running) await loop.stop();
      loop.start();
      return "the loop runs in this server again";
    },
    reloadModel: async (role) => {
      await parts.pool.reload(role as ModelRole);
      return `the ${role} model is read from disk at the next request`;
    },
    repullModel: async (role) => {
      if (!watch.isPulled(role))
        throw new Error(`the ${role} model is a local file; it cannot be downloaded again`);
      return repull(role as ModelRole, config(), parts, watch);
    },
    ...(hasFallback
      ? {
          swapToFallback: (role: string) => {
            parts.router.redirect(role as ModelRole, "fallback");
            return Promise.resolve(`the ${role} role is served by the fallback model`);
          },
          endSwap: (role: string) => {
            parts.router.redirect(role as ModelRole, undefined);
            return Promise.resolve(`the ${role} role is served by its own model again`);
          },
        }
      : {}),
    trainedContext: (role) => watch.trainedContext(role),
  };
}

/** Moves the bad file aside, downloads it again through the pull path, checks its hash, then lets the pool reload it. */
async function repull(
  role: ModelRole,
  config: ResolvedConfig,
  parts: RepairParts,
  watch: ModelWatch,
): Promise<string> {
  const file = watch.fileOf(role);
  const source = config.models[role]?.source ?? (role === "main" ? config.models.default : undefined);
  if (file === undefined || source === undefined) throw new Error(`no ${role} model source is configured`);
  const aside = `${file}.corrupt-${Date.now()}`;
  await rename(file, aside).catch(() => undefined);
  try {
    const pulled = await pullModel({
      source,
      modelsDir: config.paths.modelsDir,
      signal: AbortSignal.timeout(30 * 60_000),
      ...(config.models.huggingFaceEndpoint === undefined
        ? {}
        : { huggingFaceEndpoint: config.models.huggingFaceEndpoint }),
    });
    if (pulled.path !== file) throw new Error(`the source now downloads to ${pulled.path}, not ${file}`);
    const check = await watch.verify(role);
    if (!check.ok) throw new Error(`the downloaded file does not match: ${check.detail}`);
  } catch (error) {
    // Put the old bytes back: the next plan (a swap) needs the state as it was, and nothing is lost.
    await rm(file, { force: true });
    await rename(aside, file).catch(() => undefined);
    throw error;
  }
  await rm(aside, { force: true });
  await parts.pool.reload(role);
  return `downloaded ${path.basename(file)} again (${watch.expectedHash(role)?.slice(0, 12) ?? "?"}…, the hash verified at start)`;
}

/** Removes the disposable: the cache folder (except the model files in use), expired cached images, older rotated logs. */
async function freeDisk(config: ResolvedConfig, parts: RepairParts): Promise<string> {
  const inUse = new Set(Object.values(parts.models.roles).map((role) => role.file));
  let freed = 0;
  const removeUnder = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if ([...inUse].some((file) => file === full || file.startsWith(`${full}${path.sep}`))) {
        if (entry.isDirectory()) await removeUnder(full);
        continue;
      }
      freed += await sizeOf(full);
      await rm(full, { recursive: true, force: true });
    }
  };
  await removeUnder(config.paths.cacheDir);
  const images = parts.vision?.expire();
  freed += images?.freedBytes ?? 0;
  freed += await removeRotatedLogs(config.paths.logDir);
  return `freed ${Math.round(freed / 2 ** 20)} MiB (cache folder, ${images?.removed ?? 0} expired images, old logs)`;
}

/** pino-roll writes `sarai.N.log`; all but the newest file go. */
async function removeRotatedLogs(dir: string): Promise<number> {
  const names = (await readdir(dir).catch(() => [])).filter((name) => /^sarai\.\d+\.log$/.test(name));
  const byNumber = names.sort((a, b) => Number(a.split(".")[1]) - Number(b.split(".")[1]));
  let freed = 0;
  for (const name of byNumber.slice(0, -1)) {
    const full = path.join(dir, name);
    freed += await sizeOf(full);
    await rm(full, { force: true });
  }
  return freed;
}

async function sizeOf(target: string): Promise<number> {
  const info = await stat(target).catch(() => undefined);
  if (info === undefined) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await readdir(target).catch(() => [])) total += await sizeOf(path.join(target, name));
  return total;
}

async function counterValue(counter: Metrics["speculativeDraftedTokens"]): Promise<number> {
  const { values } = await counter.get();
  return values.reduce((sum, value) => sum + value.value, 0);
}

function recordRepair(metrics: Metrics, record: RepairRecord): void {
  metrics.repairAttempts.inc({ level: String(record.level), result: record.result });
  if (record.rolledBack) metrics.repairRollbacks.inc();
}

/** The package's root: `dist/..` when built, `src/..` under tsx. */
const packageRoot = fileURLToPath(new URL("..", import.meta.url));

/**
 * Level-2 signed patches from `repair.patches` (trusted key: `sarai keys init`'s public key); undefined when they
 * are off. `switchIn` runs after the files are replaced (the server re-reads its config file).
 */
export function assemblePatches(
  config: ResolvedConfig,
  audit: AuditSink,
  health: () => Promise<PatchHealth>,
  switchIn?: (files: readonly string[]) => Promise<void>,
): PatchApplier | undefined {
  const settings = config.repair.patches;
  if (!config.repair.enabled || !settings.enabled) return undefined;
  const publicKey = resolveSigningKeyFiles(config).publicKey;
  return new PatchApplier({
    installDir: settings.installDir ?? packageRoot,
    workDir: path.join(config.repair.dir, "patches"),
    trustedKey: () => loadTrustedKey(publicKey),
    testCommand: settings.testCommand,
    testTimeoutMs: settings.testTimeoutMs,
    testMemoryMb: settings.testMemoryMb,
    healthWindowMs: settings.healthWindowMs,
    health,
    ...(switchIn === undefined ? {} : { switchIn }),
    audit,
  });
}

/** Keeps a patch's outcome in the repair history (level 2), with the rest of the repairs. */
function recordPatchOutcome(repairer: Repairer, outcome: PatchOutcome, diffFile: string): void {
  const finishedAt = Date.now();
  repairer.record({
    fault: "patch",
    target: path.basename(diffFile),
    level: 2,
    action: `apply ${path.basename(diffFile)} (${outcome.files.join(", ") || "no files"})`,
    result: outcome.status,
    summary: outcome.reason,
    evidence: {
      id: outcome.id,
      steps: outcome.steps.map((s) => `${s.step}:${s.ok ? "ok" : "failed"}`).join(" "),
    },
    detail:
      outcome.steps
        .filter((s) => !s.ok)
        .map((s) => `${s.step}: ${s.detail}`)
        .join("; ") || outcome.reason,
    startedAt: finishedAt - Math.round(outcome.durationMs),
    finishedAt,
    rolledBack: outcome.status === "rolled_back",
  });
}
