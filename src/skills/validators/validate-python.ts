import { spawn, spawnSync } from "node:child_process";
import { pythonAllowedModules, pythonForbiddenNames } from "../grammars/index.js";
import type { ValidationResult } from "./validation-result.js";

/** Parses the code from stdin with `ast.parse` and walks the tree for forbidden names and imports. */
const checker = `
import ast, json, sys
SYNTAX_ONLY = len(sys.argv) > 1 and sys.argv[1] == "--syntax-only"
FORBIDDEN = set(${JSON.stringify(pythonForbiddenNames)})
ALLOWED = set(${JSON.stringify(pythonAllowedModules)})
DUNDER = {"__import__", "__builtins__", "__subclasses__", "__globals__", "__code__", "__dict__", "__class__", "__bases__", "__mro__"}
src = sys.stdin.buffer.read().decode("utf-8", "replace")
def out(error, line=None, col=None):
    print(json.dumps({"error": error, "line": line, "column": col}))
    sys.exit(0)
try:
    tree = ast.parse(src)
except SyntaxError as e:
    out(e.msg, e.lineno, e.offset)
except ValueError as e:
    out(str(e))
if SYNTAX_ONLY:
    out(None)
for node in ast.walk(tree):
    at = (getattr(node, "lineno", None), (getattr(node, "col_offset", -1) or 0) + 1)
    if isinstance(node, ast.Name) and node.id in FORBIDDEN:
        out(f"'{node.id}' is not allowed", *at)
    if isinstance(node, ast.Attribute) and node.attr in DUNDER:
        out(f"'.{node.attr}' is not allowed", *at)
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] not in ALLOWED:
                out(f"import of '{alias.name}' is not allowed", *at)
    if isinstance(node, ast.ImportFrom):
        if node.level or (node.module or "").split(".")[0] not in ALLOWED:
            out(f"import from '{'.' * node.level}{node.module or ''}' is not allowed", *at)
out(None)
`;

let available: boolean | undefined;

/**
 * Whether `python3` runs on this machine (checked once). Without it `validatePython` cannot check anything and
 * answers `{ ok: false }` saying so — never a pass — so a caller that can live without the check (a test, a
 * skill that returns code but never runs it) asks this first and decides.
 */
export function pythonAvailable(): boolean {
  available ??= spawnSync("python3", ["--version"], { stdio: "ignore", timeout: 5000 }).status === 0;
  return available;
}

export interface ValidatePythonOptions {
  /** Kill `python3` after this many milliseconds (the result is then invalid). Default 5000. */
  timeoutMs?: number;
  /**
   * Only parse (`ast.parse`): any valid Python passes, imports and `open` included. For checking an answer that
   * is shown, never run (the reflexive loop's `verify: python`). Default: false (the skill's safety checks).
   */
  syntaxOnly?: boolean;
}

/**
 * Checks Python code with Python's own parser: `python3 -I -c <checker>` with the code on stdin (no shell),
 * `ast.parse`, then an `ast.walk` that refuses `exec`, `eval`, `compile`, `open`, `__import__` and similar
 * names, dunder attributes such as `.__globals__`, and imports of any module outside `pythonAllowedModules`
 * (so os, subprocess, sys, shutil, socket). A syntax error reads `line L, column C: message`. The value is the
 * code. When `python3` is missing the result is `{ ok: false }` naming that (see `pythonAvailable`).
 */
export async function validatePython(
  text: string,
  options: ValidatePythonOptions = {},
): Promise<ValidationResult> {
  if (text.trim() === "") return { ok: false, error: "the code is empty" };
  if (!pythonAvailable()) return { ok: false, error: "python3 is not on PATH: the code cannot be checked" };
  const { timeoutMs = 5000, syntaxOnly = false } = options;
  const child = spawn("python3", ["-I", "-c", checker, ...(syntaxOnly ? ["--syntax-only"] : [])], {
    stdio: ["pipe", "pipe", "pipe"],
    timeout: timeoutMs,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  child.stdin.on("error", () => undefined); // the checker may exit before reading everything
  child.stdin.end(text, "utf8");
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    // A spawn failure (EAGAIN, ENOMEM) is a failed check with its reason, never an exception for the caller.
    child.once("error", (error) => {
      stderr += `could not run python3: ${error.message}`;
      resolve([null, null]);
    });
    child.once("close", (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
  });
  if (signal !== null) return { ok: false, error: `python3 did not finish in ${timeoutMs} ms (${signal})` };
  const line = stdout.trim().split("\n").at(-1) ?? "";
  let report: { error: string | null; line: number | null; column: number | null };
  try {
    report = JSON.parse(line) as typeof report;
  } catch {
    return { ok: false, error: `python3 failed (exit ${code ?? "?"}): ${stderr.trim().slice(0, 300)}` };
  }
  if (report.error === null) return { ok: true, value: text };
  const at = report.line === null ? "" : `line ${report.line}, column ${report.column ?? 0}: `;
  return { ok: false, error: `${at}${report.error}` };
}
