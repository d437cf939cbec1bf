export { EmbeddedBackend } from "./embedded-backend.js";
export type {
  CompletionRequest,
  EmbeddedBackendOptions,
  EmbeddingResult,
  SpeculativeEvent,
  SpeculativeOptions,
} from "./embedded-backend.js";
export { DraftPair, draftIncompatibility } from "./draft-pair.js";
export {
  compileJsonSchemaValidator,
  OutputInvalidError,
  parseStrictJson,
  schemaProblem,
} from "./json-output.js";
export type { DraftPairState } from "./draft-pair.js";
export {
  defaultSpeculativeSettings,
  generateSpeculative,
  SpeculativeStallError,
  withWatchdog,
} from "./speculative.js";
export type { SpeculativeResult, SpeculativeSettings, SpeculativeStats } from "./speculative.js";
export {
  ensureSynthesizedModel,
  resolveSynthCacheFileName,
  synthDefaults,
  synthesizeModel,
} from "./gguf/index.js";
export type { SynthOptions, SynthResult } from "./gguf/index.js";
export { checkDraftPairs, defaultModelAlias, findModelAlias, modelAliases } from "./model-aliases.js";
export type { ModelAlias } from "./model-aliases.js";
export { inspectModelFile, listModelFiles } from "./model-file.js";
export type { ModelFileInfo, ModelFileListEntry } from "./model-file.js";
export { ModelPool, resolveThreadCount } from "./model-pool.js";
export type {
  MemoryEstimate,
  ModelAccess,
  ModelPoolOptions,
  ModelPoolSettings,
  PoolReconfiguration,
  ReloadOutcome,
  RoleAdapter,
  RoleModelOptions,
  RoleStatus,
  SequenceLease,
} from "./model-pool.js";
export { pullModel } from "./model-pull.js";
export type { PullProgress, PullResult } from "./model-pull.js";
export { demoModelBanner, demoModelOptions, resolveModels } from "./model-resolver.js";
export type { ResolvedModels, ResolveModelsOptions } from "./model-resolver.js";
export { parseModelSource, resolveModelSourcePath, safeParseModelSource } from "./model-source.js";
export type { ModelSource } from "./model-source.js";
export { RemoteBackend } from "./remote-backend.js";
export type { RemoteBackendOptions, RemoteModelInfo } from "./remote-backend.js";
export { RoleRouter } from "./role-router.js";
export type { RoleRedirect, RoleRouterOptions } from "./role-router.js";
export { defaultSampling, modelRoles } from "./types.js";
export type {
  ChatImage,
  ChatMessage,
  ChatRequest,
  ChatResponse,
  ChatRole,
  ChatStreamChunk,
  FinishReason,
  LlmBackend,
  ModelRole,
  SamplingOptions,
  SpeculativeReport,
  TokenConfidence,
  Timings,
  Usage,
} from "./types.js";
