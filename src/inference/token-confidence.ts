import type { TokenConfidence } from "./types.js";

/** Mean, geometric mean and minimum of per-token probabilities (0–1; anything else counts as 0). */
export function summariseProbabilities(probabilities: readonly number[]): TokenConfidence {
  let sum = 0;
  let logSum = 0;
  let min = 1;
  for (const p of probabilities) {
    const value = Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 0;
    sum += value;
    logSum += Math.log(Math.max(value, 1e-12));
    min = Math.min(min, value);
  }
  const n = probabilities.length;
  return { mean: sum / n, geometricMean: Math.exp(logSum / n), min, tokens: n };
}
