import { z } from "zod";
import type { ActionDefinition } from "../scheduler.js";
import type { LoopPorts } from "../ports.js";

export const redteamCampaignArgs = z
  .object({
    /** New attempts for this run (`0`: every probe and every cell once); default `redteam.budget`. */
    budget: z.int().min(0).max(100_000).optional(),
    /** Probe families for this run; default `redteam.families` (all when empty). */
    families: z.array(z.string().min(1).max(64)).max(64).optional(),
    seed: z
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .optional(),
  })
  .strict();

export type RedTeamCampaignArgs = z.infer<typeof redteamCampaignArgs>;

/**
 * `redteam_campaign` (Sundays 03:40): attacks the running server over HTTP with the probe catalogue, reruns every
 * known failure, and writes a report. The lowest priority and a pause between attempts keep users served first.
 * The seed is the number of weeks since the Unix epoch, so each week tries different variants and a rerun in the
 * same week repeats them.
 */
export function createRedTeamCampaign(ports: LoopPorts): ActionDefinition<RedTeamCampaignArgs> {
  return {
    name: "redteam_campaign",
    description: "Runs a red-team campaign against this server and writes a report (redteam.*)",
    args: redteamCampaignArgs,
    async run(context) {
      const redteam = ports.redteam;
      if (redteam === undefined) return { skipped: "the red team is turned off (redteam.enabled)" };
      const week = Math.floor(context.now() / (7 * 24 * 3600 * 1000));
      return redteam.run(
        {
          ...(context.args.budget === undefined ? {} : { budget: context.args.budget }),
          ...(context.args.families === undefined ? {} : { families: context.args.families }),
          seed: context.args.seed ?? week,
        },
        context.signal,
      );
    },
  };
}
