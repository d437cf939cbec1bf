export { checkFreeDisk, checkWritableDir, summariseReadiness } from "./health.js";
export type { ComponentHealth, ComponentState, Readiness } from "./health.js";
export { createMetrics, recordLoopRun } from "./metrics.js";
export type {
  LoopMetricsStatus,
  LoopRunSample,
  Metrics,
  MetricsOptions,
  ReflectionSample,
} from "./metrics.js";
