import type { Llama } from "node-llama-cpp";
import type { ConfigStore, ResolvedConfig } from "./config/index.js";
import {
  EmbeddedBackend,
  ModelPool,
  resolveModels,
  type LlmBackend,
  type PullProgress,
  type ResolvedModels,
} from "./inference/index.js";
import {
  checkFreeDisk,
  checkWritableDir,
  summariseReadiness,
  type ComponentHealth,
  type Readiness,
} from "./observability/index.js";
import type { Logger } from "./shared/index.js";

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
}

export interface App {
  readonly config: ResolvedConfig;
  readonly pool: ModelPool;
  readonly backend: LlmBackend;
  readonly models: ResolvedModels;
  /** Model loaded, state directory writable, enough free disk; plus why the app is degraded. */
  readiness(): Promise<Readiness>;
  /** Releases everything in reverse order of creation; idempotent. */
  dispose(): Promise<void>;
}

const minFreeDiskMb = 512;

/** The composition root: builds every subsystem from the resolved config and wires them together. */
export async function createApp(options: AppOptions): Promise<App> {
  const { config, logger } = options;
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
  const pool = new ModelPool({
    roles: models.roles,
    threads: config.inference.threads,
    batchSize: config.inference.batchSize,
    contextSize: config.inference.contextSize,
    sequences: config.inference.sequences,
    ramBudgetBytes: config.inference.ramBudgetMb * 2 ** 20,
    logger,
    ...(options.llama === undefined ? {} : { llama: options.llama }),
  });
  const backend = new EmbeddedBackend({ pool, logger });

  const unsubscribe = options.configStore?.subscribe((next, previous) => {
    if (next.log.level !== previous.log.level) {
      logger.level = next.log.level;
      logger.info({ level: next.log.level }, "log level changed");
    }
    if (JSON.stringify(next.models) !== JSON.stringify(previous.models)) {
      logger.warn("models changed in the config; they take effect at the next start");
    }
  });

  let disposed = false;
  return {
    config,
    pool,
    backend,
    models,
    async readiness() {
      const components: Record<string, ComponentHealth> = {};
      const main = (await pool.detailedStatus()).find((s) => s.role === "main");
      components["model"] =
        main === undefined
          ? { status: "failed", detail: "no main model" }
          : main.loaded
            ? { status: models.demoModel ? "degraded" : "ok", detail: main.file }
            : { status: "failed", detail: `${main.file} is not loaded` };
      components["stateDir"] = await checkWritableDir(config.paths.stateDir);
      components["disk"] = await checkFreeDisk(config.paths.stateDir, minFreeDiskMb);
      return summariseReadiness(components, models.degraded);
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      unsubscribe?.();
      await pool.dispose();
    },
  };
}
