import { Marked, type Tokens } from "marked";
import { escapeHtml, highlightCode, isKnownLanguage } from "./highlight.js";

/** Schemes a rendered link may point at; anything else (javascript:, data:, vbscript:…) becomes plain text. */
const safeLink = /^(?:https?:\/\/|mailto:|#)/i;

/**
 * Markdown for text that came from the model or from memory: GitHub-flavoured, with line breaks kept. Raw HTML
 * in the text is shown as text (escaped), never rendered; images become a link-free label (the UI loads nothing
 * from elsewhere); links only to http(s), mailto and in-page anchors, opened without a referrer.
 */
const marked = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(text);
    },
    code({ text, lang }: Tokens.Code): string {
      const language = (lang ?? "").trim().split(/\s+/)[0] ?? "";
      const known = isKnownLanguage(language);
      const label = language === "" ? "" : `<span class="code-lang">${escapeHtml(language)}</span>`;
      const body = known ? highlightCode(text, language) : escapeHtml(text);
      return `<div class="code-block">${label}<pre><code>${body}</code></pre></div>\n`;
    },
    link({ href, title, tokens }: Tokens.Link): string {
      const inner = this.parser.parseInline(tokens);
      if (!safeLink.test(href)) return inner;
      const titleAttribute = title === null || title === undefined ? "" : ` title="${escapeHtml(title)}"`;
      return `<a href="${escapeHtml(href)}"${titleAttribute} target="_blank" rel="noopener noreferrer">${inner}</a>`;
    },
    image({ text }: Tokens.Image): string {
      return `<span class="md-image">[${escapeHtml(text === "" ? "image" : text)}]</span>`;
    },
  },
});

/** Renders untrusted Markdown to HTML that is safe to insert: see `marked`'s options above. */
export function renderMarkdown(text: string): string {
  return marked.parse(text, { async: false });
}
