export {
  chatRoles,
  FeedbackStore,
  type ChatRole,
  type ChatTurn,
  type Feedback,
  type NewFeedback,
  type Rating,
} from "./feedback-store.js";
export {
  AdapterArchive,
  adapterStatuses,
  type AdapterArchiveOptions,
  type AdapterChanges,
  type AdapterRecord,
  type AdapterStatus,
  type ArchivedAdapter,
  type DamagedAdapter,
  type NewAdapterRecord,
  type RotateOptions,
} from "./adapter-archive.js";
export {
  buildTrainingSet,
  splitExamples,
  toChatJsonl,
  type BuildTrainingSetOptions,
  type DropReason,
  type DroppedFeedback,
  type SplitExamples,
  type SplitOptions,
  type TrainingExample,
  type TrainingSet,
} from "./dataset.js";
export {
  decideGate,
  defaultGateThresholds,
  type GateFigures,
  type GateThresholds,
  type GateVerdict,
  type SetFigures,
} from "./gate.js";
export {
  answerPositions,
  encodeExample,
  encodePrompt,
  generateGreedy,
  type EncodedExample,
} from "./head-features.js";
export {
  readLoraAdapter,
  readOutputHead,
  writeLoraAdapter,
  loadTrainerState,
  saveTrainerState,
} from "./lora-file.js";
export {
  scoreHead,
  trainLoraHead,
  trainLoraHeadSteps,
  trainingKey,
  type HeadPosition,
  type LoraHead,
  type NllResult,
  type OutputHead,
  type TrainerState,
  type TrainOptions,
  type TrainResult,
} from "./lora-head.js";
export {
  LearningService,
  type LearningProgress,
  type LearningServiceOptions,
  type LearningSettings,
  type LearningStatus,
  type TrainingReport,
} from "./learning-service.js";
