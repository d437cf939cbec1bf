/** One token of a sentence: a word, a number or a punctuation mark, with where it sits in the sentence. */
export interface Token {
  /** As written (for a split contraction, its part: "n't", "'s"). */
  text: string;
  /** Lowercase, accents kept: tells "él" from "el", "sí" from "si", "llamó" from "llamo". */
  low: string;
  /** Lowercase, accents folded, contractions expanded ("'m" → "am", "n't" → "not"): the lexicon key. */
  key: string;
  /** Offset of the first character in the sentence. */
  start: number;
  /** Offset after the last character. */
  end: number;
  /** Starts with an uppercase letter. */
  cap: boolean;
  kind: TokenKind;
}

/** What a token is. */
export type TokenKind = "word" | "number" | "punct";

const tokenPattern =
  /[\p{L}\d._%+-]+@[\p{L}\d-]+(?:\.[\p{L}\d-]+)*\.\p{L}{2,}|https?:\/\/[^\s"'<>]+|\d{1,2}[/-]\d{1,2}(?:[/-](?:\d{4}|\d{2}))?(?![\p{L}\d/-])|\d{1,2}[:.]\d{2}(?:\s?[ap]\.m\.)?|\d+(?:st|nd|rd|th|º|ª|am|pm|h)?(?![\p{L}\d])|[ap]\.m\.|[\p{L}\p{M}\d]+(?:['’‘´`ʼ-][\p{L}\p{M}\d]+)*|\S/gu;
const apostrophes = /['’‘´`ʼ]/g;
const marks = /\p{M}+/gu;
const letter = /\p{L}/u;
const upper = /\p{Lu}/u;
/** Titles written with a dot before a name ("Dr. Lee", "la Sra. Pardo"): the dot stays in the token. */
const titles = new Set([
  "dr",
  "dra",
  "sr",
  "sra",
  "srta",
  "mr",
  "mrs",
  "ms",
  "mx",
  "prof",
  "st",
  "rev",
  "fr",
  "sgt",
  "capt",
]);
const titleDot = /^\.\s*\p{Lu}/u;
const elidedName = /^\p{Ll}['’]\p{Lu}/u;

/** Contraction endings split off English words, with the word each stands for. */
const englishEndings: ReadonlyArray<readonly [string, string]> = [
  ["n't", "not"],
  ["'m", "am"],
  ["'re", "are"],
  ["'ve", "have"],
  ["'ll", "will"],
  ["'d", "would"],
  ["'s", "'s"],
];

/** English contractions typed without the apostrophe: "im" → "i" + "am". */
const bareContractions: ReadonlyMap<string, readonly [string, string, number]> = new Map([
  ["im", ["i", "am", 1]],
  ["ive", ["i", "have", 1]],
  ["dont", ["do", "not", 2]],
  ["doesnt", ["does", "not", 4]],
  ["didnt", ["did", "not", 3]],
  ["cant", ["can", "not", 3]],
  ["isnt", ["is", "not", 2]],
  ["arent", ["are", "not", 3]],
  ["wasnt", ["was", "not", 3]],
  ["havent", ["have", "not", 4]],
  ["hasnt", ["has", "not", 3]],
  ["wont", ["will", "not", 2]],
  ["wouldnt", ["would", "not", 5]],
  ["couldnt", ["could", "not", 5]],
]);

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 127) return false;
  return true;
}

/** Lowercase with accents removed: the form every lexicon is keyed by. */
export function fold(text: string): string {
  if (isAscii(text)) return text.toLowerCase();
  return text.normalize("NFD").replace(marks, "").toLowerCase();
}

/**
 * Splits a sentence into tokens. English contractions are split ("I'm" → "I" + "'m", "can't" → "ca" + "n't"
 * with keys "can" + "not") when `english` is set; times ("10:30", "10am") and ordinals ("3rd") stay whole.
 */
export function tokenize(sentence: string, english: boolean): Token[] {
  const tokens: Token[] = [];
  tokenPattern.lastIndex = 0;
  for (let m = tokenPattern.exec(sentence); m !== null; m = tokenPattern.exec(sentence)) {
    const text = m[0];
    const start = m.index;
    const first = text.charAt(0);
    if (!letter.test(first) && !(first >= "0" && first <= "9")) {
      tokens.push(makeToken(text, start, "punct"));
      continue;
    }
    if (first >= "0" && first <= "9") {
      tokens.push(makeToken(text, start, "number"));
      continue;
    }
    if (
      text.length <= 4 &&
      titles.has(text.toLowerCase()) &&
      titleDot.test(sentence.slice(m.index + text.length, m.index + text.length + 4))
    ) {
      tokens.push(makeToken(`${text}.`, start, "word"));
      tokenPattern.lastIndex = start + text.length + 1;
      continue;
    }
    if (english && !splitEnglish(text, start, tokens)) tokens.push(makeToken(text, start, "word"));
    else if (!english) tokens.push(makeToken(text, start, "word"));
  }
  return tokens;
}

function splitEnglish(text: string, start: number, out: Token[]): boolean {
  const plain = text.replace(apostrophes, "'").toLowerCase();
  if (plain.includes("'")) {
    for (const [ending, expanded] of englishEndings) {
      if (plain.length > ending.length && plain.endsWith(ending)) {
        const cut = text.length - ending.length;
        let head = makeToken(text.slice(0, cut), start, "word");
        if (ending === "n't") {
          if (head.key === "ca") head = { ...head, key: "can" };
          else if (head.key === "wo") head = { ...head, key: "will" };
          else if (head.key === "sha") head = { ...head, key: "shall" };
        }
        out.push(head);
        const tail = makeToken(text.slice(cut), start + cut, "word");
        out.push({ ...tail, key: expanded });
        return true;
      }
    }
    return false;
  }
  const bare = bareContractions.get(plain);
  if (bare === undefined) return false;
  const [headKey, tailKey, cut] = bare;
  out.push({ ...makeToken(text.slice(0, cut), start, "word"), key: headKey });
  out.push({ ...makeToken(text.slice(cut), start + cut, "word"), key: tailKey });
  return true;
}

function makeToken(text: string, start: number, kind: TokenKind): Token {
  const low = text.toLowerCase();
  return {
    text,
    low,
    key: fold(text).replace(apostrophes, "'"),
    start,
    end: start + text.length,
    // "d'Alene", "l'Aquila": an elided particle before a capitalised name
    cap: upper.test(text.charAt(0)) || elidedName.test(text),
    kind,
  };
}

/** "lucía" → "Lucía", "juan carlos" → "Juan Carlos", "san-sebastián" → "San-Sebastián". */
export function capitalizeWords(text: string): string {
  return text.replace(/(^|[\s-])(\p{Ll})/gu, (_m, sep: string, ch: string) => sep + ch.toUpperCase());
}
