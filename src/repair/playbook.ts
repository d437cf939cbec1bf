/**
 * What to try for each fault, in order: undo a config change that came just before it, then a config patch
 * (level 1), then a model swap or re-pull (level 3). Level 2 (signed patches) is never chosen here: a person
 * writes and signs those.
 */
import type { ConfigPatch, ResolvedConfig } from "../config/index.js";
import type { Diagnosis, RepairPlan } from "./types.js";

/** The repairs that are not config values; the composition root implements them over the running parts. */
export interface RepairActions {
  /** Unloads models no request is using; returns what was unloaded. */
  unloadIdleModels(): Promise<string>;
  /** Removes what is disposable (the cache folder, expired cached images, old rotated logs); says how much. */
  freeDisk(): Promise<string>;
  /** Starts the proactive loop again (in this process, or by the configured command). */
  restartLoop(): Promise<string>;
  /** Makes the next request read the role's model file again. */
  reloadModel(role: string): Promise<string>;
  /** Downloads the role's model again through the pull path, checking it; undefined when its source is a local file. */
  repullModel?: ((role: string) => Promise<string>) | undefined;
  /** Serves the role from the fallback model; undefined when there is no fallback. */
  swapToFallback?: ((role: string) => Promise<string>) | undefined;
  /** Ends a swap. */
  endSwap?: ((role: string) => Promise<string>) | undefined;
  /** The model's training context length, when its file says. */
  trainedContext(role: string): number | undefined;
}

/** A config change the repairer saw, and the patch that undoes it. */
export interface ConfigChangeSeen {
  /** Epoch ms. */
  readonly at: number;
  /** The dotted leaves that changed. */
  readonly paths: readonly string[];
  /** Their values before the change. */
  readonly revert: ConfigPatch;
}

export interface PlaybookContext {
  readonly config: ResolvedConfig;
  readonly actions: RepairActions;
  /** A config change shortly before the fault was first seen. */
  readonly recentChange?: ConfigChangeSeen | undefined;
}

/** Config sections whose change can cause each fault (a change elsewhere is not undone for it). */
const causes: Readonly<Record<Diagnosis["fault"], readonly string[]>> = {
  ram_pressure: ["inference", "models", "vision"],
  context_overflow: ["inference", "models", "memory", "server"],
  queue_saturation: ["inference", "server", "models"],
  repeated_timeouts: ["inference", "server", "models", "reflect"],
  model_load_failure: ["inference", "models"],
  corrupt_model: ["models"],
  disk_full: ["log", "vision", "paths"],
  sqlite_locked: ["memory"],
  sqlite_corrupt: [],
  image_cache_thrash: ["vision"],
  low_speculative_acceptance: ["inference", "models"],
  loop_down: ["proactive"],
};

/** The repairs to try for a diagnosis, best first; empty when nothing can be done automatically. */
export function planRepairs(diagnosis: Diagnosis, context: PlaybookContext): RepairPlan[] {
  const plans: RepairPlan[] = [];
  const change = context.recentChange;
  const undo = change === undefined ? undefined : undoablePart(change, causes[diagnosis.fault]);
  if (undo !== undefined) {
    plans.push({
      level: 1,
      fault: diagnosis.fault,
      target: diagnosis.target,
      description: `undo the config change made just before the fault (${undo.paths.join(", ")})`,
      patch: undo.patch,
      persist: true,
    });
  }
  plans.push(...remedies(diagnosis, context));
  return plans;
}

/**
 * The part of a config change an undo may put back: its leaves under `sections` (a change elsewhere cannot have
 * caused the fault), never a credential (an API key revoked or replaced stays so, and is not written into the
 * file). Undefined when nothing is left.
 */
function undoablePart(
  change: ConfigChangeSeen,
  sections: readonly string[],
): { paths: string[]; patch: ConfigPatch } | undefined {
  const leaves = new Set(change.paths);
  const paths: string[] = [];
  const pick = (node: unknown, keyPath: readonly string[]): unknown => {
    const dotted = keyPath.join(".");
    if (leaves.has(dotted)) {
      if (!sections.includes(keyPath[0]!) || isCredential(keyPath)) return undefined;
      paths.push(dotted);
      return node;
    }
    if (typeof node !== "object" || node === null || Array.isArray(node)) return undefined;
    const kept: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(node)) {
      const value = pick(child, [...keyPath, key]);
      if (value !== undefined) kept[key] = value;
    }
    return Object.keys(kept).length > 0 ? kept : undefined;
  };
  const patch = pick(change.revert, []);
  return patch === undefined ? undefined : { paths, patch: patch as ConfigPatch };
}

/** `server.apiKeys` and every `apiKey` (remote models, transcription). */
function isCredential(keyPath: readonly string[]): boolean {
  return (keyPath[0] === "server" && keyPath[1] === "apiKeys") || keyPath.at(-1) === "apiKey";
}

function remedies(diagnosis: Diagnosis, { config, actions }: PlaybookContext): RepairPlan[] {
  const { fault, target } = diagnosis;
  const inference = config.inference;
  const base = { fault, target } as const;
  switch (fault) {
    case "ram_pressure": {
      const plan =
        inference.sequences > 1
          ? tune(
              base,
              ["inference", "sequences"],
              inference.sequences,
              Math.max(1, Math.floor(inference.sequences / 2)),
            )
          : inference.contextSize > 512
            ? tune(
                base,
                ["inference", "contextSize"],
                inference.contextSize,
                Math.max(512, inference.contextSize / 2),
              )
            : undefined;
      return [
        ...(plan === undefined ? [] : [{ ...plan, act: () => actions.unloadIdleModels() }]),
        { level: 1, ...base, description: "unload idle models", act: () => actions.unloadIdleModels() },
      ];
    }
    case "context_overflow": {
      const trained = actions.trainedContext("main") ?? Number.POSITIVE_INFINITY;
      const wanted = Math.min(inference.contextSize * 2, trained);
      if (wanted <= inference.contextSize) return [];
      return [tune(base, ["inference", "contextSize"], inference.contextSize, wanted)];
    }
    case "queue_saturation": {
      const server = config.server;
      return [
        tune(
          base,
          ["server", "maxQueue"],
          server.maxQueue,
          Math.min(10_000, Math.max(4, server.maxQueue * 2)),
        ),
      ];
    }
    case "repeated_timeouts": {
      const timeout = config.server.requestTimeoutMs;
      const stall = inference.speculative.stallTimeoutMs;
      return [
        {
          level: 1,
          ...base,
          description: `server.requestTimeoutMs ${timeout} → ${timeout * 2}, inference.speculative.stallTimeoutMs ${stall} → ${Math.min(600_000, stall * 2)}`,
          patch: {
            server: { requestTimeoutMs: timeout * 2 },
            inference: { speculative: { stallTimeoutMs: Math.min(600_000, stall * 2) } },
          },
        },
      ];
    }
    case "model_load_failure":
    case "corrupt_model":
      return modelRemedies(diagnosis, actions);
    case "disk_full":
      return [
        {
          level: 1,
          ...base,
          description: "remove disposable caches and old logs",
          act: () => actions.freeDisk(),
        },
      ];
    case "sqlite_locked": {
      const wait = config.memory.busyTimeoutMs;
      return [tune(base, ["memory", "busyTimeoutMs"], wait, Math.min(600_000, Math.max(20_000, wait * 4)))];
    }
    case "sqlite_corrupt":
      // Rebuilding a damaged database could lose facts; a person decides (sarai memory export, sqlite3 .recover).
      return [];
    case "image_cache_thrash": {
      const size = config.vision.cache.maxMb;
      return [tune(base, ["vision", "cache", "maxMb"], size, size * 2)];
    }
    case "low_speculative_acceptance":
      return [
        {
          level: 1,
          ...base,
          description: "inference.speculative.enabled true → false (the draft costs more than it saves)",
          patch: { inference: { speculative: { enabled: false } } },
        },
      ];
    case "loop_down":
      return [
        {
          level: 1,
          ...base,
          description: "start the proactive loop again",
          act: () => actions.restartLoop(),
        },
      ];
  }
}

function modelRemedies(diagnosis: Diagnosis, actions: RepairActions): RepairPlan[] {
  const { fault, target: role } = diagnosis;
  const plans: RepairPlan[] = [];
  const base = { level: 3, fault, target: role } as const;
  const repull = actions.repullModel;
  if (repull !== undefined)
    plans.push({
      ...base,
      description: `download the ${role} model again and check it`,
      act: () => repull(role),
    });
  else if (fault === "model_load_failure")
    plans.push({
      ...base,
      description: `load the ${role} model again from disk`,
      act: () => actions.reloadModel(role),
    });
  const swap = actions.swapToFallback;
  const endSwap = actions.endSwap;
  if (swap !== undefined && role !== "fallback") {
    plans.push({
      ...base,
      description: `serve the ${role} role with the fallback model`,
      act: () => swap(role),
      ...(endSwap === undefined ? {} : { undo: () => endSwap(role) }),
      workaround: {
        verify: (observation) =>
          (observation.redirects ?? []).some((r) => r.from === role && r.to === "fallback") &&
          observation.models.find((m) => m.role === "fallback")?.status !== "corrupt",
      },
    });
  }
  return plans;
}

/** A level-1 plan that sets one number and reverts it. */
function tune(
  base: Pick<RepairPlan, "fault" | "target">,
  keyPath: readonly string[],
  from: number,
  to: number,
): RepairPlan {
  return {
    level: 1,
    ...base,
    description: `${keyPath.join(".")} ${from} → ${Math.round(to)}`,
    patch: nest(keyPath, Math.round(to)),
  };
}

function nest(keyPath: readonly string[], value: unknown): ConfigPatch {
  let result: unknown = value;
  for (const key of [...keyPath].reverse()) result = { [key]: result };
  return result as ConfigPatch;
}
