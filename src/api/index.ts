export { createServer } from "./server.js";
export type { Server, ServerOptions } from "./server.js";
export type { SaraiImage, SaraiReflection } from "./wire.js";
export { toRepairRecordWire } from "./repair-routes.js";
export type { LoraAdapterWire, LoraStatusWire, TrainingReportWire } from "./lora-routes.js";
