import { AppError } from "../shared/index.js";
import { requestServer, type LoopbackTarget } from "./loopback-http.js";
import type { ModelServer, PruneReport } from "./ports.js";

export interface LoopbackModelServerOptions extends LoopbackTarget {
  /** Gives up on the server after this long, in ms (the run's own timeout still applies). Default: `30000`. */
  timeoutMs?: number;
}

/**
 * The server as `sarai loop` reaches it: its RSS from `GET /v1/loop/server`, its pruner through
 * `POST /v1/loop/prune` (both admin routes: the key must not be bound to a user). Errors name the server and
 * what it answered (see `requestServer`).
 */
export function createLoopbackModelServer(options: LoopbackModelServerOptions): ModelServer {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return {
    async rssBytes(signal) {
      const body = (await requestServer(
        options,
        { method: "GET", path: "/v1/loop/server", timeoutMs },
        signal,
      )) as { rss_bytes?: unknown } | null;
      const rss = body?.rss_bytes;
      if (typeof rss !== "number" || !Number.isFinite(rss) || rss < 0) {
        throw new AppError("OUTPUT_INVALID", `the server at ${options.serverUrl} answered without rss_bytes`);
      }
      return rss;
    },
    async prune(prune, signal) {
      const body = (await requestServer(
        options,
        {
          method: "POST",
          path: "/v1/loop/prune",
          body: {
            ...(prune.unloadModels === undefined ? {} : { unloadModels: prune.unloadModels }),
            ...(prune.dropCaches === undefined ? {} : { dropCaches: prune.dropCaches }),
          },
          timeoutMs,
        },
        signal,
      )) as Partial<Record<keyof PruneWire, unknown>> | null;
      return fromWire(body, options.serverUrl);
    },
  };
}

/** The body of `POST /v1/loop/prune`'s answer. */
export interface PruneWire {
  object: "loop.prune";
  unloaded_models: string[];
  dropped_caches: string[];
  rss_before_bytes: number;
  rss_after_bytes: number;
  errors: string[];
}

/** A prune report as the route sends it. */
export function toPruneWire(report: PruneReport): PruneWire {
  return {
    object: "loop.prune",
    unloaded_models: report.unloadedModels,
    dropped_caches: report.droppedCaches,
    rss_before_bytes: report.rssBeforeBytes,
    rss_after_bytes: report.rssAfterBytes,
    errors: report.errors,
  };
}

function fromWire(body: Partial<Record<keyof PruneWire, unknown>> | null, serverUrl: string): PruneReport {
  const strings = (value: unknown) =>
    Array.isArray(value) && value.every((v) => typeof v === "string") ? value : undefined;
  const unloadedModels = strings(body?.unloaded_models);
  const droppedCaches = strings(body?.dropped_caches);
  const errors = strings(body?.errors);
  const before = body?.rss_before_bytes;
  const after = body?.rss_after_bytes;
  if (
    unloadedModels === undefined ||
    droppedCaches === undefined ||
    errors === undefined ||
    typeof before !== "number" ||
    typeof after !== "number"
  ) {
    throw new AppError(
      "OUTPUT_INVALID",
      `the server at ${serverUrl} answered the prune with an unexpected body`,
    );
  }
  return { unloadedModels, droppedCaches, rssBeforeBytes: before, rssAfterBytes: after, errors };
}
