import type { Fact } from "../memory/index.js";
import type { JobStore } from "./job-store.js";

/**
 * What the built-in actions need from the rest of SARAi, as ports: `app.ts` (inside `sarai serve`) and
 * `sarai loop` (its own process) implement them differently; tests inject readings and fakes of their own.
 */

/** Readings of the machine. Injected in tests so thresholds can be checked at their exact boundary. */
export interface SystemReadings {
  /** Resident set size of this process, in bytes. */
  rssBytes(): number;
  /** Memory the system can still give out (MemAvailable), in bytes. */
  availableMemoryBytes(): number;
  /** Free bytes on the file system holding `dir`. */
  freeDiskBytes(dir: string): Promise<number>;
}

/** What the RAM check may free when memory runs short. */
export interface Pruner {
  /** Unloads models no request is using; returns what was unloaded (files or roles). */
  unloadIdleModels(): Promise<string[]>;
  /** Drops caches that are rebuilt on demand (recall caches, later the image cache); returns their names. */
  dropCaches(): Promise<string[]>;
}

/** What to prune (`prune`'s arguments, the body of `POST /v1/loop/prune`); both default to `true`. */
export interface PruneOptions {
  unloadModels?: boolean | undefined;
  dropCaches?: boolean | undefined;
}

/** What a prune did, in the process that holds the models. */
export interface PruneReport {
  unloadedModels: string[];
  droppedCaches: string[];
  /** That process's RSS before and after, in bytes. */
  rssBeforeBytes: number;
  rssAfterBytes: number;
  /** Steps that failed (the others were still tried); empty when all went well. */
  errors: string[];
}

/**
 * The server (`sarai serve`) as seen from a loop in another process (`sarai loop`): the models, and so the RSS
 * worth checking and whatever can be pruned, live there. Reached over loopback; a server that is down makes the
 * call fail (a recorded failed run).
 */
export interface ModelServer {
  /** The server process's resident set size, in bytes. */
  rssBytes(signal: AbortSignal): Promise<number>;
  /** Runs the server's own pruner. */
  prune(options: PruneOptions, signal: AbortSignal): Promise<PruneReport>;
}

/** Memory maintenance and the facts an idle suggestion is built from. */
export interface MemoryPort {
  /** Rewrites the database without deleted and duplicate rows; bytes before and after. */
  vacuum(): { bytesBefore: number; bytesAfter: number };
  /** Removes unpinned facts not stated for `days`; how many. */
  rotate(days: number): number;
  /** The user's active facts, most recent first (the idle suggestion picks the actionable ones). */
  facts(userId: string, limit: number): Fact[];
}

/** Writes a short suggestion with the model (in-process, or over loopback from `sarai loop`). */
export interface Suggester {
  suggest(
    input: { userId: string; facts: readonly Fact[]; now: number },
    signal: AbortSignal,
  ): Promise<string>;
}

/** The image cache's expiry (the cache lives in `vision/`; the loop only asks it to expire). */
export interface ImageCachePort {
  /** Removes entries unused for longer than the cache's TTL. */
  expire(): Promise<{ removed: number; freedBytes: number }>;
}

/** A red-team campaign against the running server (the campaign lives in `redteam/`). */
export interface RedTeamPort {
  /** Runs a campaign; `budget` and `families` override the configured ones (`redteam.*`). */
  run(
    options: { budget?: number; families?: string[]; seed?: number },
    signal: AbortSignal,
  ): Promise<{
    reportId: string;
    attempts: number;
    successes: number;
    coverage: number;
    newFailures: number;
    stopped?: string;
  }>;
}

/** The learning loop (it lives in `learning/`): one training run, which may skip with its reason. */
export interface LearningPort {
  train(
    options: { force: boolean },
    signal: AbortSignal,
  ): Promise<{ outcome: "promoted" | "refused" | "skipped"; reason?: string; adapterId?: string }>;
}

/** Everything the built-in actions use. */
export interface LoopPorts {
  store: JobStore;
  readings: SystemReadings;
  /** What this process can prune (`sarai serve`: its idle models and caches). */
  pruner?: Pruner | undefined;
  /**
   * The server holding the models, when the loop runs in another process (`sarai loop`): the RAM check reads
   * its RSS rather than this process's, and `prune` runs its pruner. Takes precedence over `pruner`.
   */
  server?: ModelServer | undefined;
  memory?: MemoryPort | undefined;
  suggester?: Suggester | undefined;
  /** The image cache, when `vision.cache.enabled`. */
  imageCache?: ImageCachePort | undefined;
  /** Red-team campaigns, when `redteam.enabled`. */
  redteam?: RedTeamPort | undefined;
  /** LoRA training from feedback, when `learning.lora.enabled` and the models run in this process. */
  learning?: LearningPort | undefined;
  /** SARAi's log folder (log retention). */
  logDir: string;
  /** The folder whose disk the disk check watches. */
  stateDir: string;
}

/** The settings of the built-in actions, from `proactive.*` in the config. */
export interface LoopSettings {
  /** RSS of the process holding the models above which the RAM check prunes, in bytes. */
  maxRssBytes: number;
  /** Available system memory under which the RAM check prunes, in bytes. */
  minAvailableBytes: number;
  minFreeDiskBytes: number;
  logRetentionDays: number;
  logMaxTotalBytes: number;
  /** Days after which unpinned facts are rotated out (`memory.retentionDays`). */
  factRetentionDays: number;
  idleMs: number;
  suggestionsPerHour: number;
}
