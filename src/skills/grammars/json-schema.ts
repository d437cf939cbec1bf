import type { Llama, LlamaGrammar } from "node-llama-cpp";
import { AppError } from "../../shared/index.js";

/** node-llama-cpp 3.22's number exponent: up to 16 digits, so `1e999` (Infinity in JavaScript) is allowed. */
const looseExponent = `([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?`;

/**
 * The grammar node-llama-cpp derives from a JSON schema (`llama.createGrammarForJsonSchema`), with its numbers
 * tightened: node-llama-cpp lets an `integer` carry an exponent (`5e-3`) and any number a 16-digit exponent
 * (`8e632`, which `JSON.parse` turns into Infinity); here an integer has no exponent and a number's exponent
 * has at most two digits. It covers structure, types, enums, `const` and string lengths; keywords it does not
 * enforce (`minimum`, `pattern`, …) are left to `validateJson`. A schema it cannot turn into a grammar is a
 * `GRAMMAR_INVALID` error naming why.
 */
export async function grammarForJsonSchema(
  llama: Llama,
  schema: Readonly<Record<string, unknown>>,
): Promise<LlamaGrammar> {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema))
    throw new AppError("GRAMMAR_INVALID", "the JSON schema must be an object", { param: "jsonSchema" });
  try {
    const derived = await llama.createGrammarForJsonSchema(schema as never);
    const grammar = derived.grammar
      .split("\n")
      .map((rule) =>
        rule.startsWith("integer-number-rule ::=")
          ? rule.replace(looseExponent, "")
          : rule.replace(looseExponent, `([eE] [-+]? [0-9]{1,2})?`),
      )
      .join("\n");
    if (grammar === derived.grammar) return derived;
    return await llama.createGrammar({
      grammar,
      stopGenerationTriggers: derived.stopGenerationTriggers,
      trimWhitespaceSuffix: derived.trimWhitespaceSuffix,
      rootRuleName: derived.rootRuleName,
    });
  } catch (error) {
    throw new AppError(
      "GRAMMAR_INVALID",
      `the JSON schema cannot be turned into a grammar: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error, param: "jsonSchema" },
    );
  }
}
