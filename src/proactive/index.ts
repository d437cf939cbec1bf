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
  LearningPort,
  RedTeamPort,
  LoopPorts,
  LoopSettings,
  MemoryPort,
  ModelServer,
  PruneOptions,
  PruneReport,
  Pruner,
  Suggester,
  SystemReadings,
} from "./ports.js";
export { createSystemReadings, readFreeDiskBytes, readMemAvailable } from "./system-readings.js";
export type { SystemReadingsOptions } from "./system-readings.js";
export { createEntityMemoryPort } from "./entity-memory-port.js";
export { createLoopbackSuggester } from "./loopback-suggester.js";
export { pickLoopApiKey, requestServer } from "./loopback-http.js";
export type { LoopbackRequest, LoopbackTarget } from "./loopback-http.js";
export { createLoopbackLearning } from "./loopback-learning.js";
export type { LoopbackLearningOptions } from "./loopback-learning.js";
export { createLoopbackModelServer, toPruneWire } from "./loopback-model-server.js";
export type { LoopbackModelServerOptions, PruneWire } from "./loopback-model-server.js";
export type { LoopbackSuggesterOptions } from "./loopback-suggester.js";
export { buildSuggestionMessages, suggestionLanguage } from "./suggestion-prompt.js";
export { actionableFacts, cleanSuggestion, createBuiltinActions, pruneWith } from "./actions/index.js";
export type { ActionableFact, ActionableFactsOptions, UserIdleEvent } from "./actions/index.js";
export { liveLoopProcesses, loopAliveMs } from "./loop-liveness.js";
