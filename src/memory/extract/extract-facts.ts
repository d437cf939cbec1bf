/**
 * The rule-based fact extractor: text in, facts out, Spanish or English. Sentences are read one by one; a
 * person named in one can be "ella"/"she" in the next.
 */
import type { SentenceState, Subject } from "./clause.js";
import { detectLanguage } from "./language.js";
import { questionTagsEn, questionTagsEs } from "./lexicon.js";
import { readSentenceEn } from "./rules-en.js";
import { readSentenceEs } from "./rules-es.js";
import { splitSentences } from "./sentences.js";
import { fold, tokenize } from "./tokens.js";
import type { ExtractedFact, Language } from "../types.js";

/** Characters read from one text; the rest is ignored (the caller has its own, lower limit). */
const maxChars = 20_000;
/** Longer sentences are run-ons or pasted text, not statements about the user. */
const maxTokens = 120;

/**
 * Facts stated in `text` (CONVENTIONS.md): the speaker is `usuario`/`user`, relatives are named or written
 * `hermana de usuario`/`user's sister`, relations are canonical ids. Questions, requests, greetings,
 * wishes and hypotheticals give nothing. `lang` defaults to `detectLanguage(text)`. Never throws.
 */
export function extractFacts(text: string, lang?: Language): ExtractedFact[] {
  if (typeof text !== "string" || text.length === 0) return [];
  const input = text.length > maxChars ? text.slice(0, maxChars) : text;
  const language: Language = lang === "es" || lang === "en" ? lang : detectLanguage(input);
  const facts: ExtractedFact[] = [];
  let topic: Subject | undefined;
  try {
    for (const sentence of splitSentences(input)) {
      const statement = sentence.question ? beforeQuestionTag(sentence.text, language) : sentence.text;
      if (statement === undefined) continue;
      const toks = tokenize(statement, language === "en");
      if (toks.length === 0 || toks.length > maxTokens) continue;
      const state: SentenceState = {
        text: statement,
        toks,
        lang: language,
        user: language === "es" ? "usuario" : "user",
        facts,
        penalty: 0,
      };
      if (topic !== undefined) state.topic = topic;
      if (language === "es") readSentenceEs(state);
      else readSentenceEn(state);
      topic = state.topic;
    }
  } catch (e) {
    if (process.env.EXTRACT_DEBUG) console.error(e);
    // A rule bug must not cost the turn: keep what was read before it.
  }
  return facts;
}

/**
 * "Vivo en Madrid, ¿y tú?" is split before "¿"; "I live in Madrid, and you?" is one sentence: a short tag
 * after the last comma does not make the statement before it a question.
 */
function beforeQuestionTag(text: string, lang: Language): string | undefined {
  const comma = text.lastIndexOf(",");
  if (comma <= 0) return undefined;
  const tail = fold(text.slice(comma + 1))
    .replace(/[¿?¡!.\s]+/g, " ")
    .trim();
  const words = tail.split(" ");
  const tags = lang === "es" ? questionTagsEs : questionTagsEn;
  if (words.length > 4 || !tags.has(words[0] ?? "")) return undefined;
  return text.slice(0, comma);
}
