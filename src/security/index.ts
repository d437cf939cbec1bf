export { runSandboxed, sandboxAvailable } from "./sandbox.js";
export type { SandboxResult, SandboxRunOptions } from "./sandbox.js";
export { defaultGuardPolicy, guardActions, guardSources, InjectionGuard, removedMarker } from "./guard.js";
export type { GuardAction, GuardSource, GuardVerdict, InjectionGuardOptions, ScreenResult } from "./guard.js";
export { foldText, normalizeForGuard } from "./guard-normalize.js";
export type { NormalizationSignal, NormalizedText } from "./guard-normalize.js";
export { guardRules, guardTechniques, matchGuardRules } from "./guard-rules.js";
export type { GuardRule, GuardTechnique, RuleMatch } from "./guard-rules.js";
export type { GuardWeights } from "./guard-scorer.js";
export { guardFeatures, parseGuardCorpus, trainGuardWeights } from "./guard-training.js";
export type { GuardExample, TrainGuardOptions } from "./guard-training.js";
export {
  createTemplateVerifier,
  generateSigningKey,
  initSigningKey,
  loadSigningKey,
  loadTrustedKey,
  resolveSigningKeyFiles,
  signatureFileFor,
  signFile,
  verifyBytes,
  verifyFile,
} from "./signatures.js";
export type {
  GenerateSigningKeyOptions,
  InitSigningKeyOptions,
  SignatureCheck,
  SignatureFailure,
  SigningKey,
  SigningKeyFiles,
  SigningKeyPair,
  TemplateCheck,
  TemplateTrust,
  TemplateVerifier,
  TemplateVerifierOptions,
  TrustedKey,
} from "./signatures.js";
export {
  AuditLog,
  auditFiles,
  hashText,
  keyActor,
  loadAuditKey,
  noAudit,
  resolveAuditPaths,
  tailAuditLog,
  verifyAuditLog,
} from "./audit-log.js";
export type {
  AuditEntry,
  AuditEventInput,
  AuditLogOptions,
  AuditProblem,
  AuditSink,
  AuditVerification,
} from "./audit-log.js";
