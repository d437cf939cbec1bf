/** A value built by `{}` or JSON/YAML parsing, as opposed to arrays, class instances and `null`. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/**
 * Merges `layers` left to right into a new object: plain objects merge key by key, anything else (scalars,
 * arrays) replaces what was there, and `undefined` values are skipped. Inputs are not modified.
 */
export function mergeDeep(...layers: readonly unknown[]): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const layer of layers) {
    if (!isPlainObject(layer)) continue;
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      const existing = result[key];
      result[key] =
        isPlainObject(value) && isPlainObject(existing)
          ? mergeDeep(existing, value)
          : isPlainObject(value)
            ? mergeDeep(value)
            : value;
    }
  }
  return result;
}

/** Freezes `value` and every object and array reachable from it; returns it for chaining. */
export function freezeDeep<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) freezeDeep(child);
  }
  return value;
}

/** Structural equality for plain data (objects, arrays, scalars), as produced by the config schema. */
export function isDeepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, index) => isDeepEqual(item, b[index]));
  }
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && isDeepEqual(a[key], b[key]));
}

/** The value at `path`, or undefined when the path leaves plain objects. */
export function getAtPath(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isPlainObject(current) || typeof key !== "string") return undefined;
    current = current[key];
  }
  return current;
}
