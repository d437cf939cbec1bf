import { z } from "zod";
import type { ActionDefinition } from "../scheduler.js";
import type { LoopPorts, LoopSettings } from "../ports.js";

export const memoryMaintenanceArgs = z
  .object({
    /** Overrides `memory.retentionDays` for this run: unpinned facts not stated for this long go. */
    days: z.number().int().min(1).max(36_500).optional(),
  })
  .strict();

export type MemoryMaintenanceArgs = z.infer<typeof memoryMaintenanceArgs>;

/**
 * `memory_maintenance` (@weekly): rotates out unpinned facts older than the retention period, then vacuums the
 * memory database (after the rotation, so the space the old facts held is given back) and reports MB saved.
 */
export function createMemoryMaintenance(
  ports: LoopPorts,
  settings: LoopSettings,
): ActionDefinition<MemoryMaintenanceArgs> {
  return {
    name: "memory_maintenance",
    description: "Rotates out facts older than the retention period and vacuums the memory database",
    args: memoryMaintenanceArgs,
    run(context) {
      const { memory } = ports;
      if (memory === undefined) return Promise.resolve({ skipped: "memory is turned off" });
      const days = context.args.days ?? settings.factRetentionDays;
      const factsRotated = memory.rotate(days);
      const { bytesBefore, bytesAfter } = memory.vacuum();
      return Promise.resolve({
        retentionDays: days,
        factsRotated,
        bytesBefore,
        bytesAfter,
        mbSaved: Math.round(((bytesBefore - bytesAfter) / 2 ** 20) * 100) / 100,
      });
    },
  };
}
