export { checkFreeDisk, checkWritableDir, summariseReadiness } from "./health.js";
export type { ComponentHealth, ComponentState, Readiness } from "./health.js";
export { createMetrics } from "./metrics.js";
export type { Metrics, MetricsOptions } from "./metrics.js";
