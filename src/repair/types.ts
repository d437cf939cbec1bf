/**
 * The self-repair subsystem's vocabulary: what the detectors read (an observation of the running server), what
 * they find (a diagnosis with its evidence), and what a repair did (a record in the history).
 */
import type { ConfigPatch } from "../config/index.js";

/** The faults the detectors know. */
export const faultKinds = [
  "ram_pressure",
  "context_overflow",
  "queue_saturation",
  "repeated_timeouts",
  "model_load_failure",
  "corrupt_model",
  "disk_full",
  "sqlite_locked",
  "sqlite_corrupt",
  "image_cache_thrash",
  "low_speculative_acceptance",
  "loop_down",
] as const;

export type FaultKind = (typeof faultKinds)[number];

/** The three ways a fault is repaired: a config patch, a signed code patch, a model swap. */
export type RepairLevel = 1 | 2 | 3;

/** A structured log entry (a pino JSON line) of level warn or above, as the detectors read it. */
export interface LogEntry {
  /** Epoch ms. */
  readonly time: number;
  /** pino's number: 40 warn, 50 error, 60 fatal. */
  readonly level: number;
  readonly msg: string;
  /** The `AppError` code the entry carries (`code`, or `err.code`), if any. */
  readonly code?: string | undefined;
  /** The model role or file the entry names, if any (`role`, `param`, `file`). */
  readonly target?: string | undefined;
}

/** One model file as the probes found it. */
export interface ModelProbe {
  readonly role: string;
  readonly file: string;
  /** `corrupt`: not a GGUF file or not the bytes that were verified at start; `load_failed`: llama.cpp refused it. */
  readonly status: "ok" | "missing" | "corrupt" | "load_failed";
  readonly detail: string;
}

/** One SQLite database as the probes found it. */
export interface DatabaseProbe {
  readonly name: string;
  readonly file: string;
  readonly status: "ok" | "busy" | "corrupt" | "missing";
  readonly detail: string;
}

/** The running server at one moment, as the detectors see it. Counters are deltas over the window. */
export interface Observation {
  /** Epoch ms. */
  readonly at: number;
  /** Warn-and-above log entries inside the window. */
  readonly logs: readonly LogEntry[];
  readonly ram: { readonly rssBytes: number; readonly budgetBytes: number };
  /** Per model role: requests waiting for a sequence and the queue's bound. */
  readonly queues: readonly { readonly role: string; readonly waiting: number; readonly maxQueue: number }[];
  readonly disk: { readonly path: string; readonly freeBytes: number };
  readonly databases: readonly DatabaseProbe[];
  readonly models: readonly ModelProbe[];
  /** Image-cache lookups and hits inside the window; absent without the cache. */
  readonly imageCache?: { readonly lookups: number; readonly hits: number } | undefined;
  /** Drafted and accepted tokens inside the window; absent without a draft model or with speculation off. */
  readonly speculative?: { readonly drafted: number; readonly accepted: number } | undefined;
  /** Model roles served by another role's model (a level-3 swap). */
  readonly redirects?: readonly { readonly from: string; readonly to: string }[] | undefined;
  /** The proactive loop's processes; absent when the loop is off. */
  readonly loop?: { readonly alive: boolean; readonly detail: string } | undefined;
}

/** A fault the detectors found, with what they saw. */
export interface Diagnosis {
  readonly fault: FaultKind;
  /** What is at fault: a role, a file, a database name, `server`. One repair per fault and target at a time. */
  readonly target: string;
  readonly summary: string;
  readonly evidence: Readonly<Record<string, string | number | boolean>>;
}

/** What a repair was: a config patch with its revert, or an action. */
export interface RepairPlan {
  readonly level: RepairLevel;
  readonly fault: FaultKind;
  readonly target: string;
  /** One line: what is done, e.g. `inference.contextSize 2048 → 4096`. */
  readonly description: string;
  /** Applied through the config store's hot reload; the repairer reverts it when the fault does not clear. */
  readonly patch?: ConfigPatch | undefined;
  /** Write the patch into the config file (undoing a bad value that came from it) instead of holding it in memory. */
  readonly persist?: boolean | undefined;
  /** A repair that is not a config value (restart the loop, re-pull a model, swap it, free disk). */
  readonly act?: (() => Promise<string>) | undefined;
  /** Undoes `act` when the fault did not clear, if it can be undone. */
  readonly undo?: (() => Promise<string>) | undefined;
  /**
   * A workaround: the fault stays (a corrupt local file) but stops hurting. `verify` says whether the workaround
   * is in force; it is kept while the fault lasts, is not tried again meanwhile, and is undone once the fault is
   * gone (the file was fixed).
   */
  readonly workaround?: { readonly verify: (observation: Observation) => boolean } | undefined;
}

/** How a repair ended. */
export type RepairResult =
  /** The fault cleared within the verification window. */
  | "repaired"
  /** It did not clear; the change was reverted. */
  | "reverted"
  /** The repair itself failed (the config was refused, the action threw). */
  | "failed"
  /** Nothing SARAi can do automatically: an admin was notified. */
  | "unrepairable"
  /** `repair.autoApply` is off: diagnosed and notified only. */
  | "diagnosed";

/** One repair in the history. */
export interface RepairRecord {
  readonly id: number;
  readonly fault: FaultKind | "patch";
  readonly target: string;
  readonly level: RepairLevel | 0;
  readonly action: string;
  readonly result: RepairResult | "applied" | "refused" | "tests_failed" | "rolled_back";
  readonly summary: string;
  readonly evidence: Readonly<Record<string, unknown>>;
  readonly detail: string;
  /** Epoch ms. */
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly rolledBack: boolean;
}
