export { runSandboxed, sandboxAvailable } from "./sandbox.js";
export type { SandboxResult, SandboxRunOptions } from "./sandbox.js";
