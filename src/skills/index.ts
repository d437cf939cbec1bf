export {
  builtinSkills,
  extractEntitiesSkill,
  jsonExtractSkill,
  pythonCodeSkill,
  sqlQuerySkill,
  summarizeMarkdownSkill,
} from "./builtin/index.js";
export type { EntityFact, ExtractEntitiesValue } from "./builtin/index.js";
export {
  checkSqlScope,
  definedCteNames,
  FactQuerySandbox,
  factsViewColumns,
  factsViewName,
} from "./fact-query-sandbox.js";
export type { FactQuerySandboxOptions, SqlScopeCheck } from "./fact-query-sandbox.js";
export { SkillRegistry } from "./registry.js";
export { classifySkill, SkillRouter } from "./router.js";
export type { SkillRouterOptions } from "./router.js";
export { defaultSkillRetries, runSkill } from "./runner.js";
export { SkillService } from "./skill-service.js";
export type { SkillInfo, SkillRunOptions, SkillServiceOptions } from "./skill-service.js";
export type { RunSkillOptions } from "./runner.js";
export { renderPrompt } from "./skill.js";
export type {
  FactQueryResult,
  FactQueryRunner,
  Skill,
  SkillCall,
  SkillCheck,
  SkillConstraint,
  SkillOutputKind,
  SkillResult,
  SkillServices,
} from "./skill.js";
export {
  grammarForJsonSchema,
  jsonGrammar,
  markdownGrammar,
  pythonGrammar,
  sqlReadOnlyGrammar,
} from "./grammars/index.js";
export {
  pythonAvailable,
  validateJson,
  validateMarkdown,
  validatePython,
  validateReadOnlySql,
} from "./validators/index.js";
export type { ValidationResult, Validator } from "./validators/index.js";
