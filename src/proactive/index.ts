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
