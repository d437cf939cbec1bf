import { stringify } from "yaml";
import { ConfigError, formatConfigIssue } from "./config-error.js";
import type { ResolvedConfig } from "./schema.js";

/** Header comments for `formatConfigYaml`. */
export interface FormatConfigYamlOptions {
  /** The config file the values came from, noted in a header comment. */
  file?: string | undefined;
  /** The `SARAI_*` variables that were applied, noted in a header comment. */
  envVars?: readonly string[] | undefined;
}

/**
 * The resolved config as YAML, for `sarai config print`: every default filled in, paths absolute. The output is
 * itself a valid config file.
 */
export function formatConfigYaml(config: ResolvedConfig, options: FormatConfigYamlOptions = {}): string {
  const header: string[] = [];
  if (options.file !== undefined) header.push(`# file: ${options.file}`);
  if (options.envVars !== undefined && options.envVars.length > 0)
    header.push(`# env: ${options.envVars.join(", ")}`);
  const body = stringify(redactSecrets(config), { lineWidth: 0 });
  return header.length === 0 ? body : `${header.join("\n")}\n${body}`;
}

/** A copy of the config with API keys replaced, so that printing it never shows a secret. */
function redactSecrets(config: ResolvedConfig): unknown {
  return JSON.parse(
    JSON.stringify(config, (key, value: unknown) => {
      if (key === "apiKeys" && Array.isArray(value)) return value.map(() => "[redacted]");
      if (key === "apiKey" && typeof value === "string") return "[redacted]";
      return value;
    }),
  );
}

/**
 * A config failure for the terminal: every issue of a `ConfigError` on its own line with its path and source,
 * or the message of any other error (a parse error already names `file:line:col`).
 */
export function formatConfigIssues(error: unknown): string {
  if (error instanceof ConfigError) {
    const where = error.file === undefined ? "" : ` (${error.file})`;
    const noun = error.issues.length === 1 ? "issue" : "issues";
    return [
      `Invalid configuration${where}, ${error.issues.length} ${noun}:`,
      ...error.issues.map((issue) => `  - ${formatConfigIssue(issue)}`),
    ].join("\n");
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
