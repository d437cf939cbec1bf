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
export { isSingleValuedRelation, normalizeRelation } from "./relations.js";
export { factSources } from "./types.js";
export type { ExtractedFact, FactSource, Language } from "./types.js";
