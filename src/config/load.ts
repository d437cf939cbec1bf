import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { LineCounter, parseDocument, type Document } from "yaml";
import { AppError } from "../shared/index.js";
import { ConfigError, convertZodIssues, formatIssuePath, type ConfigIssue } from "./config-error.js";
import { freezeDeep, isPlainObject, mergeDeep } from "./deep-merge.js";
import { configFileEnvVar, readEnvOverrides, type EnvOverrides } from "./env-overrides.js";
import { resolveLayerPaths } from "./resolve-layer-paths.js";
import {
  createConfigSchema,
  resolveHomeDir,
  resolvePath,
  type ConfigEnv,
  type ConfigPatch,
  type ResolvedConfig,
} from "./schema.js";

/** The file looked for in the working directory when no file is named. */
export const defaultConfigFileName = "sarai.yaml";

/** How the config file was chosen: `--config`, `SARAI_CONFIG`, or `./sarai.yaml` found in the cwd. */
export type ConfigFileOrigin = "flag" | "env" | "cwd";

/** Where the config comes from; every field is optional. */
export interface LoadConfigOptions {
  /**
   * The file named by `--config`, relative to `cwd`. It must exist. When absent, `SARAI_CONFIG` is used, then
   * `./sarai.yaml` if it exists, else no file (defaults and env only).
   */
  file?: string | undefined;
  /** Where `SARAI_*` variables, `XDG_DATA_HOME` and `HOME` are read. Default: `process.env`. */
  env?: ConfigEnv | undefined;
  /**
   * Values from CLI flags; they win over the file and the environment. Relative paths in them resolve against
   * `cwd`, not the file's directory.
   */
  overrides?: ConfigPatch | undefined;
  /** Working directory for finding `sarai.yaml` and resolving env and flag paths. Default: `process.cwd()`. */
  cwd?: string | undefined;
  /** Directory `~` expands to. Default: `env.HOME`, else `os.homedir()`. */
  homeDir?: string | undefined;
  /** Total RAM in bytes for the automatic RAM budget; for tests. Default: `os.totalmem()`. */
  totalMemoryBytes?: number | undefined;
}

/** A resolved config and where it came from. Deep-frozen. */
export interface LoadedConfig {
  readonly config: ResolvedConfig;
  /** Absolute path of the config file read, or undefined when there was none. */
  readonly file: string | undefined;
  /** How the file was chosen; undefined when there was none. */
  readonly fileOrigin: ConfigFileOrigin | undefined;
  /** Names of the `SARAI_*` variables that were applied, sorted. */
  readonly envVars: readonly string[];
}

/** Success with a value, or the error that a caller can report; the shape of zod's `safeParse`. */
export type ConfigResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: AppError };

/** A config file to read and how it was chosen. */
export interface ConfigFileLocation {
  path: string;
  origin: ConfigFileOrigin;
}

/** A config file with its text, as read. */
export interface ConfigFileText extends ConfigFileLocation {
  text: string;
}

interface ParsedYaml {
  data: Record<string, unknown>;
  document: Document;
  lineCounter: LineCounter;
}

/** Everything a load depends on, with the file already read; the store uses it to reload from known text. */
export interface BuildConfigInput {
  file: ConfigFileText | undefined;
  env: ConfigEnv;
  cwd: string;
  overrides?: ConfigPatch | undefined;
  /** Programmatic patches (`ConfigStore.apply`), applied after the overrides. */
  patch?: ConfigPatch | undefined;
  homeDir?: string | undefined;
  totalMemoryBytes?: number | undefined;
}

/** Picks the config file: `file` (`--config`), then `SARAI_CONFIG`, then `./sarai.yaml` if present. */
export function locateConfigFile(
  options: Pick<LoadConfigOptions, "file" | "env" | "cwd" | "homeDir">,
): ConfigFileLocation | undefined {
  const env = options.env ?? process.env;
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const homeDir = resolveHomeDir({ env, homeDir: options.homeDir });
  if (options.file !== undefined && options.file !== "") {
    return { path: resolvePath(options.file, cwd, homeDir), origin: "flag" };
  }
  const fromEnv = env[configFileEnvVar];
  if (fromEnv !== undefined && fromEnv !== "")
    return { path: resolvePath(fromEnv, cwd, homeDir), origin: "env" };
  const candidate = path.join(cwd, defaultConfigFileName);
  return existsSync(candidate) ? { path: candidate, origin: "cwd" } : undefined;
}

function describeOrigin(origin: ConfigFileOrigin): string {
  switch (origin) {
    case "flag":
      return "named by --config";
    case "env":
      return `named by ${configFileEnvVar}`;
    case "cwd":
      return "found in the working directory";
  }
}

/** Reads a config file; `CONFIG_NOT_FOUND` naming the file if it is missing or unreadable. */
export function readConfigFile(location: ConfigFileLocation): ConfigFileText {
  try {
    return { ...location, text: readFileSync(location.path, "utf8") };
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    const reason = missing ? "does not exist" : `cannot be read (${(error as Error).message})`;
    throw new AppError(
      "CONFIG_NOT_FOUND",
      `config file ${location.path} (${describeOrigin(location.origin)}) ${reason}`,
      { cause: error, param: location.path },
    );
  }
}

/** Parses YAML text; `CONFIG_PARSE_FAILED` with `file:line:col` for each syntax error. */
export function parseConfigYaml(text: string, file: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    const lines = document.errors.map((error, index) => {
      const [headline = error.message, ...context] = error.message.split("\n");
      const position = error.linePos?.[0];
      const where = position === undefined ? file : `${file}:${position.line}:${position.col}`;
      const summary = `${where}: ${headline.replace(/ at line \d+, column \d+:?$/, "")}`;
      // The source excerpt under the first error is enough to find the spot.
      return index === 0
        ? [summary, ...context.filter((line) => line.trim() !== "")].join("\n    ")
        : summary;
    });
    throw new AppError("CONFIG_PARSE_FAILED", `invalid YAML in config file:\n  ${lines.join("\n  ")}`, {
      param: file,
    });
  }
  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (error) {
    throw new AppError(
      "CONFIG_PARSE_FAILED",
      `invalid YAML in config file:\n  ${file}: ${(error as Error).message}`,
      {
        cause: error,
        param: file,
      },
    );
  }
  if (data === null || data === undefined) data = {};
  if (!isPlainObject(data)) {
    const received = Array.isArray(data) ? "a list" : `a ${typeof data}`;
    throw new ConfigError(
      [{ path: "(root)", message: `expected a mapping of sections, received ${received}` }],
      {
        file,
      },
    );
  }
  return { data, document, lineCounter };
}

/** Whether `layer` sets the value at `path`, or replaced an object above it with a scalar. */
function isSetBy(layer: unknown, path: readonly PropertyKey[]): boolean {
  let current = layer;
  for (const key of path) {
    if (!isPlainObject(current)) return current !== undefined;
    current = current[String(key)];
  }
  return current !== undefined;
}

function isPathPrefix(prefix: readonly PropertyKey[], path: readonly PropertyKey[]): boolean {
  return prefix.length <= path.length && prefix.every((key, index) => path[index] === key);
}

function locateInYaml(yaml: ParsedYaml, file: string, path: readonly PropertyKey[]): string {
  for (let length = path.length; length > 0; length--) {
    const node: unknown = yaml.document.getIn(path.slice(0, length), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range !== undefined) {
      const { line, col } = yaml.lineCounter.linePos(range[0]);
      return `${file}:${line}:${col}`;
    }
  }
  return file;
}

interface Layers {
  file: { path: string; yaml: ParsedYaml; data: Record<string, unknown> } | undefined;
  env: EnvOverrides;
  overrides: Record<string, unknown>;
  patch: Record<string, unknown>;
}

/** Names the layer that set the value behind an issue: the highest-precedence one, at the path or above it. */
function findIssueSource(layers: Layers, path: readonly PropertyKey[]): string | undefined {
  for (let length = path.length; length > 0; length--) {
    const prefix = path.slice(0, length);
    if (isSetBy(layers.patch, prefix)) return "apply()";
    if (isSetBy(layers.overrides, prefix)) return "overrides";
    const variable = layers.env.applied.find(
      (applied) => isPathPrefix(applied.path, prefix) || isPathPrefix(prefix, applied.path),
    );
    if (variable !== undefined) return variable.name;
    if (layers.file !== undefined && isSetBy(layers.file.data, prefix)) {
      return locateInYaml(layers.file.yaml, layers.file.path, prefix);
    }
  }
  return undefined;
}

function requireLayerObject(value: unknown, name: string, issues: ConfigIssue[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (isPlainObject(value)) return value;
  issues.push({ path: "(root)", message: `expected an object, received ${typeof value}`, source: name });
  return {};
}

/**
 * Merges file → env → overrides → patch, validates, and returns the frozen result. Throws `ConfigError` listing
 * every issue, or `CONFIG_PARSE_FAILED` for bad YAML.
 */
export function buildLoadedConfig(input: BuildConfigInput): LoadedConfig {
  const cwd = path.resolve(input.cwd);
  const homeDir = resolveHomeDir({ env: input.env, homeDir: input.homeDir });
  const baseDir = input.file === undefined ? cwd : path.dirname(input.file.path);
  const schema = createConfigSchema({
    env: input.env,
    baseDir,
    homeDir,
    totalMemoryBytes: input.totalMemoryBytes,
  });

  const issues: ConfigIssue[] = [];
  const yaml = input.file === undefined ? undefined : parseConfigYaml(input.file.text, input.file.path);
  const env = readEnvOverrides(input.env, schema);
  const layers: Layers = {
    file:
      input.file === undefined || yaml === undefined
        ? undefined
        : { path: input.file.path, yaml, data: resolveLayerPaths(yaml.data, schema, baseDir, homeDir) },
    env: { ...env, data: resolveLayerPaths(env.data, schema, cwd, homeDir) },
    overrides: resolveLayerPaths(
      requireLayerObject(input.overrides, "overrides", issues),
      schema,
      cwd,
      homeDir,
    ),
    patch: resolveLayerPaths(requireLayerObject(input.patch, "apply()", issues), schema, cwd, homeDir),
  };

  const merged = mergeDeep(layers.file?.data, layers.env.data, layers.overrides, layers.patch);
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of convertZodIssues(parsed.error.issues, merged, schema)) {
      issues.push({
        path: formatIssuePath(issue.path),
        message: issue.message,
        source: findIssueSource(layers, issue.path),
      });
    }
  }
  issues.push(...env.issues);
  if (!parsed.success || issues.length > 0) throw new ConfigError(issues, { file: input.file?.path });

  return freezeDeep({
    config: parsed.data,
    file: input.file?.path,
    fileOrigin: input.file?.origin,
    envVars: env.applied.map((applied) => applied.name),
  });
}

function resolveLoadInput(options: LoadConfigOptions): BuildConfigInput {
  const env = options.env ?? process.env;
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const location = locateConfigFile({ ...options, env, cwd });
  return {
    file: location === undefined ? undefined : readConfigFile(location),
    env,
    cwd,
    overrides: options.overrides,
    homeDir: options.homeDir,
    totalMemoryBytes: options.totalMemoryBytes,
  };
}

/**
 * Loads the config: the file (`--config`, else `SARAI_CONFIG`, else `./sarai.yaml` if present), then `SARAI_*`
 * env overrides, then `overrides` from flags; validates and returns a deep-frozen result. Throws
 * `CONFIG_NOT_FOUND` for a named file that is missing, `CONFIG_PARSE_FAILED` for bad YAML, and `ConfigError`
 * (`CONFIG_INVALID`) listing every issue with its path.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  return buildLoadedConfig(resolveLoadInput(options));
}

/** `loadConfig` that returns config errors as `{ ok: false, error }` instead of throwing them. */
export function safeLoadConfig(options: LoadConfigOptions = {}): ConfigResult<LoadedConfig> {
  try {
    return { ok: true, value: loadConfig(options) };
  } catch (error) {
    if (error instanceof AppError) return { ok: false, error };
    throw error;
  }
}
