import { z } from "zod";
import type { ActionDefinition } from "../scheduler.js";
import type { LoopPorts } from "../ports.js";

export const loraTrainingArgs = z
  .object({
    /** Train even when there is little new feedback or the machine is busy. */
    force: z.boolean().optional(),
  })
  .strict();

export type LoraTrainingArgs = z.infer<typeof loraTrainingArgs>;

/**
 * `lora_training` (nightly at 03:20): trains a LoRA adapter from the day's feedback, gates it against the one in
 * use and promotes it only when it is better. Skipped, with the reason, when there is too little new feedback or
 * the machine is busy; the lowest priority keeps users served first.
 */
export function createLoraTraining(ports: LoopPorts): ActionDefinition<LoraTrainingArgs> {
  return {
    name: "lora_training",
    description: "Trains a LoRA adapter from feedback and promotes it when the gate passes (learning.lora.*)",
    args: loraTrainingArgs,
    async run(context) {
      const learning = ports.learning;
      if (learning === undefined)
        return { skipped: "the learning loop is turned off (learning.lora.enabled)" };
      const report = await learning.train({ force: context.args.force ?? false }, context.signal);
      return report.outcome === "skipped" ? { skipped: report.reason ?? "skipped", ...report } : report;
    },
  };
}
