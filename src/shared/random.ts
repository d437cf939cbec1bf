/**
 * A small, fast, seedable PRNG (mulberry32): uniform draws in [0, 1). For reproducible choices (speculative
 * sampling's own draws, generated test pictures, benchmark workloads) — not for anything secret.
 */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
