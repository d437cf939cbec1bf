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
 * `GRAMMAR_INVALID` error naming why and where — including what node-llama-cpp would silently loosen to "any
 * value": an unknown `type`, `not`, and a `$ref` outside `#/$defs/`.
 */
export async function grammarForJsonSchema(
  llama: Llama,
  schema: Readonly<Record<string, unknown>>,
): Promise<LlamaGrammar> {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema))
    throw new AppError("GRAMMAR_INVALID", "the JSON schema must be an object", { param: "jsonSchema" });
  const unsupported = findUnsupported(schema, "#");
  if (unsupported !== undefined)
    throw new AppError("GRAMMAR_INVALID", `the JSON schema cannot be turned into a grammar: ${unsupported}`, {
      param: "jsonSchema",
    });
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

const schemaMaps = new Set(["properties", "$defs", "definitions", "patternProperties", "dependentSchemas"]);
const jsonTypes = new Set(["object", "array", "string", "number", "integer", "boolean", "null"]);

/** The first schema feature node-llama-cpp would not turn into an exact grammar, with its JSON pointer. */
function findUnsupported(node: unknown, at: string): string | undefined {
  if (Array.isArray(node)) {
    for (const [index, item] of node.entries()) {
      const found = findUnsupported(item, `${at}/${index}`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof node !== "object" || node === null) return undefined;
  const record = node as Record<string, unknown>;
  const types = Array.isArray(record.type)
    ? (record.type as unknown[])
    : record.type === undefined
      ? []
      : [record.type];
  for (const type of types)
    if (typeof type !== "string" || !jsonTypes.has(type))
      return `${at}/type: unknown type ${JSON.stringify(type)}`;
  if ("not" in record) return `${at}/not is not supported`;
  if (record.$ref !== undefined && (typeof record.$ref !== "string" || !record.$ref.startsWith("#/$defs/")))
    return `${at}/$ref: only references into #/$defs/ are supported`;
  for (const [key, value] of Object.entries(record)) {
    if (key === "const" || key === "enum" || key === "default" || key === "examples") continue;
    // A map of schemas by name: its keys ("type", "not", …) are names, not keywords.
    if (schemaMaps.has(key) && typeof value === "object" && value !== null && !Array.isArray(value)) {
      for (const [name, schema] of Object.entries(value)) {
        const found = findUnsupported(schema, `${at}/${key}/${name}`);
        if (found !== undefined) return found;
      }
      continue;
    }
    const found = findUnsupported(value, `${at}/${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}
