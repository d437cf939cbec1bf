/**
 * Surface rewrites applied to the text before it is split and read: paraphrases the rules do not read are
 * turned into ones they do ("I'm employed at X" → "I work at X", "Neither A nor B speak X" → "A and B
 * don't speak X", "my grandma Edith's birthday is…" → "my grandma is called Edith. Edith's birthday is…").
 * Each rewrite is a general pattern over function words, never a listed sentence.
 */
import { isSwap, withinOneEdit } from "./typo.js";
import type { Language } from "../types.js";

type Rewrite = readonly [RegExp, string | ((...groups: string[]) => string)];

const cap = "\\p{Lu}[\\p{L}'-]*";
const name = `${cap}(?:\\s+${cap})?`;

/** English 3s and be forms that take "not" after them rather than "don't". */
const auxEn = new Set(["am", "is", "are", "was", "were", "can", "will", "could", "would", "have", "has"]);

function neitherNorEn(_m: string, a: string, b: string, verb: string): string {
  const v = verb.toLowerCase();
  if (auxEn.has(v)) {
    const be = v === "am" || v === "is" ? "are" : v === "was" ? "were" : v === "has" ? "have" : v;
    return `${a} and ${b} ${be} not `;
  }
  const base = v.endsWith("ies")
    ? `${v.slice(0, -3)}y`
    : v.endsWith("s") && !v.endsWith("ss")
      ? v.slice(0, -1)
      : v;
  return `${a} and ${b} don't ${base} `;
}

function employedEn(_m: string, who: string, be: string, prep: string): string {
  const b = be.toLowerCase().replace(/^'/, "");
  const first = /^(?:i)$/i.test(who) || b === "m" || b === "am";
  const plural = b === "are" || b === "re";
  const verb = first || plural ? "work" : "works";
  const p = prep.toLowerCase() === "as" ? "as" : "at";
  return `${who} ${verb} ${p}`;
}

function basedEn(_m: string, who: string, be: string): string {
  const b = be.toLowerCase().replace(/^'/, "");
  const first = /^(?:i)$/i.test(who) || b === "m" || b === "am";
  const plural = b === "are" || b === "re";
  return `${who} ${first || plural ? "live" : "lives"} in`;
}

/** "my mum's nmae is Sheila": a slip in the attribute noun before "is". */
function attributeTypoEn(m: string, lead: string, word: string): string {
  const w = word.toLowerCase();
  if (w !== "name" && isSwap(w, "name")) return `${lead}name`;
  if (w !== "birthday" && withinOneEdit(w, "birthday")) return `${lead}birthday`;
  return m;
}

const rewritesEn: readonly Rewrite[] = [
  [/(\b(?:my|his|her|our)\s+|['’]s\s+)(\p{Ll}{4,9})(?=\s+is\b)/giu, attributeTypoEn],
  // "Save this: I live in Leeds", "Note: …", "FYI - …"
  [/(^|[.!?]\s+)(?:save|store|remember|note|log|record|keep)\s+(?:this|that)\s*[:,-]\s*/giu, "$1"],
  [/(^|[.!?]\s+)(?:don'?t|do not|never)\s+forget\s+(?:that\s+)?(?=(?:i|my|we|he|she)\b)/giu, "$1"],
  [/(^|[.!?]\s+)(?:fyi|btw|ps|p\.s\.)\s*[:,-]?\s*/giu, "$1"],
  // "I'm employed at/by X", "my dad is employed as a nurse"
  [
    /\b(i|he|she|we|they|\p{L}+)(?:\s+|['’])(am|m|is|s|are|re)\s+(?:currently\s+|now\s+)?employed\s+(at|by|with|in|as)\b/giu,
    employedEn,
  ],
  // "I'm based in X"
  [
    /\b(i|he|she|we|they|\p{L}+)(?:\s+|['’])(am|m|is|s|are|re)\s+(?:currently\s+|now\s+)?based\s+(?:in|out of)\b/giu,
    basedEn,
  ],
  // "I'm living in X" is read; "I reside in" is a verb of the table
  // "Neither my wife nor I speak Italian"
  [
    new RegExp(
      `(?<=^|[.!?]\\s+|,\\s*)[Nn]either\\s+((?:[Mm]y\\s+)?[\\p{L}'-]+(?:\\s+${cap})?)\\s+nor\\s+(I|he|she|we|they|my\\s+[\\p{L}'-]+(?:\\s+${cap})?|${name})\\s+([\\p{L}']+)\\s+`,
      "gu",
    ),
    neitherNorEn,
  ],
  // "I speak neither French nor German" → "I don't speak French or German"
  [
    /\b(i|we|they)\s+(\p{Ll}+)\s+neither\s+([\p{L}' -]+?)\s+nor\s+/giu,
    (_m, who: string, verb: string, a: string) => `${who} don't ${verb} ${a} or `,
  ],
  // "Ben and Aisha both work at X", "I speak both Hindi and Urdu"
  [/(?<=\p{L}\s+)both\s+(?!of\b)/giu, ""],
  // "My grandma Edith's birthday is June 1st" → the kin fact, then the attribute with the name
  [
    new RegExp(`\\b(my)\\s+(\\p{Ll}+(?:\\s+\\p{Ll}+)?)\\s+(${name})'s\\s+(?=\\p{Ll})`, "gu"),
    (_m, my: string, kin: string, who: string) => `${my} ${kin} is called ${who}. ${who}'s `,
  ],
  [
    new RegExp(`\\b(My)\\s+(\\p{Ll}+(?:\\s+\\p{Ll}+)?)\\s+(${name})'s\\s+(?=\\p{Ll})`, "gu"),
    (_m, my: string, kin: string, who: string) => `${my} ${kin} is called ${who}. ${who}'s `,
  ],
];

function neitherNorEs(_m: string, a: string, b: string): string {
  return `${a} y ${b} no `;
}

const rewritesEs: readonly Rewrite[] = [
  // "Oye, que mi marido…", "Pues que vivo en…": a leading "que" only introduces the statement
  [/(^|[.!?]\s+)((?:oye|mira|pues|bueno|ah|eh)\s*,?\s+)que\s+/giu, "$1"],
  [/(^|[.!?]\s+)que\s+(?=(?:mi|mis|yo|vivo|trabajo|soy|tengo|estoy|me)\b)/giu, "$1"],
  [/(^|[.!?]\s+)(?:guarda|apunta|anota|recuerda|memoriza)\s+(?:esto|eso)\s*[:,-]\s*/giu, "$1"],
  [/(^|[.!?]\s+)(?:no\s+(?:te\s+)?olvides(?:\s+de)?|ojo)\s*(?:que\s+|,\s*|:\s*)(?=\p{L})/giu, "$1"],
  // "Ni mi hermano ni yo hablamos francés" → "mi hermano y yo no hablamos francés"
  [
    new RegExp(
      `(?<=^|[.!?¡¿]\\s*|,\\s*)[Nn]i\\s+((?:[Mm]i|[Mm]is)\\s+[\\p{L}-]+(?:\\s+${cap})?|${name}|yo|él|ella|tú)\\s+ni\\s+((?:mi|mis)\\s+[\\p{L}-]+(?:\\s+${cap})?|${name}|yo|él|ella|tú|nosotros|nosotras)\\s+`,
      "gu",
    ),
    neitherNorEs,
  ],
  // "me he mudado a Vigo" → "me mudé a Vigo"
  [
    /\b(me|se|nos)\s+(?:he|ha|hemos|han)\s+(?:mudado|trasladado)\b/giu,
    (_m, p: string) =>
      `${p} ${p.toLowerCase() === "me" ? "mudé" : p.toLowerCase() === "nos" ? "mudamos" : "mudó"}`,
  ],
  // "Ana y Luis trabajan ambos en…", "ambos trabajan en…"
  [/(?<=\p{L}\s+)(?:ambos|ambas|los dos|las dos)\s+(?!de\b)/giu, ""],
  // "El cumpleaños de mi abuela Remedios es el 1 de junio" → "mi abuela Remedios cumple años el 1 de junio"
  [
    new RegExp(
      `\\b[Ee]l\\s+cumplea[ñn]os\\s+de\\s+((?:mi|mis)\\s+\\p{Ll}+\\s+${name}|${name})\\s+es\\s+(?:el\\s+)?`,
      "gu",
    ),
    (_m, who: string) => `${who} cumple años el `,
  ],
];

/** The text with the paraphrases of `lang` rewritten into forms the rules read. */
export function rewriteText(text: string, lang: Language): string {
  let out = text;
  for (const [pattern, replacement] of lang === "es" ? rewritesEs : rewritesEn) {
    pattern.lastIndex = 0;
    if (!pattern.test(out)) continue;
    pattern.lastIndex = 0;
    out =
      typeof replacement === "string" ? out.replace(pattern, replacement) : out.replace(pattern, replacement);
  }
  return out;
}
