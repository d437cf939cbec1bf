import { Ajv, type ValidateFunction } from "ajv";
import { parseStrictJson } from "../../inference/index.js";
import type { ValidationResult } from "./validation-result.js";

const ajv = new Ajv({ allErrors: false, strict: false, validateFormats: false });
const compiled = new WeakMap<object, ValidateFunction>();

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
  let validate = compiled.get(schema);
  if (validate === undefined) {
    try {
      validate = ajv.compile(schema);
    } catch (error) {
      ajv.removeSchema(schema);
      return { ok: false, error: `the JSON schema is not valid: ${(error as Error).message}` };
    }
    // Ajv's own cache would keep every schema for good (the WeakMap here lets them go with their objects).
    ajv.removeSchema(schema);
    compiled.set(schema, validate);
  }
  if (!validate(value)) {
    const first = validate.errors?.[0];
    const where = first === undefined || first.instancePath === "" ? "the value" : first.instancePath;
    return { ok: false, error: `does not match the JSON schema: ${where} ${first?.message ?? "is invalid"}` };
  }
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
