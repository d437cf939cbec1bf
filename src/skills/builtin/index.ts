import type { Skill } from "../skill.js";
import { extractEntitiesSkill } from "./extract-entities.js";
import { jsonExtractSkill } from "./json-extract.js";
import { pythonCodeSkill } from "./python-code.js";
import { sqlQuerySkill } from "./sql-query.js";
import { summarizeMarkdownSkill } from "./summarize-markdown.js";

export { extractEntitiesSkill, jsonExtractSkill, pythonCodeSkill, sqlQuerySkill, summarizeMarkdownSkill };
export type { EntityFact, ExtractEntitiesValue } from "./extract-entities.js";

/** The skills SARAi ships, in the order `sarai skill list` shows them. */
export const builtinSkills: readonly Skill[] = Object.freeze([
  jsonExtractSkill,
  extractEntitiesSkill,
  sqlQuerySkill,
  summarizeMarkdownSkill,
  pythonCodeSkill,
]);
