import { identifierRules, upTo } from "./gbnf.js";

/** Python's keywords: never a name the grammar writes. */
export const pythonKeywords: readonly string[] = [
  "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
  "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
  "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield", "match", "case", "type",
]; // prettier-ignore

/** Built-ins the grammar never lets code name (the validator refuses them too). */
export const pythonForbiddenNames: readonly string[] = [
  "exec", "eval", "compile", "open", "__import__", "globals", "locals", "vars", "getattr", "setattr",
  "delattr", "breakpoint", "input", "__builtins__",
]; // prettier-ignore

/** The only modules code may import (`import m` or `from m import a, b`). */
export const pythonAllowedModules: readonly string[] = [
  "math", "re", "json", "datetime", "itertools", "collections", "dataclasses", "typing", "functools",
  "statistics", "string", "decimal", "fractions",
]; // prettier-ignore

export interface PythonGrammarOptions {
  /** Deepest block nesting: 0 allows only top-level statements. Default 4 (16 spaces). */
  maxBlockDepth?: number;
  /** Most statements in one block (comment lines not counted). Unbounded when omitted. */
  maxStatements?: number;
  /** Deepest nesting of brackets and calls in an expression. Default 4. */
  maxExpressionDepth?: number;
  /** Most operands of one operator chain, items of a list/dict, arguments or parameters. Default 8. */
  maxItems?: number;
  /** Longest name, in characters. Unbounded when omitted. */
  maxNameLength?: number;
  /** Longest string literal or comment, in characters. Unbounded when omitted. */
  maxStringLength?: number;
}

/**
 * A GBNF grammar for a safe Python subset: `def` (positional parameters, then defaults), `class` (one optional
 * base), `if`/`elif`/`else`, `for … in`, `while`, `return`, `pass`, `break`, `continue`, assignments (`=`,
 * `+=`, …) to names, attributes and subscripts, expressions (arithmetic, comparisons, `and`/`or`/`not`,
 * `in`, `is`), calls with keyword arguments, attribute access, subscripts, numbers, strings, `None`/`True`/
 * `False`, lists and dicts, `#` comments, and imports of the modules in `pythonAllowedModules` only.
 * Indentation is 4 spaces per level, each level its own rule, so the nesting depth is bounded. No name is a
 * keyword or one of `pythonForbiddenNames` (exec, eval, compile, open, __import__, …). Files end with `\n`.
 */
export function createPythonGrammar(options: PythonGrammarOptions = {}): string {
  const {
    maxBlockDepth = 4,
    maxStatements,
    maxExpressionDepth = 4,
    maxItems = 8,
    maxNameLength,
    maxStringLength,
  } = options;
  if (maxExpressionDepth < 1) throw new RangeError("maxExpressionDepth must be at least 1");
  const more = upTo(maxItems - 1);
  const modules = pythonAllowedModules.map((m) => JSON.stringify(m)).join(" | ");
  const rules: string[] = [
    `root ::= block0`,
    `string ::= "\\"" ( [^"\\\\\\x00-\\x1F\\x7F] | "\\\\" ["\\\\nt] )${upTo(maxStringLength)} "\\"" | ` +
      `"'" ( [^'\\\\\\x00-\\x1F\\x7F] | "\\\\" ['\\\\nt] )${upTo(maxStringLength)} "'"`,
    `number ::= ( "0" | [1-9] [0-9]{0,11} ) ( "." [0-9]{1,12} )?`,
    `comment ::= "#" [^\\n\\x00-\\x1F]${upTo(maxStringLength)} "\\n"`,
    `binop ::= " + " | " - " | " * " | " / " | " // " | " % " | " == " | " != " | " < " | " <= " | " > " | ` +
      `" >= " | " and " | " or " | " in " | " not in " | " is " | " is not "`,
    `assignop ::= " = " | " += " | " -= " | " *= " | " /= "`,
    `module ::= ${modules}`,
    `import ::= "import " module | "from " module " import " name ( ", " name )${more}`,
    identifierRules({
      name: "name",
      exclude: [...pythonKeywords, ...pythonForbiddenNames],
      maxLength: maxNameLength,
    }),
    identifierRules({ name: "attr", exclude: pythonKeywords, maxLength: maxNameLength }),
  ];
  for (let e = 0; e <= maxExpressionDepth; e++) {
    const inner = e < maxExpressionDepth ? `x${e + 1}` : undefined;
    const atoms = [`name`, `string`, `"None"`, `"True"`, `"False"`];
    if (inner !== undefined) {
      atoms.push(
        `"(" ${inner} ")"`,
        `"[" ( ${inner} ( ", " ${inner} )${more} )? "]"`,
        `"{" ( ${inner} ": " ${inner} ( ", " ${inner} ": " ${inner} )${more} )? "}"`,
      );
    }
    const trailers = [`"." attr`];
    if (inner !== undefined) {
      trailers.push(`"(" ( args${e} )? ")"`, `"[" ${inner} "]"`);
      rules.push(
        `args${e} ::= ${inner} ( ", " ${inner} )${more} ( ", " kwarg${e} )${more} | kwarg${e} ( ", " kwarg${e} )${more}`,
        `kwarg${e} ::= name "=" ${inner}`,
      );
    }
    rules.push(
      `x${e} ::= "not "? u${e} ( binop u${e} )${more}`,
      `u${e} ::= "-"? p${e}`,
      // A number takes no trailer: `1.real` does not parse.
      `p${e} ::= number | ( ${atoms.join(" | ")} ) ( ${trailers.join(" | ")} )${upTo(3)}`,
    );
  }
  for (let d = 0; d <= maxBlockDepth; d++) {
    const indent = d === 0 ? "" : `${JSON.stringify("    ".repeat(d))} `;
    const body = d < maxBlockDepth ? `block${d + 1}` : undefined;
    const simple = [
      `target assignop x0`,
      `"return" ( " " x0 )?`,
      `"pass"`,
      `"break"`,
      `"continue"`,
      `x0`,
      `import`,
    ];
    rules.push(
      `block${d} ::= ( ${indent}comment )${upTo(2)} stmt${d} ( ( ${indent}comment )${upTo(2)} stmt${d} )${
        maxStatements === undefined ? "*" : upTo(maxStatements - 1)
      }`,
      `stmt${d} ::= ${indent}( ${simple.join(" | ")} ) "\\n"` +
        (body === undefined
          ? ""
          : ` | ${indent}"def " name "(" params? "):\\n" ${body}` +
            ` | ${indent}"class " name ( "(" name ")" )? ":\\n" ${body}` +
            ` | ${indent}"if " x0 ":\\n" ${body} ( ${indent}"elif " x0 ":\\n" ${body} )${upTo(2)} ( ${indent}"else:\\n" ${body} )?` +
            ` | ${indent}"for " name ( ", " name )? " in " x0 ":\\n" ${body}` +
            ` | ${indent}"while " x0 ":\\n" ${body}`),
    );
  }
  rules.push(
    `target ::= name ( "." attr | "[" x1 "]" )${upTo(2)}`,
    `params ::= name ( ", " name )${more} ( ", " name "=" x${Math.min(1, maxExpressionDepth)} )${more} | ` +
      `name "=" x${Math.min(1, maxExpressionDepth)} ( ", " name "=" x${Math.min(1, maxExpressionDepth)} )${more}`,
  );
  return rules.join("\n");
}

/** The Python grammar with its default bounds (4 block levels, names and strings unbounded): for real use. */
export const pythonGrammar: string = createPythonGrammar();
