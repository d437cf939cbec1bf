export {
  faultKinds,
  type DatabaseProbe,
  type Diagnosis,
  type FaultKind,
  type LogEntry,
  type ModelProbe,
  type Observation,
  type RepairLevel,
  type RepairPlan,
  type RepairRecord,
  type RepairResult,
} from "./types.js";
export { detectors, diagnose, stillFaulty, type RepairThresholds } from "./detectors.js";
export { planRepairs, type ConfigChangeSeen, type PlaybookContext, type RepairActions } from "./playbook.js";
export { LogTap, parseLogLine, type LogTapOptions } from "./log-tap.js";
export { RepairHistory } from "./repair-history.js";
export {
  diffConfig,
  Repairer,
  type RepairConfigPort,
  type RepairerOptions,
  type HeldRepair,
  type RepairStatus,
} from "./repairer.js";
export { CounterWindow } from "./counter-window.js";
export { ModelWatch, type ModelHashStore, type WatchedModel } from "./model-watch.js";
export { probeDatabase } from "./database-probe.js";
export {
  PatchApplier,
  parsePatchFiles,
  restoreSnapshotDir,
  snapshotDirFor,
  type PatchApplierOptions,
  type PatchFilesResult,
  type PatchHealth,
  type PatchOutcome,
  type PatchRequest,
  type PatchStatus,
  type PatchStep,
  type PatchWatchOptions,
} from "./patch-applier.js";
