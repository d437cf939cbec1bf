import type { z } from "zod";
import { AppError, type AppErrorOptions } from "../shared/index.js";
import { getAtPath } from "./deep-merge.js";
import { findFieldSchema, getObjectShape } from "./schema-walk.js";

/** One problem found while loading the config. */
export interface ConfigIssue {
  /** Dotted path of the key, e.g. `inference.threads`; `(root)` for the document as a whole. */
  readonly path: string;
  /** What is wrong, e.g. `expected number, received string` or `unknown key`. */
  readonly message: string;
  /**
   * Where the offending value came from: `file:line:col`, an environment variable name, `overrides` or
   * `apply()`. Undefined when no layer set it (a default, or a required key that is missing).
   */
  readonly source?: string | undefined;
}

/** Options for `ConfigError`. */
export interface ConfigErrorOptions extends AppErrorOptions {
  /** The config file that was being loaded, if any. */
  file?: string | undefined;
}

/** `inference.threads: expected number, received string (from SARAI_INFERENCE_THREADS)`. */
export function formatConfigIssue(issue: ConfigIssue): string {
  return `${issue.path}: ${issue.message}${issue.source === undefined ? "" : ` (from ${issue.source})`}`;
}

/** The config failed validation (`CONFIG_INVALID`); `issues` lists every problem, and so does the message. */
export class ConfigError extends AppError {
  readonly issues: readonly ConfigIssue[];
  readonly file: string | undefined;

  constructor(issues: readonly ConfigIssue[], options: ConfigErrorOptions = {}) {
    const count = issues.length === 1 ? "1 issue" : `${issues.length} issues`;
    const where = options.file === undefined ? "" : ` in ${options.file}`;
    const lines = issues.map((issue) => `  ${formatConfigIssue(issue)}`);
    super("CONFIG_INVALID", [`invalid configuration${where} (${count}):`, ...lines].join("\n"), {
      cause: options.cause,
      param: options.param ?? issues[0]?.path,
    });
    this.name = "ConfigError";
    this.issues = Object.freeze(issues.map((issue) => Object.freeze({ ...issue })));
    this.file = options.file;
  }
}

/** Dotted form of an issue path; `(root)` when empty. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? "(root)" : path.map(String).join(".");
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function measureEditDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_unused, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The candidate closest to `word` (case-insensitive), if it is close enough to be a likely typo. */
export function suggestClosest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = measureEditDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** An issue before its path is formatted and its source looked up. */
export interface RawConfigIssue {
  path: PropertyKey[];
  message: string;
}

function isRootTypeMismatch(issues: readonly z.core.$ZodIssue[]): boolean {
  return issues.length === 1 && issues[0]?.code === "invalid_type" && issues[0].path.length === 0;
}

function describeZodIssue(issue: z.core.$ZodIssue, input: unknown): string {
  switch (issue.code) {
    case "invalid_type":
      if (input === undefined) return "required";
      if (issue.expected === "int" && typeof input === "number") return `expected integer, received ${input}`;
      return `expected ${issue.expected === "int" ? "integer" : issue.expected}, received ${describeType(input)}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((value) => String(value)).join(", ")}; received ${JSON.stringify(input)}`;
    case "too_small":
      if (issue.origin === "string" && Number(issue.minimum) === 1) return "must not be empty";
      return `must be ${issue.inclusive === false ? ">" : ">="} ${String(issue.minimum)}`;
    case "too_big":
      return `must be ${issue.inclusive === false ? "<" : "<="} ${String(issue.maximum)}`;
    default:
      return issue.message;
  }
}

/**
 * Turns zod issues into one issue per problem with a path relative to the config root: unknown keys are split
 * per key (with a did-you-mean), and a union that failed is reported through the option the input was aimed at.
 */
export function convertZodIssues(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  schema: z.core.$ZodType,
  prefix: readonly PropertyKey[] = [],
): RawConfigIssue[] {
  const result: RawConfigIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    const value = getAtPath(input, path);
    if (issue.code === "unrecognized_keys") {
      const objectSchema = findFieldSchema(schema, path);
      const known = objectSchema === undefined ? [] : Object.keys(getObjectShape(objectSchema) ?? {});
      for (const key of issue.keys) {
        const suggestion = suggestClosest(key, known);
        result.push({
          path: [...path, key],
          message: suggestion === undefined ? "unknown key" : `unknown key; did you mean "${suggestion}"?`,
        });
      }
    } else if (issue.code === "invalid_union" && issue.errors.length > 0) {
      const aimed = issue.errors.filter((branch) => !isRootTypeMismatch(branch));
      if (aimed.length === 1 && aimed[0] !== undefined) {
        result.push(...convertZodIssues(aimed[0], input, schema, path));
      } else {
        const expected = issue.errors
          .flatMap((branch) => (branch[0]?.code === "invalid_type" ? [branch[0].expected] : []))
          .join(" or ");
        result.push({
          path,
          message: `expected ${expected || "a valid value"}, received ${describeType(value)}`,
        });
      }
    } else {
      result.push({ path, message: describeZodIssue(issue, value) });
    }
  }
  return result;
}
