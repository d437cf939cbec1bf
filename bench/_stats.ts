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

/**
 * The model both generation benchmarks use: big enough that the model's work dominates per-token
 * JavaScript (about 6 ms of CPU per token on one EPYC core, 0.2 s of prompt), small enough for short runs.
 * Add `tokenizer` and `cacheDir` to synthesize it.
 */
export const benchModelShape = {
  layers: 8,
  width: 512,
  ffn: 2048,
  heads: 8,
  kvHeads: 4,
  quantization: "Q8_0",
  seed: 11,
} as const;

/** The prompt both generation benchmarks send. */
export const benchMessages = [
  { role: "system", content: "You are SARAi, a private assistant that runs on this computer." },
  {
    role: "user",
    content: "Explain in a few sentences why the sky looks blue during the day and red at sunset.",
  },
] as const;

/** Throws, naming where they part, when a run's output differs from the reference run's. */
export function assertSameOutput(
  reference: { text: string; completionTokens: number },
  sample: { text: string; completionTokens: number },
  arm: string,
): void {
  if (sample.text === reference.text && sample.completionTokens === reference.completionTokens) return;
  let at = 0;
  while (at < sample.text.length && sample.text[at] === reference.text[at]) at += 1;
  throw new Error(
    `outputs identical: no — the ${arm} run gave ${sample.completionTokens} tokens ` +
      `(reference ${reference.completionTokens}) and differs from character ${at}: ` +
      `${JSON.stringify(sample.text.slice(at, at + 40))} vs ${JSON.stringify(reference.text.slice(at, at + 40))}`,
  );
}

/** `median [p25–p75]` with the given decimals. */
export function formatSpread(summary: Summary, digits: number): string {
  const f = (value: number) => value.toFixed(digits);
  return `${f(summary.median)} [${f(summary.p25)}–${f(summary.p75)}]`;
}

/** A command-line integer of at least `min`; a clear error with the usage otherwise. */
export function parseIntegerOption(name: string, value: string, min: number, usage: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) {
    throw new RangeError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(value)}\n${usage}`);
  }
  return parsed;
}
