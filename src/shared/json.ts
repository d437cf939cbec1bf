/** The text parsed as JSON, or undefined when it is not JSON (a body that may be anything). */
export function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
