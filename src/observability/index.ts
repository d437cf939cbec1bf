export { checkFreeDisk, checkWritableDir, summariseReadiness } from "./health.js";
export type { ComponentHealth, ComponentState, Readiness } from "./health.js";
