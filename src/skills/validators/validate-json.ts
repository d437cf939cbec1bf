import { compileJsonSchemaValidator, parseStrictJson, schemaProblem } from "../../inference/index.js";
import type { ValidationResult } from "./validation-result.js";

/**
 * Parses `text` as JSON and, when a schema is given, checks it against the whole schema with Ajv (the grammar
 * derived from a schema does not enforce `minimum`, `pattern` and similar). The value is the parsed JSON. A
 * syntax error names its line and column; a schema that Ajv cannot compile is reported as the error, too.
 */
export function validateJson(text: string, schema?: Readonly<Record<string, unknown>>): ValidationResult {
  if (text.trim() === "") return { ok: false, error: "the output is empty" };
  if (text.includes("\uFFFD")) return { ok: false, error: "the output contains invalid UTF-8" };
  let value: unknown;
  try {
    value = parseStrictJson(text);
  } catch (error) {
    return { ok: false, error: `not valid JSON: ${describeJsonError(text, error)}` };
  }
  if (schema === undefined) return { ok: true, value };
  let validate;
  try {
    // One Ajv for every schema check (the inference port's): client patterns under a timeout, nothing kept.
    validate = compileJsonSchemaValidator(schema);
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
  const problem = schemaProblem(validate, value);
  if (problem !== undefined) return { ok: false, error: `does not match the JSON schema: ${problem}` };
  return { ok: true, value };
}

/**
 * The error message with the line and column of the first character that cannot start or continue a JSON text.
 * Node 20's messages often carry no position, so it is found by bisection: a prefix that ends before the bad
 * character only fails with "end of input", and every prefix that includes it fails otherwise.
 */
function describeJsonError(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const failsBefore = (end: number): boolean => {
    try {
      JSON.parse(text.slice(0, end));
      return false;
    } catch (prefixError) {
      const prefixMessage = (prefixError as Error).message;
      if (/end of JSON input/i.test(prefixMessage)) return false;
      // "Expected property name … at position 1" for "{": the prefix only ran out.
      const position = /at position (\d+)/.exec(prefixMessage)?.[1];
      return position === undefined || Number(position) < end;
    }
  };
  if (!failsBefore(text.length)) return message;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (failsBefore(middle)) high = middle;
    else low = middle + 1;
  }
  const before = text.slice(0, low - 1).split("\n");
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}: ${message}`;
}
