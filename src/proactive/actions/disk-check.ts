import { z } from "zod";
import type { ActionDefinition } from "../scheduler.js";
import type { LoopPorts, LoopSettings } from "../ports.js";

export const diskCheckArgs = z
  .object({
    /** Overrides `proactive.minFreeDiskMb` for this run, in MiB. */
    minFreeMb: z.number().int().min(0).optional(),
  })
  .strict();

export type DiskCheckArgs = z.infer<typeof diskCheckArgs>;

/**
 * `disk_check`: free space on the file system holding the state folder; under the minimum (strictly: exactly
 * the minimum is still fine) it emits `disk_low`, which runs log retention.
 */
export function createDiskCheck(ports: LoopPorts, settings: LoopSettings): ActionDefinition<DiskCheckArgs> {
  return {
    name: "disk_check",
    description: "Checks free disk space under the state folder; emits disk_low below the threshold",
    args: diskCheckArgs,
    async run(context) {
      const freeBytes = await ports.readings.freeDiskBytes(ports.stateDir);
      const minFreeBytes =
        context.args.minFreeMb === undefined ? settings.minFreeDiskBytes : context.args.minFreeMb * 2 ** 20;
      const low = freeBytes < minFreeBytes;
      const reading = { dir: ports.stateDir, freeBytes, minFreeBytes, low };
      if (low) context.emit("disk_low", reading, { dedupeKey: `disk_check:${context.job.slot}` });
      return reading;
    },
  };
}
