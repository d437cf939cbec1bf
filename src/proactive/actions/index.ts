import type { ActionDefinition } from "../scheduler.js";
import type { LoopPorts, LoopSettings } from "../ports.js";
import { createDiskCheck } from "./disk-check.js";
import { createIdleCheck } from "./idle-check.js";
import { createIdleSuggestion } from "./idle-suggestion.js";
import { createImageCacheExpiry } from "./image-cache-expiry.js";
import { createLogRetention } from "./log-retention.js";
import { createLoraTraining } from "./lora-training.js";
import { createMemoryMaintenance } from "./memory-maintenance.js";
import { createPrune } from "./prune.js";
import { createRamCheck } from "./ram-check.js";
import { createRedTeamCampaign } from "./redteam-campaign.js";

/** The built-in actions over the given ports and settings (`proactive.*`); their names are the config's. */
export function createBuiltinActions(ports: LoopPorts, settings: LoopSettings): ActionDefinition<unknown>[] {
  return [
    createRamCheck(ports, settings),
    createPrune(ports),
    createDiskCheck(ports, settings),
    createLogRetention(ports, settings),
    createMemoryMaintenance(ports, settings),
    createIdleCheck(ports, settings),
    createIdleSuggestion(ports, settings),
    createImageCacheExpiry(ports),
    createRedTeamCampaign(ports),
    createLoraTraining(ports),
  ] as ActionDefinition<unknown>[];
}

export { actionableFacts, factLanguage, readDate, startOfDay } from "./actionable-facts.js";
export type { ActionableFact, ActionableFactsOptions } from "./actionable-facts.js";
export { assessRam } from "./ram-check.js";
export type { RamReading } from "./ram-check.js";
export { pruneWith } from "./prune.js";
export { pruneLogs } from "./log-retention.js";
export type { LogRetentionResult } from "./log-retention.js";
export { cleanSuggestion, maxSuggestionChars } from "./idle-suggestion.js";
export type { UserIdleEvent } from "./idle-check.js";
