import { z } from "zod";
import type { ActionDefinition } from "../scheduler.js";
import type { LoopPorts } from "../ports.js";

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
 * `prune` (on `ram_high`): unloads idle models and drops caches, and reports what went with the RSS before and
 * after. Both steps are tried even when one fails; the run fails (and may be retried) if either did. In a
 * process with nothing to prune (no pruner port) it records that and succeeds.
 */
export function createPrune(ports: LoopPorts): ActionDefinition<PruneArgs> {
  return {
    name: "prune",
    description: "Unloads idle models and drops rebuildable caches to free memory",
    args: pruneArgs,
    async run(context) {
      const { pruner } = ports;
      if (pruner === undefined) return { skipped: "nothing to prune in this process" };
      const rssBefore = ports.readings.rssBytes();
      const errors: string[] = [];
      let unloadedModels: string[] = [];
      let droppedCaches: string[] = [];
      if (context.args.unloadModels !== false) {
        try {
          unloadedModels = await pruner.unloadIdleModels();
        } catch (error) {
          errors.push(`unloading idle models: ${messageOf(error)}`);
        }
      }
      context.signal.throwIfAborted();
      if (context.args.dropCaches !== false) {
        try {
          droppedCaches = await pruner.dropCaches();
        } catch (error) {
          errors.push(`dropping caches: ${messageOf(error)}`);
        }
      }
      const rssAfter = ports.readings.rssBytes();
      if (errors.length > 0) throw new Error(errors.join("; "));
      return {
        unloadedModels,
        droppedCaches,
        rssBeforeBytes: rssBefore,
        rssAfterBytes: rssAfter,
        freedMb: Math.round(((rssBefore - rssAfter) / 2 ** 20) * 10) / 10,
      };
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
