/**
 * The rule-based fact extractor: text in, facts out, Spanish or English. Sentences are read one by one; a
 * person named in one can be "ella"/"she" in the next.
 */
import type { SentenceState, Subject } from "./clause.js";
import { languageScores } from "./language.js";
import { questionTagsEn, questionTagsEs } from "./lexicon.js";
import { readSentenceEn } from "./rules-en.js";
import { readSentenceEs } from "./rules-es.js";
import { rewriteText } from "./rewrite.js";
import { splitSentences } from "./sentences.js";
import { fold, tokenize } from "./tokens.js";
import type { ExtractedFact, Language } from "../types.js";

const allCaps = /\p{Lu}.*\p{Lu}/u;
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
  if (lang === "es" || lang === "en") return extractIn(input, lang);
  const scores = languageScores(input);
  if (scores.es !== scores.en) return extractIn(input, scores.es > scores.en ? "es" : "en");
  // No evidence either way ("Call me Ishmael"): whichever reading finds more, Spanish on a tie.
  const es = extractIn(input, "es");
  const en = extractIn(input, "en");
  return en.length > es.length ? en : es;
}

function extractIn(input: string, language: Language): ExtractedFact[] {
  const facts: ExtractedFact[] = [];
  let topic: Subject | undefined;
  let group: Subject[] | undefined;
  try {
    for (const sentence of splitSentences(rewriteText(input, language))) {
      const read = sentence.question ? statementInQuestion(sentence.text, language) : sentence.text;
      if (read === undefined) continue;
      // "MI HERMANA VIVE EN MADRID": shouting hides which words are names; read it in lowercase
      const statement = allCaps.test(read) && !/\p{Ll}/u.test(read) ? read.toLowerCase() : read;
      const toks = tokenize(statement, language === "en");
      if (toks.length === 0 || toks.length > maxTokens) continue;
      const state: SentenceState = {
        text: statement,
        toks,
        lang: language,
        user: language === "es" ? "usuario" : "user",
        facts,
        penalty: 0,
        firstFact: facts.length,
      };
      if (topic !== undefined) state.topic = topic;
      if (group !== undefined) state.group = group;
      if (language === "es") readSentenceEs(state);
      else readSentenceEn(state);
      topic = state.topic;
      group = state.group;
    }
  } catch {
    // A rule bug must not cost the turn: keep what was read before it.
  }
  return facts;
}

/** "¿Puedes recordar que vivo en Madrid?": a request to remember, phrased as a question, still states. */
const rememberRequest =
  /^¿?\s*(?:(?:me\s+)?(?:puedes|podrias|podria|can you|could you|would you|will you)\s+)?(?:(?:por favor|porfa|please)\s+)?(?:recordar|recuerda|recordarme|recuerdame|acordarte de|anotar|apuntar|apunta|anota|guardar|memorizar|remember|remind me|note|save|keep in mind)\s+(?:que|that)\s+/u;

/**
 * The statement inside a question, if any. "Vivo en Madrid, ¿y tú?" is split before "¿"; "I live in Madrid,
 * and you?" is one sentence: a short tag after the last comma does not make the statement before it a
 * question. A request to remember phrased as a question keeps what it asks to remember.
 */
function statementInQuestion(text: string, lang: Language): string | undefined {
  const folded = fold(text);
  const remember = rememberRequest.exec(folded);
  if (remember !== null) return text.slice(remember[0].length).replace(/[?¿]+/g, "");
  return beforeQuestionTag(text, lang) ?? beforeRequest(text);
}

/**
 * "I work at Heathrow, so can you find me a flat near there?": a statement, then a request after a comma.
 * The statement is kept when it does not itself ask.
 */
const requestTail =
  /^\s*(?:(?:so|and|but|then|y|pero|asi que|entonces|por eso)\s+)?(?:can|could|would|will|do|any|what|which|how|where|puedes|podrias|me puedes|me podrias|que|cual|como|donde|sabes|conoces|hay)\b/u;
const askingHead =
  /^\s*[¿¡]?\s*(?:what|where|who|when|why|how|which|do|does|did|is|are|am|can|could|would|will|should|que|donde|quien|cuando|por que|como|cual|cuanto|puedes|podrias|sabes)\b/u;

function beforeRequest(text: string): string | undefined {
  const comma = text.indexOf(",");
  if (comma <= 0) return undefined;
  const head = fold(text.slice(0, comma));
  if (askingHead.test(head) || !requestTail.test(fold(text.slice(comma + 1)))) return undefined;
  return text.slice(0, comma);
}

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
