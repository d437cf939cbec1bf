/**
 * Cumulative counters sampled over time, so a detector can ask how much a counter grew since a moment: the growth
 * from the newest sample at or before that moment (the oldest one when none is that old) to the latest.
 */
export class CounterWindow<K extends string> {
  readonly #keepMs: number;
  readonly #samples: { at: number; values: Record<K, number> }[] = [];

  /** `keepMs`: how long samples are kept, at least the longest window asked about. */
  constructor(keepMs: number) {
    this.#keepMs = keepMs;
  }

  sample(at: number, values: Record<K, number>): void {
    this.#samples.push({ at, values });
    const cutoff = at - this.#keepMs;
    // Keep one sample older than the cutoff: it is the start of the longest window.
    while (this.#samples.length > 2 && this.#samples[1]!.at <= cutoff) this.#samples.shift();
  }

  /** Growth of each counter since `since`; zeros before two samples exist. A counter that went down (a restart) counts from zero. */
  delta(since: number): Record<K, number> | undefined {
    const latest = this.#samples.at(-1);
    if (latest === undefined) return undefined;
    let start = this.#samples[0]!;
    for (const sample of this.#samples) if (sample.at <= since) start = sample;
    const result = {} as Record<K, number>;
    for (const key of Object.keys(latest.values) as K[]) {
      const now = latest.values[key];
      const then = start.values[key] ?? 0;
      result[key] = now >= then ? now - then : now;
    }
    return result;
  }
}
