import { createMarkdownGrammar } from "../grammars/index.js";
import { validateMarkdown } from "../validators/index.js";
import type { Skill } from "../skill.js";
import { toSkillCheck } from "./check.js";

// A summary is short: a few blocks of bounded lines, so that the output ends within maxTokens.
const summaryGrammar = createMarkdownGrammar({ maxBlocks: 6, maxLines: 8, maxTextLength: 200 });

/** `summarize_markdown`: a short Markdown summary (heading, bullet points) under the Markdown grammar. */
export const summarizeMarkdownSkill: Skill = {
  name: "summarize_markdown",
  description: "Summarises the input as Markdown: a heading and a few bullet points.",
  outputKind: "markdown",
  maxTokens: 400,
  prompt: {
    system: [
      "Summarise the user's text in Markdown: one short heading, then three to six bullet points with the key",
      "facts. Write in the language of the text. Answer with the Markdown only.",
    ].join(" "),
    user: "{{input}}",
  },
  constraint: () => ({ grammar: summaryGrammar }),
  validate: (text) => {
    if (text.trim() === "") return { ok: false, error: "the summary is empty" };
    return toSkillCheck(validateMarkdown(text), text, false);
  },
};
