export { JobStore } from "./job-store.js";
export type { Job, JobStatus, NewJob, Notification, RunRecord } from "./job-store.js";
export { ManualClock, Scheduler, parseCron, systemClock } from "./scheduler.js";
export type {
  ActionContext,
  ActionDefinition,
  ActionSchedule,
  CatchUpPolicy,
  Clock,
  EmitOptions,
  LoopEvent,
  RunReport,
  SchedulerOptions,
} from "./scheduler.js";
export { LoopService } from "./loop-service.js";
export type { ActionStatus, LoopServiceOptions, LoopStatus } from "./loop-service.js";
export { defaultActionSchedules, resolveSchedules, resolveSettings } from "./defaults.js";
export type {
  ImageCachePort,
  LoopPorts,
  LoopSettings,
  MemoryPort,
  Pruner,
  Suggester,
  SystemReadings,
} from "./ports.js";
export { createSystemReadings, readFreeDiskBytes, readMemAvailable } from "./system-readings.js";
export type { SystemReadingsOptions } from "./system-readings.js";
export { createEntityMemoryPort } from "./entity-memory-port.js";
export { createLoopbackSuggester } from "./loopback-suggester.js";
export type { LoopbackSuggesterOptions } from "./loopback-suggester.js";
export { buildSuggestionMessages, suggestionLanguage } from "./suggestion-prompt.js";
export { actionableFacts, cleanSuggestion, createBuiltinActions } from "./actions/index.js";
export type { ActionableFact, ActionableFactsOptions, UserIdleEvent } from "./actions/index.js";
export { liveLoopProcesses, loopAliveMs } from "./loop-liveness.js";
