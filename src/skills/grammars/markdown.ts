import { oneTo, upTo } from "./gbnf.js";

export interface MarkdownGrammarOptions {
  /** Most blocks (headings, lists, code blocks, paragraphs). Unbounded when omitted. */
  maxBlocks?: number;
  /** Most items in a list, lines in a paragraph or lines in a code block. Default 20. */
  maxLines?: number;
  /** Longest run of plain text between inline elements, in characters. Unbounded when omitted. */
  maxTextLength?: number;
  /** Most inline elements (runs of text, `inline code`) on one line. Default 12. */
  maxInlines?: number;
}

/**
 * A GBNF grammar for Markdown: ATX headings (`#` to `######`), `-` bullet lists, `1.` numbered lists, fenced
 * code blocks (```` ``` ```` with an optional language, always closed), and paragraphs, separated by blank
 * lines. Text may hold emphasis (`*`, `_`), `inline code` and links; it starts with a letter, digit or quote-free
 * punctuation that cannot open another block, and never holds `<` or `>`, so no raw HTML can appear. The text
 * ends with a newline.
 */
export function createMarkdownGrammar(options: MarkdownGrammarOptions = {}): string {
  const { maxBlocks, maxLines = 20, maxTextLength, maxInlines = 12 } = options;
  const lines = oneTo(maxLines);
  return [
    `root ::= block ( "\\n" block )${maxBlocks === undefined ? "*" : upTo(maxBlocks - 1)}`,
    `block ::= heading | bullets | numbered | code | paragraph`,
    `heading ::= "#"{1,6} " " text "\\n"`,
    `bullets ::= ( "- " text "\\n" )${lines}`,
    `numbered ::= ( [1-9] [0-9]? ". " text "\\n" )${lines}`,
    `code ::= "\`\`\`" [a-z]{0,12} "\\n" ( codeline "\\n" )${upTo(maxLines)} "\`\`\`\\n"`,
    `codeline ::= ( [^\`\\n\\x00-\\x08\\x0B-\\x1F] [^\\n\\x00-\\x08\\x0B-\\x1F]${upTo(maxTextLength)} )?`,
    `paragraph ::= ( text "\\n" )${lines}`,
    // A line starts with a letter or digit-free opener that no block syntax uses, so it stays a paragraph line.
    `text ::= [A-Za-z] run? ( inline run? )${upTo(maxInlines - 1)}`,
    `run ::= [^\\n<>\`\\x00-\\x1F\\x7F]${oneTo(maxTextLength)}`,
    `inline ::= "\`" [^\`\\n\\x00-\\x1F]${oneTo(maxTextLength)} "\`"`,
  ].join("\n");
}

/** The Markdown grammar with its default bounds (blocks and text length unbounded): for real use. */
export const markdownGrammar: string = createMarkdownGrammar();
