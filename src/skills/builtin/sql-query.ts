import { AppError, isAppError } from "../../shared/index.js";
import { createSqlReadOnlyGrammar } from "../grammars/index.js";
import { validateReadOnlySql } from "../validators/index.js";
import { definedCteNames, factsViewColumns, factsViewName } from "../fact-query-sandbox.js";
import type { Skill, SkillCheck } from "../skill.js";

// Bounded names and strings: a small model that opens one closes it within the skill's maxTokens.
const sqlGrammar = createSqlReadOnlyGrammar({ maxIdentifierLength: 40, maxStringLength: 120 });

/**
 * `sql_query`: the model writes one read-only SQLite query about the user's own memory; it is parsed and
 * checked read-only, its tables checked against the allow-list (`facts` and the query's own CTEs), and then
 * run by the sandbox over a read-only connection where `facts` is the calling user's rows only. A query that
 * fails any check, or that SQLite rejects, is an invalid attempt. The value is `{ sql, columns, rows }`.
 */
export const sqlQuerySkill: Skill = {
  name: "sql_query",
  description: "Answers a question about your own memory with a read-only SQL query over your facts.",
  outputKind: "sql",
  needsMemory: true,
  maxTokens: 200,
  temperature: 0.1,
  prompt: {
    system: [
      `Write one SQLite SELECT query that answers the user's question about their stored facts.`,
      `The only table is ${factsViewName}(${factsViewColumns.join(", ")}).`,
      "Each row is a fact: subject relation object, e.g. ('user', 'lives_in', 'Madrid') or ('Lucía', 'sister', 'user').",
      "The speaker is the subject 'user'. Relations are English snake_case: lives_in, works_at, likes, dislikes,",
      "name, age, sister, brother, friend, dog, cat, birthday, is. negated is 1 for a denied fact.",
      "Facts that still hold have valid_to IS NULL. Times are Unix epoch milliseconds.",
      "Answer with the SQL only, no explanation.",
    ].join(" "),
    user: "{{input}}",
  },
  constraint: () => ({ grammar: sqlGrammar }),
  validate(text, call): SkillCheck {
    const parsed = validateReadOnlySql(text);
    if (!parsed.ok) return { ok: false, error: parsed.error };
    const allowed = new Set([factsViewName, ...definedCteNames(text)]);
    const tables = readTables(parsed.value);
    const denied = tables.filter((table) => !allowed.has(table.toLowerCase()));
    if (denied.length > 0)
      return { ok: false, error: `tables not allowed: ${denied.join(", ")} (only ${factsViewName})` };
    const runner = call.services.factQueries;
    if (runner === undefined)
      throw new AppError("INVALID_REQUEST", "sql_query needs memory, which is turned off (memory.enabled)", {
        param: "skill",
      });
    try {
      return { ok: true, value: runner.run(text, call.userId) };
    } catch (error) {
      if (isAppError(error) && error.code === "INVALID_REQUEST") return { ok: false, error: error.message };
      throw error;
    }
  },
};

function readTables(value: unknown): string[] {
  const tables = (value as { tables?: unknown } | undefined)?.tables;
  return Array.isArray(tables) ? tables.filter((table): table is string => typeof table === "string") : [];
}
