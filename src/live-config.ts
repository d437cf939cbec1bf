/**
 * Hot config: the settings a running SARAi takes from a new `ResolvedConfig` without a restart (the config
 * store's hot reload, the self-repair's patches). Everything else in the config still needs one.
 */
import type { ResolvedConfig } from "./config/index.js";
import type { EmbeddedBackend, ModelPool, ModelPoolSettings, SpeculativeOptions } from "./inference/index.js";
import type { EntityStore } from "./memory/index.js";
import type { Logger } from "./shared/index.js";
import { VisionService, type ImageCache } from "./vision/index.js";

/** The running components `applyLiveConfig` changes; a part left out keeps its settings. */
export interface LiveParts {
  /** Takes `inference.contextSize`, `inference.sequences`, `inference.ramBudgetMb` and `server.maxQueue`. */
  pool?: ModelPool | undefined;
  /** Takes `inference.speculative.*`. */
  embedded?: EmbeddedBackend | undefined;
  /** Takes `memory.busyTimeoutMs`. */
  store?: EntityStore | undefined;
  /** Takes `vision.cache.maxMb` (a vision service passes it to its cache, if it has one). */
  imageCache?: ImageCache | VisionService | undefined;
  /**
   * Told about a setting a part refused (a closed store, say), which is then left out of the result. Without a
   * logger the first such failure is thrown, after every other setting has been applied.
   */
  logger?: Logger | undefined;
}

const mib = 2 ** 20;

/** The pool's settings in `config`, with the config name of each. */
const poolSettings: readonly {
  name: string;
  key: keyof ModelPoolSettings;
  read: (config: ResolvedConfig) => number;
}[] = [
  { name: "inference.contextSize", key: "contextSize", read: (c) => c.inference.contextSize },
  { name: "inference.sequences", key: "sequences", read: (c) => c.inference.sequences },
  { name: "inference.ramBudgetMb", key: "ramBudgetBytes", read: (c) => c.inference.ramBudgetMb * mib },
  { name: "server.maxQueue", key: "maxQueue", read: (c) => c.server.maxQueue },
];

type SpeculativeConfig = ResolvedConfig["inference"]["speculative"];

/** How each `inference.speculative.*` setting maps onto the backend's options. */
function toSpeculativeOptions(
  key: keyof SpeculativeConfig,
  value: SpeculativeConfig[keyof SpeculativeConfig],
): Partial<SpeculativeOptions> {
  return key === "cooldownSeconds" ? { cooldownMs: Number(value) * 1000 } : { [key]: value };
}

/**
 * Applies what changed from `previous` to `next` to the running parts and returns the dotted names of the
 * settings applied (none when nothing they take changed; a setting whose part is absent is not applied):
 *
 * - `inference.contextSize`, `inference.sequences`, `inference.ramBudgetMb`, `server.maxQueue`:
 *   {@link ModelPool.reconfigure}. The new values are in force when this returns; idle roles are unloaded in
 *   the background and busy ones replaced once their requests end (a generation in flight is never cut).
 * - `inference.speculative.*`: {@link EmbeddedBackend.updateSpeculative}, from the next request on.
 * - `memory.busyTimeoutMs`: {@link EntityStore.setBusyTimeout}.
 * - `vision.cache.maxMb`: {@link ImageCache.setMaxBytes}, evicting down to it at once.
 *
 * `server.requestTimeoutMs` is not here: the server reads it per request (`ServerOptions.requestTimeoutMs`).
 */
export function applyLiveConfig(next: ResolvedConfig, previous: ResolvedConfig, parts: LiveParts): string[] {
  const applied: string[] = [];
  const failures: unknown[] = [];
  const attempt = (names: readonly string[], apply: () => void): void => {
    try {
      apply();
      applied.push(...names);
    } catch (error) {
      failures.push(error);
      parts.logger?.warn({ err: error, settings: names }, "a live config change could not be applied");
    }
  };

  const { pool } = parts;
  if (pool !== undefined) {
    const changed = poolSettings.filter((setting) => setting.read(next) !== setting.read(previous));
    if (changed.length > 0) {
      const changes: Partial<ModelPoolSettings> = {};
      for (const setting of changed) changes[setting.key] = setting.read(next);
      const names = changed.map((setting) => setting.name);
      attempt(names, () => {
        // The settings are in force before the first await; only the unloading of idle roles is left.
        pool.reconfigure(changes).catch((error: unknown) => {
          parts.logger?.warn({ err: error, settings: names }, "reconfiguring the model pool failed");
        });
      });
    }
  }

  const { embedded } = parts;
  if (embedded !== undefined) {
    const before = previous.inference.speculative;
    const after = next.inference.speculative;
    const keys = (Object.keys(after) as (keyof SpeculativeConfig)[]).filter(
      (key) => after[key] !== before[key],
    );
    if (keys.length > 0) {
      const changes = Object.assign(
        {},
        ...keys.map((key) => toSpeculativeOptions(key, after[key])),
      ) as Partial<SpeculativeOptions>;
      attempt(
        keys.map((key) => `inference.speculative.${key}`),
        () => embedded.updateSpeculative(changes),
      );
    }
  }

  const { store } = parts;
  const busyTimeoutMs = readBusyTimeoutMs(next);
  if (store !== undefined && busyTimeoutMs !== undefined && busyTimeoutMs !== readBusyTimeoutMs(previous)) {
    attempt(["memory.busyTimeoutMs"], () => store.setBusyTimeout(busyTimeoutMs));
  }

  const { imageCache } = parts;
  const maxMb = next.vision.cache.maxMb;
  if (imageCache !== undefined && maxMb !== previous.vision.cache.maxMb) {
    const bytes = Math.max(1, Math.floor(maxMb * mib));
    attempt(["vision.cache.maxMb"], () => {
      if (imageCache instanceof VisionService) imageCache.setCacheMaxBytes(bytes);
      else imageCache.setMaxBytes(bytes);
    });
  }

  if (failures.length > 0 && parts.logger === undefined) throw failures[0];
  return applied;
}

/** `memory.busyTimeoutMs`, read so that a config without the field (an older schema) yields undefined. */
function readBusyTimeoutMs(config: ResolvedConfig): number | undefined {
  const value: unknown = (config.memory as { busyTimeoutMs?: unknown }).busyTimeoutMs;
  return typeof value === "number" ? value : undefined;
}
