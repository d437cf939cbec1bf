import { z } from "zod";
import type { ActionDefinition } from "../scheduler.js";
import type { LoopPorts, PruneOptions, PruneReport, Pruner } from "../ports.js";

export const pruneArgs = z
  .object({
    /** Unload models no request is using. Default: `true`. */
    unloadModels: z.boolean().optional(),
    /** Drop caches that are rebuilt on demand. Default: `true`. */
    dropCaches: z.boolean().optional(),
  })
  .strict();

export type PruneArgs = z.infer<typeof pruneArgs>;

/**
 * Runs a pruner in its own process: unloads idle models, then drops caches, measuring `rssBytes` before and
 * after. Both steps are tried even when one fails; the failures are in `errors`, never thrown (but an abort
 * between the steps is). What `prune` runs in `sarai serve`, and what `POST /v1/loop/prune` answers.
 */
export async function pruneWith(
  pruner: Pruner,
  rssBytes: () => number,
  options: PruneOptions,
  signal?: AbortSignal,
): Promise<PruneReport> {
  const rssBeforeBytes = rssBytes();
  const errors: string[] = [];
  let unloadedModels: string[] = [];
  let droppedCaches: string[] = [];
  if (options.unloadModels !== false) {
    try {
      unloadedModels = await pruner.unloadIdleModels();
    } catch (error) {
      errors.push(`unloading idle models: ${messageOf(error)}`);
    }
  }
  signal?.throwIfAborted();
  if (options.dropCaches !== false) {
    try {
      droppedCaches = await pruner.dropCaches();
    } catch (error) {
      errors.push(`dropping caches: ${messageOf(error)}`);
    }
  }
  return { unloadedModels, droppedCaches, rssBeforeBytes, rssAfterBytes: rssBytes(), errors };
}

/**
 * `prune` (on `ram_high`): unloads idle models and drops caches, and reports what went with the RSS before and
 * after — in this process (`pruner`), or in the server over loopback when the loop runs as `sarai loop`
 * (`server`). Both steps are tried even when one fails; the run fails (and may be retried) if either did. In a
 * process with nothing to prune (neither port) it records that and succeeds.
 */
export function createPrune(ports: LoopPorts): ActionDefinition<PruneArgs> {
  return {
    name: "prune",
    description: "Unloads idle models and drops rebuildable caches to free memory",
    args: pruneArgs,
    async run(context) {
      const { pruner, server } = ports;
      let report: PruneReport;
      if (server !== undefined) report = await server.prune(context.args, context.signal);
      else if (pruner !== undefined)
        report = await pruneWith(pruner, () => ports.readings.rssBytes(), context.args, context.signal);
      else return { skipped: "nothing to prune in this process" };
      if (report.errors.length > 0) throw new Error(report.errors.join("; "));
      return {
        unloadedModels: report.unloadedModels,
        droppedCaches: report.droppedCaches,
        rssBeforeBytes: report.rssBeforeBytes,
        rssAfterBytes: report.rssAfterBytes,
        freedMb: Math.round(((report.rssBeforeBytes - report.rssAfterBytes) / 2 ** 20) * 10) / 10,
        ...(server === undefined ? {} : { in: "server" }),
      };
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
