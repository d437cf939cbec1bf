import { Ajv, type ValidateFunction } from "ajv";
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
    value = JSON.parse(text, (_key, item: unknown) => {
      if (typeof item === "number" && !Number.isFinite(item))
        throw new RangeError("a number is out of range");
      return item;
    });
  } catch (error) {
    return { ok: false, error: `not valid JSON: ${describeJsonError(text, error)}` };
  }
  if (schema === undefined) return { ok: true, value };
  let validate = compiled.get(schema);
  if (validate === undefined) {
    try {
      validate = ajv.compile(schema);
    } catch (error) {
      return { ok: false, error: `the JSON schema is not valid: ${(error as Error).message}` };
    }
    compiled.set(schema, validate);
  }
  if (!validate(value)) {
    const first = validate.errors?.[0];
    const where = first === undefined || first.instancePath === "" ? "the value" : first.instancePath;
    return { ok: false, error: `does not match the JSON schema: ${where} ${first?.message ?? "is invalid"}` };
  }
  return { ok: true, value };
}

/** V8's message with the line and column of the position it reports, when it reports one. */
function describeJsonError(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const position = /position (\d+)/.exec(message)?.[1];
  if (position === undefined) return message;
  const before = text.slice(0, Number(position)).split("\n");
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}: ${message}`;
}
