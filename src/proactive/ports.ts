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

/** Everything the built-in actions use. */
export interface LoopPorts {
  store: JobStore;
  readings: SystemReadings;
  pruner?: Pruner | undefined;
  memory?: MemoryPort | undefined;
  suggester?: Suggester | undefined;
  /** The image cache, when `vision.cache.enabled`. */
  imageCache?: ImageCachePort | undefined;
  /** SARAi's log folder (log retention). */
  logDir: string;
  /** The folder whose disk the disk check watches. */
  stateDir: string;
}

/** The settings of the built-in actions, from `proactive.*` in the config. */
export interface LoopSettings {
  /** Process RSS above which the RAM check prunes, in bytes. */
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
