import { marked, type Token, type Tokens } from "marked";
import type { ValidationResult } from "./validation-result.js";

/**
 * Parses Markdown with marked's lexer (GFM). Refuses empty output, a code fence that is never closed, and any
 * raw HTML (a block such as `<script>…` or an inline tag). The value is `{ blocks }`: the kinds of the
 * top-level blocks in order (`heading`, `list`, `code`, `paragraph`, …; blank space left out).
 */
export function validateMarkdown(text: string): ValidationResult {
  if (text.trim() === "") return { ok: false, error: "the Markdown is empty" };
  let tokens: Token[];
  try {
    tokens = marked.lexer(text);
  } catch (error) {
    return { ok: false, error: `the Markdown does not parse: ${(error as Error).message}` };
  }
  const blocks = tokens.filter((token) => token.type !== "space");
  if (blocks.length === 0) return { ok: false, error: "the Markdown has no block" };
  let offset = 0;
  for (const token of tokens) {
    const problem = checkToken(token);
    if (problem !== undefined) return { ok: false, error: `line ${lineAt(text, offset)}: ${problem}` };
    offset += token.raw.length;
  }
  return { ok: true, value: { blocks: blocks.map((token) => token.type) } };
}

function checkToken(token: Token): string | undefined {
  if (token.type === "html") return `raw HTML is not allowed: ${token.raw.trim().slice(0, 40)}`;
  if (token.type === "code") {
    const code = token as Tokens.Code;
    const fence = /^ {0,3}(`{3,}|~{3,})/.exec(code.raw)?.[1];
    if (fence !== undefined) {
      const closing = new RegExp(`\\n {0,3}${fence[0] === "`" ? "`" : "~"}{${fence.length},}[ \\t]*\\n*$`);
      if (!closing.test(code.raw)) return "a code block is not closed";
    }
  }
  const children = [
    ...((token as { tokens?: Token[] }).tokens ?? []),
    ...((token as { items?: Token[] }).items ?? []),
  ];
  for (const child of children) {
    const problem = checkToken(child);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function lineAt(text: string, offset: number): number {
  return text.slice(0, offset).split("\n").length;
}
