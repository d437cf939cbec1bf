export { TurnPipeline } from "./turn.js";
export type { TurnPipelineOptions, TurnRequest } from "./turn.js";
