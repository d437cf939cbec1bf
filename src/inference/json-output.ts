import { Ajv, type ValidateFunction } from "ajv";
import type { RegExpEngine } from "ajv/dist/types/index.js";
import { AppError, createTimedRegExp } from "../shared/index.js";
import type { FinishReason } from "./types.js";

/** Schemas come from clients: a `pattern` runs under a timeout, so it cannot block the server. */
const timedRegExp: RegExpEngine = Object.assign(
  (pattern: string, flags: string) => createTimedRegExp(pattern, flags, patternTimeoutMs),
  { code: "createTimedRegExp" },
);
const patternTimeoutMs = 100;
const ajv = new Ajv({
  allErrors: false,
  strict: false,
  validateFormats: false,
  code: { regExp: timedRegExp },
});
const validators = new Map<string, ValidateFunction>();
const maxCachedValidators = 64;

/**
 * Compiles (and caches) a full JSON Schema validator. The grammar that node-llama-cpp derives from a schema
 * enforces only part of it (not `minimum`, `pattern`, …), so every output is also checked against the whole
 * schema here. A schema that does not compile is a `GRAMMAR_INVALID` error.
 */
export function compileJsonSchemaValidator(schema: Readonly<Record<string, unknown>>): ValidateFunction {
  const key = JSON.stringify(schema);
  const cached = validators.get(key);
  if (cached !== undefined) return cached;
  // Ajv keeps every compiled schema, and every $id in it (nested ones too), for good: without forgetting them
  // each request's schema would stay in memory and a second schema with the same $id would fail to compile.
  const knownRefs = new Set(Object.keys(ajv.refs));
  const knownSchemas = new Set(Object.keys(ajv.schemas));
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (error) {
    throw new AppError("GRAMMAR_INVALID", `the JSON schema is not valid: ${(error as Error).message}`, {
      cause: error,
      param: "jsonSchema",
    });
  } finally {
    ajv.removeSchema(schema);
    for (const key of Object.keys(ajv.refs)) if (!knownRefs.has(key)) Reflect.deleteProperty(ajv.refs, key);
    for (const key of Object.keys(ajv.schemas))
      if (!knownSchemas.has(key)) Reflect.deleteProperty(ajv.schemas, key);
  }
  if (validators.size >= maxCachedValidators) {
    const oldest = validators.keys().next().value;
    if (oldest !== undefined) validators.delete(oldest);
  }
  validators.set(key, validate);
  return validate;
}

/** How many schemas and `$id`s the shared Ajv instance holds (a check that nothing accumulates per request). */
export function retainedSchemaCount(): number {
  return Object.keys(ajv.refs).length + Object.keys(ajv.schemas).length;
}

/**
 * What is wrong with `value` under `validate` (where, and the first violation), or undefined when it is valid.
 * A `pattern` that times out is a violation too, never an exception for the caller.
 */
export function schemaProblem(validate: ValidateFunction, value: unknown): string | undefined {
  let valid: boolean;
  try {
    valid = validate(value);
  } catch (error) {
    return `the value could not be checked: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (valid) return undefined;
  const first = validate.errors?.[0];
  const where = first === undefined || first.instancePath === "" ? "the value" : first.instancePath;
  return `${where} ${first?.message ?? "is invalid"}`;
}

/**
 * `JSON.parse` that also refuses numbers JSON cannot carry (`1e999` parses to Infinity): a grammar lets a
 * model write them, and they would come back as `null` when serialised again.
 */
export function parseStrictJson(text: string): unknown {
  return JSON.parse(text, (_key, item: unknown) => {
    if (typeof item === "number" && !Number.isFinite(item)) throw new RangeError("a number is out of range");
    return item;
  });
}

/**
 * Parses model output that must be JSON valid against a schema. Anything else — cut short, not JSON, a
 * number JSON cannot carry, invalid UTF-8, or a schema violation — is an `OUTPUT_INVALID` error, so callers
 * never receive invalid JSON as a success.
 */
export function parseJsonOutput(
  text: string,
  validate: ValidateFunction,
  finishReason: FinishReason,
  maxTokens: number,
): unknown {
  const invalid = (message: string, param = "jsonSchema") => new OutputInvalidError(message, text, param);
  if (finishReason === "length") {
    throw invalid(
      `the output was cut at max_tokens (${maxTokens}) before the JSON value was complete`,
      "max_tokens",
    );
  }
  if (text.includes("\uFFFD")) throw invalid("the output contains invalid UTF-8");
  let value: unknown;
  try {
    value = parseStrictJson(text);
  } catch (error) {
    throw invalid(`the output is not valid JSON: ${(error as Error).message}`);
  }
  const problem = schemaProblem(validate, value);
  if (problem !== undefined) throw invalid(`the output does not match the JSON schema: ${problem}`);
  return value;
}

/** Output that failed its JSON schema, with the text the model wrote (the reflexive loop revises it). */
export class OutputInvalidError extends AppError {
  readonly output: string;

  constructor(message: string, output: string, param: string) {
    super("OUTPUT_INVALID", message, { param });
    this.name = "OutputInvalidError";
    this.output = output;
  }
}
