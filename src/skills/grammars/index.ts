export { identifierRules, keyword } from "./gbnf.js";
export type { IdentifierRuleOptions } from "./gbnf.js";
export { jsonGrammar, jsonGrammarDefault } from "./json.js";
export type { JsonGrammarOptions } from "./json.js";
export { grammarForJsonSchema } from "./json-schema.js";
export { createMarkdownGrammar, markdownGrammar } from "./markdown.js";
export type { MarkdownGrammarOptions } from "./markdown.js";
export {
  createPythonGrammar,
  pythonAllowedModules,
  pythonForbiddenNames,
  pythonGrammar,
  pythonKeywords,
} from "./python.js";
export type { PythonGrammarOptions } from "./python.js";
export { createSqlReadOnlyGrammar, sqlFunctions, sqlKeywords, sqlReadOnlyGrammar } from "./sql-read-only.js";
export type { SqlGrammarOptions } from "./sql-read-only.js";
