import { upTo } from "./gbnf.js";

export interface JsonGrammarOptions {
  /** Longest string, in characters (escapes count as one). Unbounded when omitted. */
  maxStringLength?: number;
  /** Deepest nesting of objects and arrays; the top-level value is depth 1. Default 16. */
  maxDepth?: number;
  /** Most members of an object or items of an array. Unbounded when omitted. */
  maxItems?: number;
  /** Most whitespace characters between tokens. Default 8 (never unbounded: a model could loop on spaces). */
  maxWhitespace?: number;
  /** What the top level may be: an object (default), or any JSON value. */
  root?: "object" | "value";
}

/**
 * A GBNF grammar for JSON. Every bound is a GBNF repetition `{m,n}`, so with all of them set every output the
 * grammar allows is finite (tests rely on that to make a random model stop). Numbers have at most 16 integer
 * digits, 16 fraction digits and a 2-digit exponent (so every number is finite in JavaScript), without leading zeros.
 */
export function jsonGrammar(options: JsonGrammarOptions = {}): string {
  const { maxStringLength, maxItems, maxDepth = 16, maxWhitespace = 8, root = "object" } = options;
  if (maxDepth < 1) throw new RangeError("maxDepth must be at least 1");
  const more = maxItems === undefined ? "*" : upTo(Math.max(0, maxItems - 1));
  const rules = [
    `root ::= ws ${root === "object" ? "object1" : "value1"} ws`,
    `ws ::= [ \\t\\n]${upTo(maxWhitespace)}`,
    `string ::= "\\"" char${upTo(maxStringLength)} "\\""`,
    `char ::= [^"\\\\\\x00-\\x1F\\x7F] | "\\\\" ( ["\\\\/bfnrt] | "u" [0-9a-fA-F]{4} )`,
    `number ::= "-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,2} )?`,
    `scalar ::= string | number | "true" | "false" | "null"`,
  ];
  for (let depth = 1; depth <= maxDepth; depth++) {
    const inner = depth === maxDepth ? "scalar" : `value${depth + 1}`;
    rules.push(
      `value${depth} ::= object${depth} | array${depth} | scalar`,
      `object${depth} ::= "{" ws ( member${depth} ( ws "," ws member${depth} )${more} ws )? "}"`,
      `member${depth} ::= string ws ":" ws ${inner}`,
      `array${depth} ::= "[" ws ( ${inner} ( ws "," ws ${inner} )${more} ws )? "]"`,
    );
  }
  return rules.join("\n");
}

/** JSON with an object at the top level and generous bounds (depth 16, no length limits): for real use. */
export const jsonGrammarDefault: string = jsonGrammar();
