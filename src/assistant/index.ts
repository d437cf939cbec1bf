export {
  builtinTemplatesDir,
  loadReflectionTemplates,
  loadVerifiedReflectionTemplates,
  reflectionTemplateFiles,
  reflectionTemplateNames,
  renderTemplate,
  templateWarnings,
} from "./reflection-templates.js";
export { builtinReflectionTexts } from "./builtin-templates.js";
export type {
  ReflectionTemplate,
  ReflectionTemplateName,
  ReflectionTemplates,
} from "./reflection-templates.js";
export { combine, maxReflectIterations, ReflectionFailedError, ReflexiveLoop } from "./reflexive-loop.js";
export type {
  IterationSignals,
  ReflectionIteration,
  ReflectionOutcome,
  ReflectionReport,
  ReflectionStop,
  ReflectSettings,
  ReflexiveLoopOptions,
} from "./reflexive-loop.js";
export { TurnPipeline } from "./turn.js";
export type {
  TurnFallback,
  TurnMemoryReport,
  TurnPipelineOptions,
  TurnRequest,
  TurnResponse,
} from "./turn.js";
export { createVerifier, parseVerifySpec } from "./verifiers.js";
export { addWebSources } from "./web-sources.js";
export type { CitedSource, WebSearchPort } from "./web-sources.js";
export type { TextTest, Verdict, Verifier, VerifierServices, VerifySpec } from "./verifiers.js";
