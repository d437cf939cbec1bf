import { Ajv, type ValidateFunction } from "ajv";
import { AppError } from "../shared/index.js";
import type { FinishReason } from "./types.js";

const ajv = new Ajv({ allErrors: false, strict: false, validateFormats: false });
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
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (error) {
    ajv.removeSchema(schema);
    throw new AppError("GRAMMAR_INVALID", `the JSON schema is not valid: ${(error as Error).message}`, {
      cause: error,
      param: "jsonSchema",
    });
  }
  // Ajv keeps every compiled schema (and its $id) in its own cache: without this each request's schema would
  // stay in memory for good, and a second schema with the same $id would fail to compile.
  ajv.removeSchema(schema);
  if (validators.size >= maxCachedValidators) {
    const oldest = validators.keys().next().value;
    if (oldest !== undefined) validators.delete(oldest);
  }
  validators.set(key, validate);
  return validate;
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
  if (!validate(value)) {
    const first = validate.errors?.[0];
    const where = first === undefined || first.instancePath === "" ? "the value" : first.instancePath;
    throw invalid(`the output does not match the JSON schema: ${where} ${first?.message ?? "is invalid"}`);
  }
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
