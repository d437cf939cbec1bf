import { compileJsonSchemaValidator } from "../inference/index.js";
import { runSandboxed, sandboxAvailable } from "../security/index.js";
import { AppError, createTimedRegExp, isAppError, RegExpTimeoutError } from "../shared/index.js";
import {
  pythonAvailable,
  validateJson,
  validatePython,
  validateReadOnlySql,
  type FactQueryRunner,
  type ValidationResult,
} from "../skills/index.js";

/** One check a request asks its answer to pass (`verify` in the API). */
export interface TextTest {
  /** The answer must contain this text. */
  contains?: string;
  /** The answer must not contain this text. */
  notContains?: string;
  /** The answer must match this regular expression (JavaScript syntax, no flags). */
  regex?: string;
}

/**
 * What a request says its answer must pass: valid JSON (against an optional schema), a read-only SQL query that
 * runs in the user's read-only fact sandbox, Python that parses (`python3 -c 'import ast'`), or text tests.
 */
export type VerifySpec =
  | { kind: "json"; schema?: Readonly<Record<string, unknown>> }
  | { kind: "sql" }
  | { kind: "python"; tests?: string }
  | { kind: "tests"; tests: readonly TextTest[] };

/** A verifier's verdict on one answer. */
export interface Verdict {
  name: string;
  ok: boolean;
  /** What is wrong, one line each; empty when `ok`. */
  issues: string[];
}

export interface Verifier {
  readonly name: string;
  verify(text: string, signal: AbortSignal): Promise<Verdict>;
}

export interface VerifierServices {
  /** Runs SQL read-only over one user's facts (the `sql` dry run). Without it SQL is only parsed. */
  factQueries?: FactQueryRunner;
}

const maxTests = 32;
const maxPythonTestChars = 20_000;
/** Python tests run this long at most, in the sandbox. */
const pythonTestTimeoutMs = 5000;
/**
 * A client's regular expression may backtrack catastrophically: all the regex tests of one check share this
 * much time (in a V8 context that stops them), then fail.
 */
const regexBudgetMs = 100;

/** Checks a `verify` value from a client; errors name the field (`verify.tests[2].regex`). */
export function parseVerifySpec(value: unknown, param = "verify"): VerifySpec {
  const fail = (message: string, at = param) =>
    new AppError("INVALID_REQUEST", `${at}: ${message}`, { param: at });
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw fail("must be an object");
  const record = value as Record<string, unknown>;
  const allowed = new Set(["kind", "schema", "tests"]);
  for (const key of Object.keys(record))
    if (!allowed.has(key)) throw fail("unknown field", `${param}.${key}`);
  switch (record["kind"]) {
    case "json": {
      const schema = record["schema"];
      if (schema === undefined) return { kind: "json" };
      if (typeof schema !== "object" || schema === null || Array.isArray(schema))
        throw fail("must be a JSON schema object", `${param}.schema`);
      try {
        compileJsonSchemaValidator(schema as Record<string, unknown>);
      } catch (error) {
        throw fail((error as Error).message, `${param}.schema`);
      }
      return { kind: "json", schema: schema as Record<string, unknown> };
    }
    case "python": {
      if (!pythonAvailable())
        throw fail("python3 is not installed on this server: Python cannot be checked", `${param}.kind`);
      const tests = record["tests"];
      if (tests === undefined) return { kind: "python" };
      if (typeof tests !== "string" || tests.trim() === "" || tests.length > maxPythonTestChars)
        throw fail(`must be Python code of 1 to ${maxPythonTestChars} characters`, `${param}.tests`);
      if (!sandboxAvailable())
        throw fail(
          "running tests needs bubblewrap (Debian's bubblewrap package) on this server",
          `${param}.tests`,
        );
      return { kind: "python", tests };
    }
    case "sql":
      return { kind: "sql" };
    case "tests": {
      const tests = record["tests"];
      if (!Array.isArray(tests) || tests.length === 0 || tests.length > maxTests)
        throw fail(`must be an array of 1 to ${maxTests} tests`, `${param}.tests`);
      return { kind: "tests", tests: tests.map((test, i) => parseTextTest(test, `${param}.tests[${i}]`)) };
    }
    default:
      throw fail('must be one of "json", "sql", "python", "tests"', `${param}.kind`);
  }
}

function parseTextTest(value: unknown, param: string): TextTest {
  const fail = (message: string, at = param) =>
    new AppError("INVALID_REQUEST", `${at}: ${message}`, { param: at });
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw fail("must be an object");
  const test: TextTest = {};
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    if (key !== "contains" && key !== "notContains" && key !== "regex")
      throw fail("unknown field", `${param}.${key}`);
    if (typeof field !== "string" || field === "" || field.length > 1000)
      throw fail("must be a string of 1 to 1000 characters", `${param}.${key}`);
    if (key === "regex") {
      try {
        new RegExp(field);
      } catch (error) {
        throw fail(`not a regular expression: ${(error as Error).message}`, `${param}.regex`);
      }
    }
    test[key] = field;
  }
  if (Object.keys(test).length !== 1) throw fail("give exactly one of contains, notContains, regex");
  return test;
}

/** The verifiers a spec asks for, bound to the user the turn acts for. */
export function createVerifier(spec: VerifySpec, userId: string, services: VerifierServices = {}): Verifier {
  switch (spec.kind) {
    case "json":
      return fromValidation("json", (text) => validateJson(text, spec.schema));
    case "python":
      return {
        name: "python",
        async verify(text) {
          const code = stripFence(text);
          const parsed = await validatePython(code, { syntaxOnly: true });
          if (!parsed.ok || spec.tests === undefined) return verdict("python", parsed);
          return runPythonTests(code, spec.tests);
        },
      };
    case "sql":
      return {
        name: "sql",
        verify(text) {
          const sql = stripFence(text);
          const parsed = validateReadOnlySql(sql);
          if (!parsed.ok) return Promise.resolve(verdict("sql", parsed));
          if (services.factQueries === undefined)
            return Promise.resolve({ name: "sql", ok: true, issues: [] });
          try {
            const queries = services.factQueries;
            if (queries.dryRun !== undefined) queries.dryRun(sql, userId);
            else queries.run(sql, userId);
            return Promise.resolve({ name: "sql", ok: true, issues: [] });
          } catch (error) {
            const message = isAppError(error) ? error.message : String(error);
            return Promise.resolve({ name: "sql", ok: false, issues: [message] });
          }
        },
      };
    case "tests":
      return {
        name: "tests",
        verify(text) {
          const issues: string[] = [];
          const deadline = performance.now() + regexBudgetMs;
          for (const test of spec.tests) {
            if (test.contains !== undefined && !text.includes(test.contains))
              issues.push(`the answer must contain ${JSON.stringify(test.contains)}`);
            if (test.notContains !== undefined && text.includes(test.notContains))
              issues.push(`the answer must not contain ${JSON.stringify(test.notContains)}`);
            if (test.regex !== undefined) {
              const matched = matchWithTimeout(test.regex, text, deadline - performance.now());
              if (matched === "timeout")
                issues.push(
                  `matching /${test.regex}/ ran out of the ${regexBudgetMs} ms the regex tests share; simplify the pattern`,
                );
              else if (!matched) issues.push(`the answer must match /${test.regex}/`);
            }
          }
          return Promise.resolve({ name: "tests", ok: issues.length === 0, issues });
        },
      };
  }
}

/** Runs one client regular expression with what is left of the check's budget. */
function matchWithTimeout(pattern: string, text: string, remainingMs: number): boolean | "timeout" {
  if (remainingMs < 1) return "timeout";
  try {
    return createTimedRegExp(pattern, "", remainingMs).test(text);
  } catch (error) {
    if (error instanceof RegExpTimeoutError) return "timeout";
    throw error;
  }
}

/**
 * The answer's code followed by the request's tests, run by `python3 -I` in the sandbox (read-only file system,
 * no network): passing means exiting 0. A failure reports the end of the traceback (the failing assert).
 */
async function runPythonTests(code: string, tests: string): Promise<Verdict> {
  const result = await runSandboxed({
    command: ["python3", "-I", "-"],
    input: `${code}\n\n${tests}\n`,
    timeoutMs: pythonTestTimeoutMs,
  });
  if (result.timedOut) {
    return {
      name: "python",
      ok: false,
      issues: [`the tests did not finish within ${pythonTestTimeoutMs} ms`],
    };
  }
  if (result.code === 0) return { name: "python", ok: true, issues: [] };
  const tail = result.stderr.trim().split("\n").slice(-3).join(" | ").slice(-400);
  return { name: "python", ok: false, issues: [`the tests failed: ${tail || `exit ${result.code ?? "?"}`}`] };
}

function fromValidation(
  name: string,
  validate: (text: string) => ValidationResult | Promise<ValidationResult>,
): Verifier {
  return {
    name,
    async verify(text) {
      return verdict(name, await validate(text));
    },
  };
}

function verdict(name: string, result: ValidationResult): Verdict {
  return result.ok ? { name, ok: true, issues: [] } : { name, ok: false, issues: [result.error] };
}

/** Models often wrap code in a Markdown fence; the verifier checks what is inside. */
function stripFence(text: string): string {
  const fenced = /^\s*```[\w-]*\n([\s\S]*?)\n?```\s*$/.exec(text);
  return fenced?.[1] ?? text;
}
