export { EntityStore, maxFactTextLength, maxUserIdLength, reinforce, subjectKey } from "./entity-store.js";
export type {
  EntityStoreOptions,
  Fact,
  ForgetQuery,
  NewFact,
  RecallQuery,
  RememberOutcome,
  RememberResult,
  StoreStats,
  VacuumReport,
} from "./entity-store.js";
export { schemaVersion } from "./migrations.js";
export { normalizeKey } from "./normalize.js";
export {
  canonicalRelation,
  isKnownRelation,
  isSingleValuedRelation,
  normalizeRelation,
  relationVocabulary,
} from "./relations.js";
export { factExtractors, factSources } from "./types.js";
export type { ExtractedFact, FactExtractor, FactSource, Language } from "./types.js";
export { EntityMemory, assertWellFormed, formatFact } from "./entity-memory.js";
export type {
  EntityMemoryOptions,
  ExtractionResult,
  LearnOptions,
  LearnResult,
  MemoryExtractor,
  ModelExtractionStats,
  RecallContext,
} from "./entity-memory.js";
export {
  buildExtractionRequest,
  factExtractionSchema,
  mergeFacts,
  parseModelFacts,
  parseModelOutput,
} from "./model-extraction.js";
export type { JsonModel, JsonRequest, ModelOutput } from "./model-extraction.js";
export { detectLanguage, extractFacts } from "./extract/index.js";
export { exportFacts, importFacts, memoryImportSchema, toFactJson } from "./portable.js";
export type { FactJson, ImportReport, MemoryExport, MemoryImport } from "./portable.js";
export { factKey, parseLabelledSet, relationFactKey, scoreExtraction } from "./scoring.js";
export type { ExtractionScore, LabelledUtterance } from "./scoring.js";
