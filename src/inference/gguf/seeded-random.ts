/**
 * Deterministic pseudo-random numbers for synthetic weights: mulberry32 seeded with FNV-1a of a
 * string. Not for anything secret.
 */

/** FNV-1a 32-bit hash of a string's UTF-16 code units. */
export function hashToUint32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Creates a generator of uniform floats in [0, 1) (mulberry32). The same `seed` string always gives
 * the same sequence, on every platform.
 */
export function createSeededRandom(seed: string): () => number {
  let state = hashToUint32(seed);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
