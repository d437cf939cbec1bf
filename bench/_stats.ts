/** Statistics shared by the benchmarks. Files starting with `_` are not benchmarks themselves. */

export interface Summary {
  count: number;
  min: number;
  p10: number;
  p25: number;
  median: number;
  p75: number;
  p90: number;
  max: number;
}

/** The `q` quantile (0–1) of already sorted values, interpolating linearly between neighbours. */
export function quantileOfSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError("no values");
  const position = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const below = Math.floor(position);
  const lower = sorted[below] ?? Number.NaN;
  const upper = sorted[Math.min(below + 1, sorted.length - 1)] ?? lower;
  return lower + (upper - lower) * (position - below);
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => quantileOfSorted(sorted, q);
  return {
    count: sorted.length,
    min: at(0),
    p10: at(0.1),
    p25: at(0.25),
    median: at(0.5),
    p75: at(0.75),
    p90: at(0.9),
    max: at(1),
  };
}

/** Element-wise `a[i] / b[i]`; ratios of runs made next to each other cancel slow drifts in machine load. */
export function pairRatios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new RangeError("the series differ in length");
  return a.map((value, i) => value / (b[i] ?? Number.NaN));
}

/** Prints rows as a left-aligned text table with a header line and a rule under it. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/**
 * A distribution-free confidence interval for the median (order statistics of the sorted values, from the
 * binomial distribution): no assumption about the shape of the noise. `undefined` when there are too few
 * values for that confidence (fewer than 6 for 95%).
 */
export function medianConfidenceInterval(
  values: readonly number[],
  confidence = 0.95,
): { low: number; high: number } | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  // Largest k with P(Binomial(n, ½) < k) ≤ (1 − confidence) / 2; the interval is [x(k), x(n − k + 1)].
  const tail = (1 - confidence) / 2;
  let k = 0;
  let cumulative = 0;
  let term = 0.5 ** n;
  for (let i = 0; i <= n; i += 1) {
    if (cumulative + term > tail) break;
    cumulative += term;
    k = i + 1;
    term = (term * (n - i)) / (i + 1);
  }
  if (k === 0) return undefined;
  return { low: sorted[k - 1] ?? Number.NaN, high: sorted[n - k] ?? Number.NaN };
}
