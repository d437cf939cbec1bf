import {
  chmodSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  watch,
  writeFileSync,
  type FSWatcher,
} from "node:fs";
import path from "node:path";
import { isMap, type Document } from "yaml";
import { AppError, toAppError, type Logger } from "../shared/index.js";
import { ConfigError } from "./config-error.js";
import { isDeepEqual, isPlainObject, mergeDeep } from "./deep-merge.js";
import {
  buildLoadedConfig,
  locateConfigFile,
  parseConfigYaml,
  readConfigFile,
  type ConfigFileText,
  type ConfigResult,
  type LoadConfigOptions,
  type LoadedConfig,
} from "./load.js";
import type { ConfigEnv, ConfigPatch, ResolvedConfig } from "./schema.js";

/** Called after a new config replaced the running one. A throw or rejection is logged, never propagated. */
export type ConfigListener = (next: ResolvedConfig, previous: ResolvedConfig) => void | Promise<void>;

/** What a successful reload or apply did. */
export interface ConfigChange {
  /** The running config after the call. */
  readonly config: ResolvedConfig;
  /** The running config before the call. */
  readonly previous: ResolvedConfig;
  /** False when the new config equals the previous one; subscribers are only notified when true. */
  readonly changed: boolean;
}

/** A store loads like `loadConfig` and reloads with the same options. */
export interface ConfigStoreOptions extends LoadConfigOptions {
  /** Receives reload warnings, subscriber failures and watcher errors. */
  logger: Logger;
  /**
   * A config already loaded with the same options (e.g. to build the logger first); loaded here when absent,
   * which throws like `loadConfig` does.
   */
  initial?: LoadedConfig | undefined;
  /** Quiet time after the last file event before the file is re-read, in ms. Default: `100`. */
  debounceMs?: number | undefined;
}

/** Options for `ConfigStore.apply`. */
export interface ApplyConfigOptions {
  /**
   * Also write the patch into the config file, keeping its comments and layout. The file on disk must be valid
   * with the patch applied, and the write replaces it atomically. Relative paths in the patch are then relative
   * to the file. Env vars and overrides still win over the file. Default: `false` (in memory only: the patch wins
   * over every other layer, survives reloads, and is lost on restart).
   */
  persist?: boolean | undefined;
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

/** Each leaf path a patch sets. */
function listLeafPaths(patch: Record<string, unknown>, prefix: string[] = []): string[][] {
  return Object.entries(patch).flatMap(([key, value]) => {
    if (value === undefined) return [];
    return isPlainObject(value) ? listLeafPaths(value, [...prefix, key]) : [[...prefix, key]];
  });
}

/** A copy of `patch` without the given leaf paths, dropping objects left empty. */
function removeLeafPaths(
  patch: Record<string, unknown>,
  paths: readonly string[][],
): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    const below = paths.filter((leaf) => leaf[0] === key).map((leaf) => leaf.slice(1));
    if (below.some((rest) => rest.length === 0)) continue;
    if (isPlainObject(value) && below.length > 0) {
      const kept = removeLeafPaths(value, below);
      if (Object.keys(kept).length > 0) result[key] = kept;
    } else {
      result[key] = value;
    }
  }
  return result;
}

/** Writes each leaf of `patch` into the YAML document, descending into existing maps so comments stay put. */
function writePatchToDocument(
  document: Document,
  patch: Record<string, unknown>,
  prefix: string[] = [],
): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    const keyPath = [...prefix, key];
    if (isPlainObject(value) && isMap(document.getIn(keyPath, true))) {
      writePatchToDocument(document, value, keyPath);
    } else {
      document.setIn(keyPath, value);
    }
  }
}

/** Replaces `file` with `text` through a temporary file and a rename, keeping the file's mode. */
function writeFileAtomically(file: string, text: string): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(temporary, text, "utf8");
    chmodSync(temporary, statSync(file).mode & 0o7777);
    renameSync(temporary, file);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // Already renamed or never created.
    }
    throw error;
  }
}

/**
 * Holds the running config and replaces it only with configs that validated: on a file change (`watch()`), an
 * explicit `reload()`, or a programmatic `apply(patch)`. A rejected change leaves the running config in place.
 */
export class ConfigStore {
  #loaded: LoadedConfig;
  readonly #logger: Logger;
  readonly #options: LoadConfigOptions & { env: ConfigEnv };
  readonly #debounceMs: number;
  readonly #listeners = new Set<ConfigListener>();
  /** The file text the running config was built from; `apply()` without `persist` rebuilds from it. */
  #acceptedText: string | undefined;
  /** The file text last seen by the watcher or `reload()`, valid or not; events that leave it unchanged are ignored. */
  #lastSeenText: string | undefined;
  /** In-memory patches from `apply()`, merged over every other layer. */
  #patch: Record<string, unknown> = {};
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #disposed = false;

  constructor(options: ConfigStoreOptions) {
    const { logger, initial, debounceMs, ...loadOptions } = options;
    this.#logger = logger;
    this.#debounceMs = debounceMs ?? 100;
    this.#options = { ...loadOptions, env: loadOptions.env ?? process.env };
    if (initial === undefined) {
      const location = locateConfigFile(this.#options);
      const file = location === undefined ? undefined : readConfigFile(location);
      this.#loaded = this.#build(file, {});
      this.#acceptedText = file?.text;
      this.#lastSeenText = file?.text;
    } else {
      this.#loaded = initial;
      // The file may have changed since `initial` was loaded: leave `#lastSeenText` unset so that the first
      // watcher event re-reads it whatever it holds.
      this.#acceptedText = this.#tryReadText(initial.file);
    }
  }

  /** The running config, deep-frozen. */
  get current(): ResolvedConfig {
    return this.#loaded.config;
  }

  /** The running config with the file and env vars it came from. */
  get loaded(): LoadedConfig {
    return this.#loaded;
  }

  /** Calls `listener(next, previous)` after each change; returns the function that unsubscribes it. */
  subscribe(listener: ConfigListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Re-reads the config file with the same env and overrides. On success the new config replaces the running
   * one and subscribers are notified (if it differs); on failure the running config stays, a warning with the
   * reason is logged, and the error is returned.
   */
  reload(): ConfigResult<ConfigChange> {
    if (this.#disposed) return this.#rejectDisposed();
    let file: ConfigFileText | undefined;
    try {
      file = this.#readCurrentFile();
    } catch (error) {
      return this.#reject(toAppError(error), this.#loaded.file);
    }
    this.#lastSeenText = file?.text;
    return this.#replaceFromFile(file);
  }

  /**
   * Watches the config file's directory (editors save by writing a new file and renaming it over the old one),
   * re-reading the file 100 ms after the last event and reloading only if its text changed. Returns false when
   * there is no config file to watch. Idempotent. The watcher does not keep the process alive.
   */
  watch(): boolean {
    if (this.#disposed) return false;
    if (this.#watcher !== undefined) return true;
    const file = this.#loaded.file;
    if (file === undefined) {
      this.#logger.debug("no config file; hot reload is off");
      return false;
    }
    const base = path.basename(file);
    this.#watcher = watch(path.dirname(file), { persistent: false }, (_event, name) => {
      // `..data` is how Kubernetes swaps mounted ConfigMaps; `null` is a platform that does not say.
      if (name === null || name === base || name.startsWith("..")) this.#scheduleCheck();
    });
    this.#watcher.on("error", (error) => {
      this.#logger.warn({ err: error, file }, "config watcher failed; hot reload stopped");
      this.#stopWatching();
    });
    this.#logger.debug({ file }, "watching config file");
    return true;
  }

  /**
   * Deep-merges `patch` into the config, validates the result and, only if it is valid, makes it the running
   * config and notifies subscribers. Returns the validation error otherwise; nothing is logged.
   */
  apply(patch: ConfigPatch, options: ApplyConfigOptions = {}): ConfigResult<ConfigChange> {
    if (this.#disposed) return this.#rejectDisposed();
    if (!isPlainObject(patch)) {
      return {
        ok: false,
        error: new ConfigError([{ path: "(root)", message: "a patch must be an object" }]),
      };
    }
    if (options.persist === true) return this.#applyPersisted(patch);
    return this.#replacePatch(mergeDeep(this.#patch, patch));
  }

  /**
   * Takes back the leaves an earlier in-memory `apply()` set (the values in `patch` are ignored, only its shape
   * counts), so the file and env vars decide them again. Subscribers are notified when the config changes.
   */
  withdraw(patch: ConfigPatch): ConfigResult<ConfigChange> {
    if (this.#disposed) return this.#rejectDisposed();
    return this.#replacePatch(removeLeafPaths(this.#patch, listLeafPaths(patch)));
  }

  /** Rebuilds the config with `patch` as the whole in-memory layer, over the text behind the running config. */
  #replacePatch(patch: Record<string, unknown>): ConfigResult<ConfigChange> {
    const file = this.#loaded.file;
    let next: LoadedConfig;
    try {
      // Rebuild from the text behind the running config, not from unvalidated edits that may be on disk.
      const text = this.#acceptedText;
      const accepted =
        file === undefined
          ? undefined
          : text === undefined
            ? readConfigFile(this.#loadedLocation(file))
            : { ...this.#loadedLocation(file), text };
      next = this.#build(accepted, patch);
      this.#acceptedText = accepted?.text;
    } catch (error) {
      return { ok: false, error: toAppError(error) };
    }
    this.#patch = patch;
    return { ok: true, value: this.#swap(next) };
  }

  /** Stops watching and drops subscribers. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#stopWatching();
    this.#listeners.clear();
  }

  #applyPersisted(patch: Record<string, unknown>): ConfigResult<ConfigChange> {
    const file = this.#loaded.file;
    if (file === undefined) {
      return {
        ok: false,
        error: new AppError("CONFIG_NOT_FOUND", "cannot persist the patch: no config file is in use"),
      };
    }
    const location = this.#loadedLocation(file);
    let next: LoadedConfig;
    let text: string;
    // The persisted keys now belong to the file; an older in-memory patch must not keep shadowing them.
    const remainingPatch = removeLeafPaths(this.#patch, listLeafPaths(patch));
    try {
      const { document } = parseConfigYaml(readConfigFile(location).text, file);
      writePatchToDocument(document, patch);
      text = document.toString();
      next = this.#build({ ...location, text }, remainingPatch);
      writeFileAtomically(file, text);
    } catch (error) {
      return { ok: false, error: toAppError(error) };
    }
    this.#patch = remainingPatch;
    this.#acceptedText = text;
    this.#lastSeenText = text;
    return { ok: true, value: this.#swap(next) };
  }

  #loadedLocation(file: string): { path: string; origin: NonNullable<LoadedConfig["fileOrigin"]> } {
    return { path: file, origin: this.#loaded.fileOrigin ?? "flag" };
  }

  /** Reads the file in use, or looks for one (`SARAI_CONFIG`, `./sarai.yaml`) when none was in use. */
  #readCurrentFile(): ConfigFileText | undefined {
    const file = this.#loaded.file;
    if (file !== undefined) return readConfigFile(this.#loadedLocation(file));
    const location = locateConfigFile(this.#options);
    return location === undefined ? undefined : readConfigFile(location);
  }

  #tryReadText(file: string | undefined): string | undefined {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, "utf8");
    } catch {
      return undefined;
    }
  }

  #build(file: ConfigFileText | undefined, patch: Record<string, unknown>): LoadedConfig {
    return buildLoadedConfig({
      file,
      env: this.#options.env,
      cwd: this.#options.cwd ?? process.cwd(),
      overrides: this.#options.overrides,
      patch,
      homeDir: this.#options.homeDir,
      totalMemoryBytes: this.#options.totalMemoryBytes,
    });
  }

  #replaceFromFile(file: ConfigFileText | undefined): ConfigResult<ConfigChange> {
    let next: LoadedConfig;
    try {
      next = this.#build(file, this.#patch);
    } catch (error) {
      return this.#reject(toAppError(error), file?.path);
    }
    this.#acceptedText = file?.text;
    return { ok: true, value: this.#swap(next) };
  }

  #swap(next: LoadedConfig): ConfigChange {
    const previous = this.#loaded.config;
    this.#loaded = next;
    const changed = !isDeepEqual(previous, next.config);
    if (changed) {
      this.#logger.info({ file: next.file }, "config updated");
      this.#notify(next.config, previous);
    }
    return { config: next.config, previous, changed };
  }

  #notify(next: ResolvedConfig, previous: ResolvedConfig): void {
    for (const listener of [...this.#listeners]) {
      try {
        const result = listener(next, previous);
        if (result instanceof Promise) {
          result.catch((error: unknown) => this.#logger.error({ err: error }, "config subscriber failed"));
        }
      } catch (error) {
        this.#logger.error({ err: error }, "config subscriber failed");
      }
    }
  }

  #reject(error: AppError, file: string | undefined): ConfigResult<ConfigChange> {
    const issues = error instanceof ConfigError ? error.issues : undefined;
    this.#logger.warn(
      { file, code: error.code, issues },
      `config change rejected, keeping the running config: ${error.message}`,
    );
    return { ok: false, error };
  }

  #rejectDisposed(): ConfigResult<ConfigChange> {
    return { ok: false, error: new AppError("INTERNAL", "the config store is disposed") };
  }

  #scheduleCheck(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#checkFile(), this.#debounceMs);
    this.#timer.unref();
  }

  #checkFile(): void {
    this.#timer = undefined;
    const file = this.#loaded.file;
    if (this.#disposed || file === undefined) return;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      // Mid-save the file can be briefly absent; the rename that completes the save brings another event.
      if (isNotFound(error)) this.#logger.debug({ file }, "config file absent; waiting for it to reappear");
      else this.#logger.warn({ err: error, file }, "cannot read the config file; keeping the running config");
      return;
    }
    if (text === this.#lastSeenText) {
      this.#logger.debug({ file }, "config file event ignored: content unchanged");
      return;
    }
    this.#lastSeenText = text;
    this.#replaceFromFile({ ...this.#loadedLocation(file), text });
  }

  #stopWatching(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}

/** Loads the config (unless `options.initial` is given) and returns a store holding it. */
export function createConfigStore(options: ConfigStoreOptions): ConfigStore {
  return new ConfigStore(options);
}
