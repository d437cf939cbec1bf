import type { ProactiveActionName, ResolvedConfig } from "../config/index.js";
import type { LoopSettings } from "./ports.js";
import type { ActionSchedule } from "./scheduler.js";

type Timing = Omit<ActionSchedule, "action" | "args">;

const second = 1000;
const minute = 60 * second;

/**
 * When each built-in action runs unless `proactive.actions.<name>` says otherwise. Checks are frequent and
 * cheap; the work they trigger (prune, log retention) runs on their events; maintenance catches up once
 * after downtime, checks never do (a stale reading is worthless).
 */
export const defaultActionSchedules: Readonly<Record<ProactiveActionName, Timing>> = Object.freeze({
  ram_check: {
    schedule: "*/5 * * * *",
    // A model that failed to load or run may be short of memory: check now, and prune if so.
    on: ["model_error"],
    priority: 8,
    timeoutMs: 10 * second,
    retries: 0,
    backoffMs: 5 * second,
    catchUp: "skip",
  },
  prune: {
    on: ["ram_high"],
    priority: 9,
    timeoutMs: minute,
    retries: 1,
    backoffMs: 10 * second,
    catchUp: "skip",
  },
  disk_check: {
    schedule: "*/15 * * * *",
    priority: 7,
    timeoutMs: 10 * second,
    retries: 0,
    backoffMs: 5 * second,
    catchUp: "skip",
  },
  log_retention: {
    schedule: "@daily",
    on: ["disk_low"],
    priority: 4,
    timeoutMs: 2 * minute,
    retries: 2,
    backoffMs: minute,
    catchUp: "latest",
  },
  memory_maintenance: {
    schedule: "@weekly",
    priority: 3,
    timeoutMs: 10 * minute,
    retries: 2,
    backoffMs: 5 * minute,
    catchUp: "latest",
  },
  idle_check: {
    schedule: "* * * * *",
    priority: 5,
    timeoutMs: 10 * second,
    retries: 0,
    backoffMs: 5 * second,
    catchUp: "skip",
  },
  idle_suggestion: {
    on: ["user_idle"],
    priority: 6,
    timeoutMs: minute,
    retries: 1,
    backoffMs: 30 * second,
    catchUp: "skip",
  },
  image_cache_expiry: {
    schedule: "@hourly",
    priority: 3,
    timeoutMs: 2 * minute,
    retries: 1,
    backoffMs: minute,
    catchUp: "latest",
  },
  redteam_campaign: {
    // Sundays at 03:40, off-peak; a missed week is not made up (the next one reruns every regression anyway).
    schedule: "40 3 * * 0",
    priority: 1,
    timeoutMs: 60 * minute,
    retries: 0,
    backoffMs: minute,
    catchUp: "skip",
  },
  lora_training: {
    // Nightly at 03:20, off-peak; a missed night is made up once (the feedback is still there).
    schedule: "20 3 * * *",
    priority: 1,
    timeoutMs: 120 * minute,
    retries: 0,
    backoffMs: minute,
    catchUp: "latest",
  },
});

/** The schedules the loop runs: defaults with the config's overrides, disabled actions left out. */
export function resolveSchedules(config: ResolvedConfig["proactive"]): ActionSchedule[] {
  const schedules: ActionSchedule[] = [];
  for (const [name, defaults] of Object.entries(defaultActionSchedules) as [ProactiveActionName, Timing][]) {
    const override = config.actions[name];
    if (override?.enabled === false) continue;
    schedules.push({
      action: name,
      schedule: override?.schedule ?? defaults.schedule,
      on: override?.on ?? defaults.on,
      priority: override?.priority ?? defaults.priority,
      timeoutMs:
        override?.timeoutSeconds === undefined ? defaults.timeoutMs : override.timeoutSeconds * second,
      retries: override?.retries ?? defaults.retries,
      backoffMs:
        override?.backoffSeconds === undefined ? defaults.backoffMs : override.backoffSeconds * second,
      catchUp: override?.catchUp ?? defaults.catchUp,
      // Checked against the action's own schema when the loop opens (CONFIG_INVALID with the path).
      args: override?.args ?? {},
    });
  }
  return schedules;
}

/** The built-in actions' settings from the whole config. */
export function resolveSettings(config: ResolvedConfig): LoopSettings {
  const mib = 2 ** 20;
  const { proactive } = config;
  return {
    maxRssBytes:
      (proactive.maxRssMb === 0 ? Math.floor(config.inference.ramBudgetMb * 0.9) : proactive.maxRssMb) * mib,
    minAvailableBytes: proactive.minAvailableMb * mib,
    minFreeDiskBytes: proactive.minFreeDiskMb * mib,
    logRetentionDays: proactive.logRetentionDays,
    logMaxTotalBytes: proactive.logMaxTotalMb * mib,
    factRetentionDays: config.memory.retentionDays,
    idleMs: proactive.idleMinutes * minute,
    suggestionsPerHour: proactive.suggestionsPerHour,
  };
}
