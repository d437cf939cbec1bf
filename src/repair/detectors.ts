/**
 * The fault detectors: pure functions of one observation (structured log entries, metric deltas, probes). Each
 * finding names its target and carries the figures it was judged on, never a guess from message text.
 */
import type { ResolvedConfig } from "../config/index.js";
import type { Diagnosis, FaultKind, LogEntry, Observation } from "./types.js";

export type RepairThresholds = ResolvedConfig["repair"]["thresholds"];

type Detector = (observation: Observation, thresholds: RepairThresholds) => Diagnosis[];

const mib = 2 ** 20;

/** Error codes that mean a request ran out of time. */
const timeoutCodes = new Set(["REQUEST_TIMEOUT", "MODEL_TIMEOUT", "UPSTREAM_TIMEOUT"]);
/** SQLite result codes (better-sqlite3's `code`) that mean another connection holds the lock. */
const busyCodes = new Set(["SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_BUSY_TIMEOUT", "SQLITE_LOCKED"]);
/** Error codes that mean a model could not be loaded (a file that is corrupt is reported as that instead). */
const loadFailureCodes = new Set([
  "MODEL_LOAD_FAILED",
  "MODEL_TOO_LARGE",
  "MODEL_INVALID_FILE",
  "MODEL_TRUNCATED",
]);
/** SQLite result codes that mean the file is damaged. */
const corruptCodes = new Set(["SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_CORRUPT_INDEX"]);

function countBy(entries: readonly LogEntry[], match: (entry: LogEntry) => boolean): Map<string, number> {
  const counts = new Map<string, number>();
  for (const entry of entries) {
    if (!match(entry)) continue;
    const key = entry.target ?? "server";
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** A diagnosis on the server when the log entries carrying one of `codes` reach the threshold in the window. */
function repeatedErrors(
  fault: FaultKind,
  codes: ReadonlySet<string>,
  describe: (count: number) => string,
): Detector {
  return (observation, thresholds) => {
    const count = observation.logs.filter(
      (entry) => entry.code !== undefined && codes.has(entry.code),
    ).length;
    if (count < thresholds.errorsInWindow) return [];
    return [{ fault, target: "server", summary: describe(count), evidence: { errors: count } }];
  };
}

const ramPressure: Detector = ({ ram }, thresholds) => {
  const limit = ram.budgetBytes * thresholds.ramShare;
  if (ram.rssBytes <= limit) return [];
  return [
    {
      fault: "ram_pressure",
      target: "server",
      summary: `RSS ${Math.round(ram.rssBytes / mib)} MiB is over ${Math.round(100 * thresholds.ramShare)}% of the RAM budget (${Math.round(ram.budgetBytes / mib)} MiB)`,
      evidence: { rssMb: Math.round(ram.rssBytes / mib), budgetMb: Math.round(ram.budgetBytes / mib) },
    },
  ];
};

const contextOverflow = repeatedErrors(
  "context_overflow",
  new Set(["CONTEXT_OVERFLOW"]),
  (count) => `${count} requests did not fit the context window`,
);

const queueSaturation: Detector = ({ queues, logs }, thresholds) => {
  const queueRejections = logs.filter((entry) => entry.code === "QUEUE_FULL").length;
  const full = queues.filter((queue) => queue.maxQueue > 0 && queue.waiting >= queue.maxQueue);
  if (queueRejections < thresholds.errorsInWindow && full.length === 0) return [];
  const roles = full.map((queue) => queue.role);
  return [
    {
      fault: "queue_saturation",
      target: "server",
      summary:
        `${queueRejections} requests refused with a full queue` +
        (roles.length > 0 ? `; full now: ${roles.join(", ")}` : ""),
      evidence: {
        rejected: queueRejections,
        waiting: queues.reduce((sum, queue) => sum + queue.waiting, 0),
        ...(roles.length > 0 ? { full: roles.join(",") } : {}),
      },
    },
  ];
};

const repeatedTimeouts = repeatedErrors(
  "repeated_timeouts",
  timeoutCodes,
  (count) => `${count} requests timed out`,
);

const modelLoadFailure: Detector = (observation, thresholds) => {
  const found = new Map<string, Diagnosis>();
  for (const probe of observation.models) {
    if (probe.status !== "load_failed") continue;
    found.set(probe.role, {
      fault: "model_load_failure",
      target: probe.role,
      summary: `the ${probe.role} model does not load: ${probe.detail}`,
      evidence: { file: probe.file, detail: probe.detail },
    });
  }
  const logged = countBy(
    observation.logs,
    (entry) => entry.code !== undefined && loadFailureCodes.has(entry.code),
  );
  for (const [target, count] of logged) {
    if (count < Math.min(thresholds.errorsInWindow, 2)) continue;
    const role = observation.models.find((probe) => probe.file === target || probe.role === target)?.role;
    const key = role ?? target;
    if (found.has(key)) continue;
    found.set(key, {
      fault: "model_load_failure",
      target: key,
      summary: `${count} model loads failed for ${target}`,
      evidence: { errors: count, file: target },
    });
  }
  return [...found.values()];
};

const corruptModel: Detector = ({ models }) =>
  models
    .filter((probe) => probe.status === "corrupt" || probe.status === "missing")
    .map((probe) => ({
      fault: "corrupt_model" as const,
      target: probe.role,
      summary: `the ${probe.role} model file is ${probe.status}: ${probe.detail}`,
      evidence: { file: probe.file, status: probe.status, detail: probe.detail },
    }));

const diskFull: Detector = ({ disk }, thresholds) => {
  if (disk.freeBytes >= thresholds.minFreeDiskMb * mib) return [];
  return [
    {
      fault: "disk_full",
      target: disk.path,
      summary: `${Math.round(disk.freeBytes / mib)} MiB free under ${disk.path}, under ${thresholds.minFreeDiskMb} MiB`,
      evidence: { freeMb: Math.round(disk.freeBytes / mib), minFreeMb: thresholds.minFreeDiskMb },
    },
  ];
};

const sqliteLocked: Detector = (observation, thresholds) => {
  const found = new Map<string, Diagnosis>();
  for (const probe of observation.databases) {
    if (probe.status !== "busy") continue;
    found.set(probe.name, {
      fault: "sqlite_locked",
      target: probe.name,
      summary: `the ${probe.name} database is locked: ${probe.detail}`,
      evidence: { file: probe.file, detail: probe.detail },
    });
  }
  const busy = observation.logs.filter((entry) => entry.code !== undefined && busyCodes.has(entry.code));
  if (busy.length >= thresholds.errorsInWindow && found.size === 0) {
    found.set("memory", {
      fault: "sqlite_locked",
      target: "memory",
      summary: `${busy.length} database writes failed on a lock`,
      evidence: { errors: busy.length },
    });
  }
  return [...found.values()];
};

const sqliteCorrupt: Detector = (observation) => {
  const found = new Map<string, Diagnosis>();
  for (const probe of observation.databases) {
    if (probe.status !== "corrupt") continue;
    found.set(probe.name, {
      fault: "sqlite_corrupt",
      target: probe.name,
      summary: `the ${probe.name} database is damaged: ${probe.detail}`,
      evidence: { file: probe.file, detail: probe.detail },
    });
  }
  const logged = observation.logs.filter((entry) => entry.code !== undefined && corruptCodes.has(entry.code));
  if (logged.length > 0 && found.size === 0) {
    found.set("memory", {
      fault: "sqlite_corrupt",
      target: "memory",
      summary: `${logged.length} database operations found a damaged file`,
      evidence: { errors: logged.length },
    });
  }
  return [...found.values()];
};

const imageCacheThrash: Detector = ({ imageCache }, thresholds) => {
  if (imageCache === undefined || imageCache.lookups < thresholds.minCacheLookups) return [];
  const rate = imageCache.hits / imageCache.lookups;
  if (rate >= thresholds.cacheHitRate) return [];
  return [
    {
      fault: "image_cache_thrash",
      target: "image cache",
      summary: `image cache hit rate ${(100 * rate).toFixed(0)}% over ${imageCache.lookups} lookups, under ${Math.round(100 * thresholds.cacheHitRate)}%`,
      evidence: { lookups: imageCache.lookups, hits: imageCache.hits, hitRate: Number(rate.toFixed(3)) },
    },
  ];
};

const lowAcceptance: Detector = ({ speculative }, thresholds) => {
  if (speculative === undefined || speculative.drafted < thresholds.minDraftedTokens) return [];
  const rate = speculative.accepted / speculative.drafted;
  if (rate >= thresholds.acceptanceFloor) return [];
  return [
    {
      fault: "low_speculative_acceptance",
      target: "draft",
      summary: `the draft model's tokens were accepted ${(100 * rate).toFixed(0)}% of the time over ${speculative.drafted} drafted, under ${Math.round(100 * thresholds.acceptanceFloor)}%`,
      evidence: {
        drafted: speculative.drafted,
        accepted: speculative.accepted,
        acceptance: Number(rate.toFixed(3)),
      },
    },
  ];
};

const loopDown: Detector = ({ loop }) => {
  if (loop === undefined || loop.alive) return [];
  return [
    {
      fault: "loop_down",
      target: "loop",
      summary: `the proactive loop is not running: ${loop.detail}`,
      evidence: { detail: loop.detail },
    },
  ];
};

/** Every detector, by the fault it finds. */
export const detectors: Readonly<Record<FaultKind, Detector>> = {
  ram_pressure: ramPressure,
  context_overflow: contextOverflow,
  queue_saturation: queueSaturation,
  repeated_timeouts: repeatedTimeouts,
  model_load_failure: modelLoadFailure,
  corrupt_model: corruptModel,
  disk_full: diskFull,
  sqlite_locked: sqliteLocked,
  sqlite_corrupt: sqliteCorrupt,
  image_cache_thrash: imageCacheThrash,
  low_speculative_acceptance: lowAcceptance,
  loop_down: loopDown,
};

/** Runs every detector over the observation. A corrupt model file also fails to load: only the corruption is kept. */
export function diagnose(observation: Observation, thresholds: RepairThresholds): Diagnosis[] {
  const found = Object.values(detectors).flatMap((detect) => detect(observation, thresholds));
  const corrupt = new Set(found.filter((d) => d.fault === "corrupt_model").map((d) => d.target));
  return found.filter((d) => d.fault !== "model_load_failure" || !corrupt.has(d.target));
}

/** Whether the observation still shows the fault on the target. */
export function stillFaulty(
  diagnosis: Pick<Diagnosis, "fault" | "target">,
  observation: Observation,
  thresholds: RepairThresholds,
): boolean {
  return detectors[diagnosis.fault](observation, thresholds).some((d) => d.target === diagnosis.target);
}
