export { TurnPipeline } from "./turn.js";
export type { TurnMemoryReport, TurnPipelineOptions, TurnRequest, TurnResponse } from "./turn.js";
