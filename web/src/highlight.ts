/**
 * A small syntax highlighter for code blocks: one tokenizer driven by a per-language table of comments, strings
 * and keywords. It never builds HTML from unescaped text: every token goes through `escapeHtml`, and the only
 * markup it adds is `<span class="tok-…">`.
 */

export type TokenKind = "comment" | "string" | "number" | "keyword" | "literal" | "plain";

export interface CodeToken {
  kind: TokenKind;
  text: string;
}

interface LanguageSpec {
  lineComment?: string[];
  blockComment?: [string, string];
  quotes: string[];
  /** Backtick or triple-quote strings that may span lines. */
  multilineQuotes?: string[];
  keywords: ReadonlySet<string>;
  literals: ReadonlySet<string>;
  caseInsensitive?: boolean;
}

const words = (list: string): ReadonlySet<string> => new Set(list.split(/\s+/).filter(Boolean));

const cLikeLiterals = words("true false null undefined NaN Infinity this super nullptr None True False nil");

const javascript: LanguageSpec = {
  lineComment: ["//"],
  blockComment: ["/*", "*/"],
  quotes: ['"', "'"],
  multilineQuotes: ["`"],
  keywords: words(`
    async await break case catch class const continue debugger default delete do else enum export extends
    finally for from function get if implements import in instanceof interface let new of package private
    protected public readonly return set static switch throw try type typeof var void while with yield as
    satisfies keyof declare namespace abstract`),
  literals: cLikeLiterals,
};

const python: LanguageSpec = {
  lineComment: ["#"],
  quotes: ['"', "'"],
  multilineQuotes: ['"""', "'''"],
  keywords: words(`
    and as assert async await break class continue def del elif else except finally for from global if import
    in is lambda nonlocal not or pass raise return try while with yield match case`),
  literals: words("True False None self"),
};

const shell: LanguageSpec = {
  lineComment: ["#"],
  quotes: ['"', "'"],
  keywords: words(`
    if then else elif fi for while until do done case esac function in select return exit export local
    readonly set unset shift source echo cd`),
  literals: words("true false"),
};

const sql: LanguageSpec = {
  lineComment: ["--"],
  blockComment: ["/*", "*/"],
  quotes: ["'", '"'],
  keywords: words(`
    select from where insert into values update set delete create table drop alter add column index primary
    key foreign references join inner left right outer on group by order having limit offset as and or not
    in is like between distinct union all exists case when then else end with returning default unique`),
  literals: words("null true false"),
  caseInsensitive: true,
};

const cFamily: LanguageSpec = {
  lineComment: ["//"],
  blockComment: ["/*", "*/"],
  quotes: ['"', "'"],
  keywords: words(`
    auto break case catch char class const continue default delete do double else enum extern final float for
    friend goto if inline int long namespace new operator private protected public register return short
    signed sizeof static struct switch template this throw try typedef typename union unsigned using virtual
    void volatile while bool boolean byte extends implements import interface package super synchronized
    throws var fn let mut pub impl trait use mod crate match loop move ref where func go defer chan map range
    select type struct`),
  literals: cLikeLiterals,
};

const json: LanguageSpec = { quotes: ['"'], keywords: words(""), literals: words("true false null") };

const css: LanguageSpec = {
  blockComment: ["/*", "*/"],
  quotes: ['"', "'"],
  keywords: words("@media @import @supports @keyframes @font-face !important"),
  literals: words(""),
};

const yaml: LanguageSpec = {
  lineComment: ["#"],
  quotes: ['"', "'"],
  keywords: words(""),
  literals: words("true false null yes no on off ~"),
};

const languages: Record<string, LanguageSpec> = {
  js: javascript,
  javascript,
  jsx: javascript,
  ts: javascript,
  typescript: javascript,
  tsx: javascript,
  mjs: javascript,
  py: python,
  python,
  sh: shell,
  bash: shell,
  shell,
  zsh: shell,
  console: shell,
  sql,
  sqlite: sql,
  c: cFamily,
  h: cFamily,
  cpp: cFamily,
  "c++": cFamily,
  java: cFamily,
  rust: cFamily,
  rs: cFamily,
  go: cFamily,
  csharp: cFamily,
  cs: cFamily,
  json,
  jsonc: { ...json, lineComment: ["//"], blockComment: ["/*", "*/"] },
  css,
  yaml,
  yml: yaml,
};

/** Whether a fenced block's language is one the highlighter knows. */
export function isKnownLanguage(lang: string): boolean {
  return Object.hasOwn(languages, lang.toLowerCase());
}

const identifier = /[A-Za-z_$@!][\w$-]*/y;
const numberPattern = /(?:0[xX][\da-fA-F_]+|0[bB][01_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?)[a-zA-Z]*/y;

/** Splits code into tokens by the language's rules; an unknown language is one plain token. */
export function tokenizeCode(code: string, lang: string): CodeToken[] {
  const spec = languages[lang.toLowerCase()];
  if (spec === undefined) return code === "" ? [] : [{ kind: "plain", text: code }];
  const tokens: CodeToken[] = [];
  let plain = "";
  const push = (kind: TokenKind, text: string) => {
    if (kind === "plain") {
      plain += text;
      return;
    }
    if (plain !== "") tokens.push({ kind: "plain", text: plain });
    plain = "";
    tokens.push({ kind, text });
  };
  let i = 0;
  outer: while (i < code.length) {
    for (const marker of spec.lineComment ?? []) {
      if (code.startsWith(marker, i) && (marker !== "#" || isCommentHash(code, i))) {
        const end = code.indexOf("\n", i);
        const stop = end === -1 ? code.length : end;
        push("comment", code.slice(i, stop));
        i = stop;
        continue outer;
      }
    }
    if (spec.blockComment !== undefined && code.startsWith(spec.blockComment[0], i)) {
      const end = code.indexOf(spec.blockComment[1], i + spec.blockComment[0].length);
      const stop = end === -1 ? code.length : end + spec.blockComment[1].length;
      push("comment", code.slice(i, stop));
      i = stop;
      continue;
    }
    for (const quote of spec.multilineQuotes ?? []) {
      if (code.startsWith(quote, i)) {
        const stop = findClosingQuote(code, i + quote.length, quote, true);
        push("string", code.slice(i, stop));
        i = stop;
        continue outer;
      }
    }
    for (const quote of spec.quotes) {
      if (code.startsWith(quote, i)) {
        const stop = findClosingQuote(code, i + 1, quote, false);
        push("string", code.slice(i, stop));
        i = stop;
        continue outer;
      }
    }
    const ch = code[i] ?? "";
    const previous = code[i - 1] ?? "";
    if (/\d/.test(ch) && !/[\w$]/.test(previous)) {
      numberPattern.lastIndex = i;
      const match = numberPattern.exec(code);
      if (match !== null) {
        push("number", match[0]);
        i += match[0].length;
        continue;
      }
    }
    if (/[A-Za-z_$@!]/.test(ch) && !/[\w$]/.test(previous)) {
      identifier.lastIndex = i;
      const match = identifier.exec(code);
      if (match !== null) {
        const word = match[0];
        const key = spec.caseInsensitive === true ? word.toLowerCase() : word;
        push(spec.keywords.has(key) ? "keyword" : spec.literals.has(key) ? "literal" : "plain", word);
        i += word.length;
        continue;
      }
    }
    push("plain", ch);
    i += 1;
  }
  if (plain !== "") tokens.push({ kind: "plain", text: plain });
  return tokens;
}

/** `#` starts a comment at the start of a line or after a space (not inside `a#b` or `$#`). */
function isCommentHash(code: string, i: number): boolean {
  const previous = code[i - 1];
  return previous === undefined || /\s/.test(previous);
}

/** The index just past the closing quote; an unterminated single-line string ends at the line's end. */
function findClosingQuote(code: string, from: number, quote: string, multiline: boolean): number {
  let i = from;
  while (i < code.length) {
    const ch = code[i];
    if (ch === "\\") {
      i += 2;
      continue;
    }
    if (!multiline && ch === "\n") return i;
    if (code.startsWith(quote, i)) return i + quote.length;
    i += 1;
  }
  return code.length;
}

const htmlEscapes: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes the five characters that matter in HTML text and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => htmlEscapes[ch] ?? ch);
}

/** Highlighted code as HTML: escaped text in `<span class="tok-<kind>">`. */
export function highlightCode(code: string, lang: string): string {
  return tokenizeCode(code, lang)
    .map((token) =>
      token.kind === "plain"
        ? escapeHtml(token.text)
        : `<span class="tok-${token.kind}">${escapeHtml(token.text)}</span>`,
    )
    .join("");
}
