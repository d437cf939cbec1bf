import type { Timings } from "./types.js";

/**
 * Timings of one generation from three clock readings (`performance.now()` ms): the call, the first token
 * (undefined when none came) and the end. Decode speed counts the tokens after the first one over the time
 * after it, so it is not diluted by prompt processing.
 */
export function measureTimings(
  started: number,
  firstTokenAt: number | undefined,
  ended: number,
  completionTokens: number,
): Timings {
  const first = firstTokenAt ?? ended;
  const decodeSeconds = (ended - first) / 1000;
  return {
    timeToFirstTokenMs: first - started,
    totalMs: ended - started,
    tokensPerSecond:
      completionTokens > 1 && decodeSeconds > 0
        ? (completionTokens - 1) / decodeSeconds
        : completionTokens / Math.max((ended - started) / 1000, 1e-9),
  };
}
