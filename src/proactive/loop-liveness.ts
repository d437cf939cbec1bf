import type { LoopStatus } from "./loop-service.js";

/**
 * A loop process whose heartbeat (written every `proactive.pollMs`) is older than this is taken for dead:
 * `sarai loop run` then runs the action itself, and status reports show the process as gone.
 */
export const loopAliveMs = 10_000;

/** The loop processes that beat within `loopAliveMs` of `status.now`. */
export function liveLoopProcesses(status: Pick<LoopStatus, "now" | "processes">): LoopStatus["processes"] {
  return status.processes.filter((p) => status.now - p.heartbeatAt < loopAliveMs);
}
