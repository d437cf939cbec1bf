import { describe, expect, it } from "vitest";
import { renderMarkdown } from "./markdown.js";

describe("web", () => {
  describe("renderMarkdown", () => {
    it("escapes raw HTML blocks and inline tags instead of rendering them", () => {
      const html = renderMarkdown(
        '<script>window.__pwned=1</script>\n\nhi <img src=x onerror="window.__pwned=1"> there',
      );
      expect(html).not.toMatch(/<script|<img/i);
      expect(html).toContain("&lt;script&gt;window.__pwned=1&lt;/script&gt;");
      expect(html).toContain("&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;");
    });

    it("keeps javascript: and data: links as plain text and opens safe ones without a referrer", () => {
      const html = renderMarkdown(
        "[a](javascript:alert(1)) [b](data:text/html,x) [c](https://example.org/?q=1&r=2)",
      );
      expect(html).not.toContain("javascript:");
      expect(html).not.toContain('href="data:');
      expect(html).toContain(
        '<a href="https://example.org/?q=1&amp;r=2" target="_blank" rel="noopener noreferrer">c</a>',
      );
    });

    it("shows images as a label and loads nothing", () => {
      const html = renderMarkdown('![cat "pic"](https://example.org/cat.png)');
      expect(html).not.toContain("<img");
      expect(html).toContain('<span class="md-image">[cat &quot;pic&quot;]</span>');
    });

    it("highlights a fenced block in a known language and escapes one in an unknown language", () => {
      const known = renderMarkdown('```js\nconst a = "<b>"; // hi\n```');
      expect(known).toContain('<span class="tok-keyword">const</span>');
      expect(known).toContain('<span class="tok-string">&quot;&lt;b&gt;&quot;</span>');
      expect(known).toContain('<span class="tok-comment">// hi</span>');
      const unknown = renderMarkdown("```brainfuck\n<>+-\n```");
      expect(unknown).toContain("&lt;&gt;+-");
      expect(unknown).not.toContain("tok-");
    });

    it("escapes HTML inside inline code, headings and tables", () => {
      const html = renderMarkdown("# <b>t</b>\n\n`<i>x</i>`\n\n| <u>a</u> |\n| - |\n| <s>b</s> |");
      expect(html).not.toMatch(/<(b|i|u|s)>/);
    });
  });
});
