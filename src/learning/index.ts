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
