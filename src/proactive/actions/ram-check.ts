import { z } from "zod";
import type { ActionDefinition } from "../scheduler.js";
import type { LoopPorts, LoopSettings } from "../ports.js";

const mib = 2 ** 20;

export const ramCheckArgs = z
  .object({
    /** Overrides `proactive.maxRssMb` for this run, in MiB. */
    maxRssMb: z.number().int().min(1).optional(),
    /** Overrides `proactive.minAvailableMb` for this run, in MiB. */
    minAvailableMb: z.number().int().min(0).optional(),
  })
  .strict();

export type RamCheckArgs = z.infer<typeof ramCheckArgs>;

/** What the RAM check read and decided; also the `ram_high` event's payload. */
export interface RamReading {
  rssBytes: number;
  availableBytes: number;
  maxRssBytes: number;
  minAvailableBytes: number;
  /** True when the RSS is above its maximum or the available memory below its minimum. */
  high: boolean;
  /** Which limits were crossed. */
  reasons: string[];
}

/**
 * Whether memory runs short. Both limits are strict: an RSS exactly at `maxRssBytes`, or available memory
 * exactly at `minAvailableBytes`, is still fine; one byte over (under) is high.
 */
export function assessRam(
  rssBytes: number,
  availableBytes: number,
  limits: { maxRssBytes: number; minAvailableBytes: number },
): RamReading {
  const reasons: string[] = [];
  if (rssBytes > limits.maxRssBytes) reasons.push("rss_above_max");
  if (availableBytes < limits.minAvailableBytes) reasons.push("available_below_min");
  return { rssBytes, availableBytes, ...limits, high: reasons.length > 0, reasons };
}

/**
 * `ram_check`: reads the RSS of the process holding the models (this one, or the server over loopback when the
 * loop runs as `sarai loop`) and the system's available memory; emits `ram_high` past a limit. A server that
 * cannot be reached fails the run: its RSS is unknown, and whatever there is to prune lives there.
 */
export function createRamCheck(ports: LoopPorts, settings: LoopSettings): ActionDefinition<RamCheckArgs> {
  return {
    name: "ram_check",
    description: "Checks process RSS and available system memory; emits ram_high past the thresholds",
    args: ramCheckArgs,
    async run(context) {
      // The server's reading is async; the thresholds are checked on it exactly as on a local one.
      const rssBytes =
        ports.server === undefined ? ports.readings.rssBytes() : await ports.server.rssBytes(context.signal);
      const reading = assessRam(rssBytes, ports.readings.availableMemoryBytes(), {
        maxRssBytes: context.args.maxRssMb === undefined ? settings.maxRssBytes : context.args.maxRssMb * mib,
        minAvailableBytes:
          context.args.minAvailableMb === undefined
            ? settings.minAvailableBytes
            : context.args.minAvailableMb * mib,
      });
      // Keyed by this job's slot: a re-run of the same job (a lease taken over) does not prune twice.
      if (reading.high) context.emit("ram_high", reading, { dedupeKey: `ram_check:${context.job.slot}` });
      return { ...reading, rssOf: ports.server === undefined ? "this process" : "server" };
    },
  };
}
