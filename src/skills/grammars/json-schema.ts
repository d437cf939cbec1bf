import type { Llama, LlamaGrammar } from "node-llama-cpp";
import { AppError } from "../../shared/index.js";

/**
 * The grammar node-llama-cpp derives from a JSON schema (`llama.createGrammarForJsonSchema`). It covers
 * structure, types, enums, `const` and string lengths; keywords it does not enforce (`minimum`, `pattern`, …)
 * are left to `validateJson`. A schema it cannot turn into a grammar is a `GRAMMAR_INVALID` error naming why.
 */
export async function grammarForJsonSchema(
  llama: Llama,
  schema: Readonly<Record<string, unknown>>,
): Promise<LlamaGrammar> {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema))
    throw new AppError("GRAMMAR_INVALID", "the JSON schema must be an object", { param: "jsonSchema" });
  try {
    return await llama.createGrammarForJsonSchema(schema as never);
  } catch (error) {
    throw new AppError(
      "GRAMMAR_INVALID",
      `the JSON schema cannot be turned into a grammar: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error, param: "jsonSchema" },
    );
  }
}
