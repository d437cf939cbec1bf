import { statfs } from "node:fs/promises";
import path from "node:path";
import type { Llama } from "node-llama-cpp";
import { ReflexiveLoop, TurnPipeline } from "./assistant/index.js";
import type { ConfigStore, ResolvedConfig } from "./config/index.js";
import {
  EmbeddedBackend,
  ModelPool,
  modelRoles,
  RemoteBackend,
  resolveModels,
  RoleRouter,
  type ChatResponse,
  type LlmBackend,
  type ModelRole,
  type PullProgress,
  type ResolvedModels,
  type DraftPair,
  type SpeculativeEvent,
} from "./inference/index.js";
import {
  checkFreeDisk,
  checkWritableDir,
  createMetrics,
  summariseReadiness,
  type ComponentHealth,
  type Metrics,
  type Readiness,
} from "./observability/index.js";
import { EntityMemory, EntityStore, type StoreStats } from "./memory/index.js";
import { AppError, type Logger } from "./shared/index.js";
import {
  buildSuggestionMessages,
  createEntityMemoryPort,
  createSystemReadings,
  LoopService,
  type Clock,
  type Suggester,
  type SystemReadings,
} from "./proactive/index.js";
import { builtinSkills, FactQuerySandbox, SkillService, sqlQuerySkill } from "./skills/index.js";
import { ImageCache, VisionService } from "./vision/index.js";
import { passThroughGuard, type WebSearch } from "./search/index.js";
import type { FeedbackStore } from "./learning/index.js";
import type { ConversationStore } from "./web/index.js";
import type { RedTeam } from "./redteam/index.js";
import type { AuditSink, InjectionGuard } from "./security/index.js";
import type { LogTap } from "./repair/index.js";
import { assembleRepair, type RepairService } from "./assemble-repair.js";
import { assembleLearning, toLearningPort } from "./assemble-learning.js";
import type { LearningService } from "./learning/index.js";
import { applyLiveConfig } from "./live-config.js";
import {
  assembleAudit,
  assembleConversations,
  assembleFeedback,
  assembleGuard,
  assembleMemoryExtractor,
  assembleRedTeam,
  assembleReflectionTemplates,
  assembleSearch,
  assembleVoice,
  toRedTeamPort,
  toWebGuard,
  type VoiceService,
} from "./assemble.js";

export { assembleGuard, assembleSearch, assembleVoice, type VoiceService } from "./assemble.js";

export interface AppOptions {
  config: ResolvedConfig;
  logger: Logger;
  /** When given, the app follows its validated reloads (log level now; models on next start). */
  configStore?: ConfigStore;
  /** Share a llama.cpp binding (tests and benchmarks). */
  llama?: Llama;
  signal?: AbortSignal;
  onPullProgress?: (progress: PullProgress) => void;
  onNotice?: (message: string) => void;
  /** The proactive loop's clock and machine readings (simulated days in tests and benchmarks). */
  loop?: { clock?: Clock; readings?: SystemReadings };
  /** The logger's warn-and-above lines, for the self-repair detectors (see `createLogger`'s `tap`). */
  logTap?: LogTap;
}

/** A model the API offers, by the id clients use. */
export interface OfferedModel {
  id: string;
  role: ModelRole;
  file?: string;
  remote?: string;
  createdMs: number;
}

export interface App {
  readonly config: ResolvedConfig;
  readonly pool: ModelPool;
  readonly backend: LlmBackend;
  /** The in-process backend: raw completions and embeddings, which the chat port does not cover. */
  readonly embedded: EmbeddedBackend;
  readonly turns: TurnPipeline;
  /** Entity memory; undefined when `memory.enabled` is false. */
  readonly memory: EntityMemory | undefined;
  /** The skills; undefined when `skills.enabled` is false. */
  readonly skills: SkillService | undefined;
  /**
   * The proactive loop (its store, scheduler and feed); undefined when `proactive.enabled` is false. Opened
   * here, started by `sarai serve` when `proactive.inServer` is true.
   */
  readonly loop: LoopService | undefined;
  /** Image preparation for chat image parts (and its cache); undefined when `vision.enabled` is false. */
  readonly vision: VisionService | undefined;
  /** The prompt-injection guard; undefined when `security.guard.enabled` is false. */
  readonly guard: InjectionGuard | undefined;
  /** The audit log of security-relevant events (a sink that keeps nothing when `security.audit.enabled` is false). */
  readonly audit: AuditSink;
  /** Text to speech, and speech to text when `voice.transcription` is set; undefined when voice is off. */
  readonly voice: VoiceService | undefined;
  /** Web search through SearXNG; undefined when `search.enabled` is false. */
  readonly search: WebSearch | undefined;
  /** Users' ratings of answers (the learning loop's input); undefined when `learning.enabled` is false. */
  readonly feedback: FeedbackStore | undefined;
  /** LoRA adapters from feedback; undefined when `learning.lora.enabled` is false or the main model is remote. */
  readonly learning: LearningService | undefined;
  /** The web UI's saved conversations; undefined when `web.enabled` is false. */
  readonly conversations: ConversationStore | undefined;
  /** Red-team campaigns against this server over HTTP; undefined when `redteam.enabled` is false. */
  readonly redteam: RedTeam | undefined;
  /** Self-repair and signed patches (started by `sarai serve`); undefined when off or without a config store. */
  readonly repair: RepairService | undefined;
  readonly metrics: Metrics;
  readonly models: ResolvedModels;
  /** The models clients can ask for: one per configured role. */
  listModels(): OfferedModel[];
  /** The model a client's `model` field names: its id, its role name, or `sarai` for the main model. */
  resolveModel(id: string): OfferedModel;
  /** Feeds a finished generation's figures to the metrics. */
  recordGeneration(role: ModelRole, response: ChatResponse): void;
  /** Model loaded, state directory writable, enough free disk, queue not full; plus why it is degraded. */
  readiness(): Promise<Readiness>;
  /** Releases everything in reverse order of creation; idempotent. */
  dispose(): Promise<void>;
}

const minFreeDiskMb = 512;

/** The composition root: builds every subsystem from the resolved config and wires them together. */
export async function createApp(options: AppOptions): Promise<App> {
  const { config, logger } = options;
  const audit = assembleAudit(config, logger);
  const models = await resolveModels({
    roles: config.models,
    defaultSource: config.models.default,
    modelsDir: config.paths.modelsDir,
    cacheDir: config.paths.cacheDir,
    autoPull: config.models.autoPull,
    huggingFaceEndpoint: config.models.huggingFaceEndpoint,
    signal: options.signal ?? new AbortController().signal,
    logger,
    ...(options.onPullProgress === undefined ? {} : { onPullProgress: options.onPullProgress }),
    ...(options.onNotice === undefined ? {} : { onNotice: options.onNotice }),
  });
  for (const [role, model] of Object.entries(models.roles))
    audit.record({ type: "model.load", target: model.file, outcome: "ok", details: { role } });
  const pool = new ModelPool({
    roles: models.roles,
    threads: config.inference.threads,
    batchSize: config.inference.batchSize,
    contextSize: config.inference.contextSize,
    sequences: config.inference.sequences,
    maxQueue: config.server.maxQueue,
    ramBudgetBytes: config.inference.ramBudgetMb * 2 ** 20,
    logger,
    ...(options.llama === undefined ? {} : { llama: options.llama }),
  });
  const { cooldownSeconds, ...speculative } = config.inference.speculative;
  // Metrics are created after the backend; the backend's events reach them through this late binding.
  const speculativeEvents: { record?: (event: SpeculativeEvent) => void } = {};
  const embedded = new EmbeddedBackend({
    pool,
    logger,
    speculative: { ...speculative, cooldownMs: cooldownSeconds * 1000 },
    onSpeculative: (event) => {
      speculativeEvents.record?.(event);
      // A refused draft is a config mistake the person at the terminal should see, not only the log.
      if (event.kind === "refused") options.onNotice?.(`${event.reason}; decoding without it`);
    },
  });
  const backends = new Map<ModelRole, LlmBackend>();
  const remotes: RemoteBackend[] = [];
  for (const role of modelRoles) {
    if (models.roles[role] !== undefined) backends.set(role, embedded);
    const remote = config.models[role]?.remote;
    if (remote === undefined) continue;
    const backend = new RemoteBackend({ ...remote, logger });
    remotes.push(backend);
    backends.set(role, backend);
  }
  // The proactive loop's store is open whenever the loop is enabled: turns record activity and the API serves
  // notifications even when `sarai loop` runs the schedule in another process. `sarai serve` starts it.
  let loop: LoopService | undefined;
  const backend = new RoleRouter(backends, {
    // A failing model is an event for the loop (ram_check listens: a failed load may be memory pressure). One
    // job per role and error code per minute, however many requests fail.
    onModelError: (error, role) =>
      loop?.emit(
        "model_error",
        { role, code: error.code, message: error.message },
        { dedupeKey: `${role}:${error.code}:${Math.floor(Date.now() / 60_000)}` },
      ),
  });
  let store: EntityStore | undefined;
  let memory: EntityMemory | undefined;
  if (config.memory.enabled) {
    try {
      const clock = options.loop?.clock;
      store = EntityStore.open({
        file: config.memory.database,
        synchronous: config.memory.synchronous,
        busyTimeoutMs: config.memory.busyTimeoutMs,
        // A simulated day (tests, bench/proactive) dates facts on its own clock, so "tomorrow" means its tomorrow.
        ...(clock === undefined ? {} : { now: () => clock.now() }),
      });
    } catch (error) {
      await pool.dispose();
      throw error;
    }
    memory = new EntityMemory({
      store,
      maxExtractChars: config.memory.maxExtractChars,
      recallTokens: config.memory.recallTokens,
      recallLimit: config.memory.recallLimit,
      storeAssistantFacts: config.memory.storeAssistantFacts,
      ...(await assembleMemoryExtractor(config, models, backend, logger)),
      onModelError: (error) =>
        logger.warn({ err: error }, "model fact extraction failed; nothing of it stored"),
    });
  }
  // sql_query reads the memory file through its own read-only connection; without memory it is not offered.
  const factQueries =
    store === undefined
      ? undefined
      : new FactQuerySandbox({ file: store.file, maxRows: config.skills.sqlMaxRows });
  const skills = config.skills.enabled
    ? new SkillService({
        backend,
        skills: builtinSkills.filter((skill) => factQueries !== undefined || skill !== sqlQuerySkill),
        autoRoute: config.skills.autoRoute,
        retries: config.skills.retries,
        services: {
          ...(memory === undefined ? {} : { memory }),
          ...(factQueries === undefined ? {} : { factQueries }),
        },
      })
    : undefined;
  // Templates are read once at startup: a broken override folder fails here, not in a turn.
  const reflexive = new ReflexiveLoop({
    backend,
    templates: await assembleReflectionTemplates(config, logger),
    settings: config.reflect,
  });
  const hasFallback = models.roles.fallback !== undefined || config.models.fallback?.remote !== undefined;
  const guard = assembleGuard(config, () => metrics, logger, audit);
  const search = assembleSearch(
    config,
    guard === undefined ? passThroughGuard : toWebGuard(guard),
    (result) => metrics.searchRequests.inc({ cache: result.cached ? "hit" : "miss" }),
  );
  const voice = assembleVoice(config);
  const turns = new TurnPipeline({
    backend,
    ...(guard === undefined ? {} : { guard }),
    reflexive,
    reflectByDefault: config.reflect.enabled,
    ...(factQueries === undefined ? {} : { verifierServices: { factQueries } }),
    ...(hasFallback && config.reflect.fallback
      ? { fallback: { timeoutMs: config.reflect.iterationTimeoutMs } }
      : {}),
    onReflection: (report) => {
      metrics.recordReflection(report);
      logger.debug(
        {
          iterations: report.iterations.length,
          chosen: report.chosen,
          stoppedBy: report.stoppedBy,
          templates: report.templates,
        },
        "reflected turn",
      );
    },
    onFallback: (fallback) => {
      metrics.fallbacks.inc({ code: fallback.code });
      logger.warn(
        { code: fallback.code, latencyMs: Math.round(fallback.latencyMs) },
        "the fallback model answered",
      );
    },
    ...(memory === undefined ? {} : { memory }),
    ...(skills === undefined ? {} : { skills }),
    onSkill: (result) =>
      logger.debug({ skill: result.skill, attempts: result.attempts, errors: result.errors }, "skill turn"),
    onMemory: (report) => {
      if (report.background !== true) metrics.memoryFactsRecalled.observe(report.recalled);
      for (const result of report.stored)
        metrics.memoryFactsStored.inc({ source: result.fact.source, outcome: result.outcome });
      if (report.stored.length > 0) {
        const ids = report.stored.map((result) => result.fact.id);
        audit.record({ type: "memory.learn", actor: report.userId, outcome: "ok", details: { facts: ids } });
      }
      logger.debug({ recalled: report.recalled, stored: report.stored.length }, "memory turn");
    },
    onMemoryError: (error) =>
      logger.warn({ err: error }, "memory failed during a turn; the answer is unaffected"),
    onTurn: (turn) => loop?.touchUser(turn.userId),
  });

  const createdMs = Date.now();
  const offered: OfferedModel[] = [];
  for (const role of modelRoles) {
    const local = models.roles[role];
    const remote = config.models[role]?.remote;
    if (local !== undefined)
      offered.push({ id: path.basename(local.file, ".gguf"), role, file: local.file, createdMs });
    else if (remote !== undefined)
      offered.push({ id: remote.model, role, remote: remote.baseUrl, createdMs });
  }

  // Gauges read the pool when Prometheus scrapes.
  const collectPool = async () => {
    for (const status of await pool.detailedStatus()) {
      metrics.queueDepth.set({ role: status.role }, status.waiting ?? 0);
      metrics.activeSequences.set({ role: status.role }, status.activeSequences ?? 0);
      if (status.loadSeconds !== undefined)
        metrics.modelLoadSeconds.set({ role: status.role }, status.loadSeconds);
    }
  };
  // Counting a large facts table takes a while: scrapes and readiness probes share one count per 10 s.
  let statsCache: { at: number; stats: StoreStats } | undefined;
  const memoryStats = (): StoreStats | undefined => {
    if (store === undefined) return undefined;
    if (statsCache === undefined || Date.now() - statsCache.at > 10_000)
      statsCache = { at: Date.now(), stats: store.stats() };
    return statsCache.stats;
  };
  let vision: VisionService | undefined;
  try {
    vision = createVisionService(config, logger);
  } catch (error) {
    factQueries?.dispose();
    for (const remote of remotes) remote.dispose();
    await pool.dispose();
    store?.close();
    throw error;
  }
  // The cache the loop's image_cache_expiry and the RAM check's prune expire (absent when the cache is off).
  const imageCache = vision !== undefined && config.vision.cache.enabled ? vision : undefined;

  const metrics = createMetrics({
    onCollect: collectPool,
    memoryStats,
    loopStatus: () => loop?.status(),
    // Every run in the loop database, whichever process ran it (this server's loop or `sarai loop`), once.
    loopRuns: () => loop?.takeRecordedRuns(),
    imageCacheHitRate: () => vision?.hitRate(),
    diskFree: async () => {
      const stats = await statfs(config.paths.stateDir);
      const freeBytes = stats.bavail * stats.bsize;
      return { path: config.paths.stateDir, freeBytes, minFreeBytes: minFreeDiskMb * 2 ** 20 };
    },
  });
  speculativeEvents.record = (event) => recordSpeculative(metrics, event);
  const redteam = assembleRedTeam(config, () => metrics, audit);
  const feedback = assembleFeedback(config);
  const conversations = assembleConversations(config);
  const learning = await assembleLearning({
    config,
    pool,
    feedback,
    guard,
    logger,
    audit,
    metrics: () => metrics,
    notify: (userId, text) => loop?.notify(userId, "learning", text),
  });

  if (config.proactive.enabled) {
    try {
      loop = LoopService.open({
        config,
        logger: logger.child({ component: "loop" }),
        ...(options.loop?.clock === undefined ? {} : { clock: options.loop.clock }),
        ports: {
          readings: options.loop?.readings ?? createSystemReadings(),
          pruner: {
            unloadIdleModels: async () => (await pool.unloadIdle()).map((role) => `${role} model`),
            dropCaches: () => {
              statsCache = undefined;
              const expired = imageCache?.expire();
              return Promise.resolve([
                "memory statistics",
                ...(expired === undefined ? [] : [`${expired.removed} expired cached images`]),
              ]);
            },
          },
          imageCache:
            imageCache === undefined ? undefined : { expire: () => Promise.resolve(imageCache.expire()) },
          memory: store === undefined ? undefined : createEntityMemoryPort(store),
          suggester: createBackendSuggester(backend),
          redteam: redteam === undefined ? undefined : toRedTeamPort(redteam, config),
          learning: learning === undefined ? undefined : toLearningPort(learning),
          logDir: config.paths.logDir,
          stateDir: config.paths.stateDir,
        },
      });
    } catch (error) {
      await learning?.close();
      conversations?.close();
      feedback?.close();
      vision?.dispose();
      factQueries?.dispose();
      await pool.dispose();
      store?.close();
      throw error;
    }
  }

  const readiness = async (): Promise<Readiness> => {
    const components: Record<string, ComponentHealth> = {};
    const statuses = await pool.detailedStatus();
    const main = statuses.find((s) => s.role === "main");
    const remoteMain = config.models.main?.remote;
    components["model"] =
      remoteMain !== undefined
        ? { status: "ok", detail: `remote ${remoteMain.model} at ${remoteMain.baseUrl}` }
        : main === undefined
          ? { status: "failed", detail: "no main model" }
          : main.loaded
            ? { status: models.demoModel ? "degraded" : "ok", detail: main.file }
            : { status: "failed", detail: `${main.file} is not loaded` };
    const waiting = statuses.reduce((sum, s) => sum + (s.waiting ?? 0), 0);
    const queueFull = statuses.some((s) => (s.waiting ?? 0) >= pool.settings.maxQueue);
    components["queue"] = queueFull
      ? {
          status: "degraded",
          detail: `overloaded: ${waiting} requests waiting (server.maxQueue ${pool.settings.maxQueue})`,
        }
      : { status: "ok", detail: `${waiting} waiting` };
    if (pool.hasRole("draft")) components["draft"] = draftHealth(embedded.draftPair);
    components["stateDir"] = await checkWritableDir(config.paths.stateDir);
    if (store !== undefined) components["memory"] = checkMemory(memoryStats);
    components["disk"] = await checkFreeDisk(config.paths.stateDir, minFreeDiskMb);
    return summariseReadiness(components, models.degraded);
  };

  const repair =
    options.configStore === undefined
      ? undefined
      : assembleRepair({
          configStore: options.configStore,
          logTap: options.logTap,
          logger,
          audit,
          metrics: () => metrics,
          pool,
          router: backend,
          models,
          loop,
          vision: imageCache,
          memoryFile: store?.file,
          readiness,
        });

  const unsubscribe = options.configStore?.subscribe((next, previous) => {
    const live = applyLiveConfig(next, previous, { pool, embedded, store, imageCache, logger });
    if (live.length > 0) logger.info({ settings: live }, "config applied while running");
    if (next.log.level !== previous.log.level) {
      logger.level = next.log.level;
      logger.info({ level: next.log.level }, "log level changed");
    }
    if (JSON.stringify(next.models) !== JSON.stringify(previous.models)) {
      logger.warn("models changed in the config; they take effect at the next start");
    }
    const changed = Object.keys(next).filter(
      (key) =>
        JSON.stringify(next[key as keyof typeof next]) !==
        JSON.stringify(previous[key as keyof typeof previous]),
    );
    if (changed.length > 0) loop?.emit("config_changed", { sections: changed });
    if (changed.length > 0)
      audit.record({ type: "config.change", outcome: "ok", details: { sections: changed } });
  });

  let disposed = false;
  return {
    config,
    pool,
    backend,
    embedded,
    turns,
    memory,
    skills,
    loop,
    vision,
    guard,
    audit,
    metrics,
    voice,
    search,
    redteam,
    repair,
    feedback,
    learning,
    conversations,
    models,
    listModels: () => offered,
    resolveModel(id) {
      const wanted = id.trim();
      const found =
        offered.find((m) => m.id === wanted) ??
        offered.find((m) => m.role === wanted) ??
        (wanted === "sarai" ? offered.find((m) => m.role === "main") : undefined);
      if (found === undefined) {
        const known = offered.map((m) => m.id).join(", ");
        throw new AppError("MODEL_NOT_FOUND", `model "${wanted}" is not served here; available: ${known}`, {
          param: "model",
        });
      }
      return found;
    },
    recordGeneration(role, response) {
      metrics.generatedTokens.inc({ role }, response.usage.completionTokens);
      metrics.timeToFirstToken.observe({ role }, response.timings.timeToFirstTokenMs / 1000);
      if (response.usage.completionTokens > 1)
        metrics.tokensPerSecond.observe({ role }, response.timings.tokensPerSecond);
    },
    readiness,
    async dispose() {
      if (disposed) return;
      disposed = true;
      unsubscribe?.();
      await repair?.dispose();
      await loop?.close();
      await learning?.close();
      await turns.drain();
      vision?.dispose();
      search?.dispose();
      conversations?.close();
      feedback?.close();
      factQueries?.dispose();
      for (const remote of remotes) remote.dispose();
      await pool.dispose();
      store?.close();
    },
  };
}

/** The vision service from `vision.*`, with its cache when `vision.cache.enabled`; undefined when vision is off. */
function createVisionService(config: ResolvedConfig, logger: Logger): VisionService | undefined {
  const settings = config.vision;
  if (!settings.enabled) return undefined;
  const cache = settings.cache.enabled
    ? ImageCache.open({
        dir: settings.cache.dir,
        ttlMs: settings.cache.ttlDays * 86_400_000,
        maxBytes: settings.cache.maxMb * 2 ** 20,
        hammingThreshold: settings.cache.hammingThreshold,
        onWarning: (message, error) => logger.warn({ err: error }, message),
      })
    : undefined;
  return new VisionService({
    maxSidePx: settings.maxSidePx,
    webpQuality: settings.webpQuality,
    maxInputBytes: settings.maxInputMb * 2 ** 20,
    maxPixels: settings.maxPixels,
    ...(cache === undefined ? {} : { cache }),
  });
}

/** The speculative-decoding pair in readiness: a paused or refused draft slows answers but breaks nothing. */
function draftHealth(pair: DraftPair): ComponentHealth {
  const state = pair.state;
  if (state.state !== "active") return { status: "degraded", detail: `${state.state}: ${state.reason}` };
  const acceptance = pair.acceptanceRate;
  const speedup = pair.speedup;
  return {
    status: "ok",
    detail:
      acceptance === undefined
        ? "not used yet"
        : `acceptance ${(100 * acceptance).toFixed(0)}%` +
          (speedup === undefined ? "" : `, ${speedup.toFixed(2)}× plain decoding`),
  };
}

function recordSpeculative(metrics: Metrics, event: SpeculativeEvent): void {
  switch (event.kind) {
    case "speculated":
      metrics.speculativeDraftedTokens.inc(event.stats.drafted);
      metrics.speculativeAcceptedTokens.inc(event.stats.accepted);
      if (event.stats.fellBack) metrics.speculativeFallbacks.inc({ reason: "request" });
      if (event.paused) metrics.speculativeFallbacks.inc({ reason: "pause" });
      if (event.acceptanceRate !== undefined) metrics.speculativeAcceptanceRate.set(event.acceptanceRate);
      if (event.speedup !== undefined) metrics.speculativeSpeedup.set(event.speedup);
      break;
    case "plain":
      if (event.speedup !== undefined) metrics.speculativeSpeedup.set(event.speedup);
      break;
    case "stalled":
      metrics.speculativeFallbacks.inc({ reason: "stall" });
      break;
    case "refused":
      metrics.speculativeFallbacks.inc({ reason: "incompatible" });
      break;
  }
}

/** Idle suggestions written by the chat backend: one short sentence from the user's dated facts. */
function createBackendSuggester(backend: LlmBackend): Suggester {
  return {
    async suggest(input, signal) {
      const response = await backend.chat(
        {
          messages: buildSuggestionMessages(input.facts, input.now),
          sampling: { temperature: 0.7, maxTokens: 96 },
        },
        signal,
      );
      return response.text;
    },
  };
}

function checkMemory(memoryStats: () => StoreStats | undefined): ComponentHealth {
  try {
    const stats = memoryStats();
    if (stats === undefined) return { status: "ok", detail: "off" };
    return { status: "ok", detail: `${stats.activeFacts} active facts, ${stats.sizeMb} MiB` };
  } catch (error) {
    return {
      status: "failed",
      detail: `memory database: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}
