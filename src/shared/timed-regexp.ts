import vm from "node:vm";

/** A match that ran past its time: the pattern backtracks catastrophically on this input. */
export class RegExpTimeoutError extends Error {
  constructor(pattern: string, ms: number) {
    super(`matching /${pattern}/ took longer than ${ms} ms (a pattern that backtracks catastrophically?)`);
    this.name = "RegExpTimeoutError";
  }
}

const script = new vm.Script("re.test(input)");

/**
 * A regular expression from a client (a JSON schema's `pattern`, a `verify` test) whose every `test` runs in a
 * V8 context with a timeout: a pattern like `(a+)+$` would otherwise block the event loop — every request —
 * for minutes. `test` throws `RegExpTimeoutError` past `timeoutMs`; a bad pattern throws `SyntaxError` here.
 */
export function createTimedRegExp(
  pattern: string,
  flags = "",
  timeoutMs = 100,
): { test(input: string): boolean; readonly source: string } {
  const context = vm.createContext({ re: new RegExp(pattern, flags), input: "" });
  return {
    source: pattern,
    test(input) {
      context["input"] = input;
      try {
        return script.runInContext(context, { timeout: Math.max(1, Math.ceil(timeoutMs)) }) === true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ERR_SCRIPT_EXECUTION_TIMEOUT")
          throw new RegExpTimeoutError(pattern, timeoutMs);
        throw error;
      } finally {
        context["input"] = "";
      }
    },
  };
}
