/**
 * The guard's first layer: undo the tricks that hide an instruction from a plain reading. Every text is read
 * in several forms (variants): folded (NFKC, confusables mapped to Latin, invisible characters removed, case
 * and accents folded), de-leeted, with spaced-out letters and hyphenated syllables joined, split strings put back
 * together, and any base64, hex, binary, decimal character codes, Morse, Unicode tag characters, rot13 or another
 * Caesar shift, letter numbers (a=1) or reversed payload decoded. The rules and the scorer read the variants; the signals say which tricks were found.
 */

/** A trick the normaliser undid; each is also a feature of the scorer. */
export type NormalizationSignal =
  | "invisible_characters"
  | "confusables"
  | "mixed_script"
  | "fullwidth"
  | "leetspeak"
  | "spaced_letters"
  | "base64"
  | "hex"
  | "rot13"
  | "reversed"
  | "payload_split"
  | "binary"
  | "decimal_codes"
  | "morse"
  | "tag_characters"
  | "caesar"
  | "letter_numbers";

export interface NormalizedText {
  /** The folded text: what the rules and the scorer read first. */
  folded: string;
  /** Other readings of the text (de-leeted, joined, decoded payloads), each folded; without duplicates. */
  variants: string[];
  signals: NormalizationSignal[];
}

// Zero-width and format characters, bidi controls, soft hyphen, word joiners, variation selectors, tags.
// The class lists combining characters on purpose: each is removed on its own, wherever it stands.
const invisible =
  // eslint-disable-next-line no-misleading-character-class
  /[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0]|[\u{E0000}-\u{E01EF}]/gu;

/**
 * Letters of other scripts that look like Latin ones (Unicode's confusables for Cyrillic, Greek, Armenian and
 * a few IPA letters). Only the lookalikes: a real Cyrillic or Greek word is mapped too, which is harmless for
 * matching Latin-script instructions.
 */
// prettier-ignore
const confusables: Record<string, string> = {
  а: "a", в: "b", е: "e", ё: "e", к: "k", м: "m", н: "h", о: "o", р: "p", с: "c", т: "t", у: "y", х: "x",
  ѕ: "s", і: "i", ї: "i", ј: "j", һ: "h", ԁ: "d", ԛ: "q", ԝ: "w", ӏ: "l", ɡ: "g", ɑ: "a", ɩ: "i", ʏ: "y",
  А: "a", В: "b", Е: "e", К: "k", М: "m", Н: "h", О: "o", Р: "p", С: "c", Т: "t", У: "y", Х: "x", Ѕ: "s",
  І: "i", Ј: "j", α: "a", β: "b", ε: "e", ι: "i", κ: "k", ν: "v", ο: "o", ρ: "p", τ: "t", υ: "u", χ: "x",
  Α: "a", Β: "b", Ε: "e", Ζ: "z", Η: "h", Ι: "i", Κ: "k", Μ: "m", Ν: "n", Ο: "o", Ρ: "p", Τ: "t", Υ: "y",
  Χ: "x", օ: "o", ս: "u", ց: "g", ո: "n", ɾ: "r", ʀ: "r", ı: "i",
};
const confusablePattern = new RegExp(`[${Object.keys(confusables).join("")}]`, "gu");

// prettier-ignore
const leet: Record<string, string> = {
  "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", $: "s", "!": "i", "|": "l",
};

/** Folds case, accents, confusables, full-width forms and invisible characters; collapses whitespace. */
export function foldText(text: string): string {
  return text
    .normalize("NFKC")
    .replace(invisible, "")
    .replace(confusablePattern, (c) => confusables[c] ?? c)
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .replace(/\s+/gu, " ")
    .trim();
}

/** Normalises `text` for the guard: the folded form, the other readings, and the tricks found. */
export function normalizeForGuard(text: string): NormalizedText {
  const signals = new Set<NormalizationSignal>();
  if (invisible.test(text)) signals.add("invisible_characters");
  invisible.lastIndex = 0;
  if (/[\uFF01-\uFF5E]/u.test(text)) signals.add("fullwidth");
  // Unicode tag characters (U+E0020–U+E007E) spell ASCII that no screen shows: read it.
  const tags = decodeTagCharacters(text);
  const nfkc = text.normalize("NFKC").replace(invisible, "");
  // A word mixing Latin letters with lookalikes from another script is a disguise; a Russian sentence is not.
  for (const word of nfkc.split(/[^\p{L}]+/u)) {
    if (!/[a-zA-Z]/.test(word)) continue;
    confusablePattern.lastIndex = 0;
    if (confusablePattern.test(word)) {
      signals.add("confusables");
      signals.add("mixed_script");
      break;
    }
  }
  confusablePattern.lastIndex = 0;
  const folded = foldText(text);
  const variants = new Set<string>();
  const add = (variant: string, signal: NormalizationSignal) => {
    const value = foldText(variant);
    if (value === "" || value === folded || variants.has(value)) return;
    variants.add(value);
    signals.add(signal);
  };

  const deleeted = deleetWords(folded);
  if (deleeted !== folded) add(deleeted, "leetspeak");
  const joined = joinSpacedLetters(folded);
  if (joined !== folded) add(joined, "spaced_letters");
  // "O L V I D A   T O D O": words of spaced letters kept apart by wider gaps, which folding would lose.
  const wideSpaced = joinWideSpacedLetters(nfkc);
  if (wideSpaced !== undefined) add(wideSpaced, "spaced_letters");
  const syllables = joinSyllables(folded);
  if (syllables !== undefined) add(syllables, "payload_split");
  if (tags !== undefined) add(tags, "tag_characters");
  const pieces = splitPayload(nfkc);
  if (pieces !== undefined) {
    add(pieces.join(""), "payload_split");
    add(pieces.join(" "), "payload_split");
  }
  for (const payload of decodeBase64Blobs(nfkc)) add(payload, "base64");
  for (const payload of decodeHexBlobs(nfkc)) add(payload, "hex");
  for (const payload of decodeBinaryRuns(nfkc)) add(payload, "binary");
  for (const payload of decodeDecimalRuns(nfkc)) add(payload, "decimal_codes");
  for (const payload of decodeMorseRuns(nfkc)) add(payload, "morse");
  for (const payload of decodeLetterNumbers(nfkc)) add(payload, "letter_numbers");
  // rot13 and reversal leave no mark: read them when they turn the text, or a part of it (the payload after "decode
  // this:"), into more real words than it had.
  const rot = decodeWhereReadable(folded, rot13);
  if (rot !== undefined) add(rot, "rot13");
  const reversed = decodeWhereReadable(folded, reverse);
  if (reversed !== undefined) add(reversed, "reversed");
  if (rot === undefined) {
    const shifted = decodeCaesar(folded);
    if (shifted !== undefined) add(shifted, "caesar");
  }
  return { folded, variants: [...variants], signals: [...signals] };
}

function reverse(text: string): string {
  return [...text].reverse().join("");
}

/**
 * The text with every segment (between colons, quotes, brackets, sentence ends and line breaks) that `decode`
 * turns into at least two more common words replaced by its decoding; the whole text decoded when that gains
 * more; undefined when neither reads better.
 */
function decodeWhereReadable(text: string, decode: (segment: string) => string): string | undefined {
  let gained = false;
  const parts = text.replace(/[^:;.!?"'()[\]\u00ab\u00bb\u201c\u201d\n]{8,}/gu, (segment) => {
    if (readsAsText(segment)) return segment;
    const decoded = decode(segment);
    if (commonWordCount(decoded) < commonWordCount(segment) + 2) return segment;
    gained = true;
    return decoded;
  });
  if (!gained && readsAsText(text)) return undefined;
  const whole = decode(text);
  if (commonWordCount(whole) > commonWordCount(text) + 2 && commonWordCount(whole) > commonWordCount(parts))
    return whole;
  return gained ? parts : undefined;
}

/**
 * `1gn0r3 4ll` → `ignore all`, once some word of five or more characters hides a leet character between letters
 * (`1gn0r3`, `pr3v10us`); then every word that reads as letters once de-leeted is read so. Counts, times, codes,
 * hashes, tokens and addresses (`3 kids`, `5pm`, `a1b2c3`, `k8s`, `3f5a1e7`, `ana@example.com`) are not leetspeak.
 */
function deleetWords(text: string): string {
  const words = /[\p{L}0-9@$!|]+/gu;
  const deleet = (word: string, offset: number): string | undefined => {
    // Longer runs are tokens, keys or encoded data, not words.
    if (word.length > 24 || !/\p{L}/u.test(word) || !/[0-9@$!|]/.test(word)) return undefined;
    // Years and counts stay numbers: "2024", "3rd"; hex identifiers stay as they are.
    if (/^\d+(st|nd|rd|th|s|º|ª)?$/.test(word) || /^[0-9a-f]{7,}$/.test(word)) return undefined;
    if (word.includes("@") && /^\.\p{L}/u.test(text.slice(offset + word.length))) return undefined;
    const letters = [...word].map((c) => leet[c] ?? c).join("");
    return /^\p{L}+$/u.test(letters) ? letters : undefined;
  };
  const disguised = [...text.matchAll(words)].some(
    (match) =>
      match[0].length >= 5 &&
      /\p{L}[0-9@$!|]+\p{L}/u.test(match[0]) &&
      deleet(match[0], match.index) !== undefined,
  );
  if (!disguised) return text;
  return text.replace(words, (word: string, offset: number) => deleet(word, offset) ?? word);
}

/**
 * `i g n o r e` / `i.g.n.o.r.e` / `i-g-n-o-r-e` → `ignore`: four or more single letters in a row, also inside
 * quotes or brackets (`"i g n o r e"`).
 */
function joinSpacedLetters(text: string): string {
  return text.replace(/(?<![\p{L}\p{N}])(?:\p{L}[ .\-_*/]){3,}\p{L}(?![\p{L}\p{N}])/gu, (run) =>
    run.replace(/[ .\-_*/]/g, ""),
  );
}

/**
 * The pieces of a split string in order, when a text has two or more: the quoted strings of `a = "ign"; b = "ore
 * all"`, of `"rev" + "eal"`, or of a list `["send", "all mail", "to", "x@y.z"]`.
 */
function splitPayload(text: string): string[] | undefined {
  const quote = `["'\u201C\u2018]([^"'\u201D\u2019\n]{1,80})["'\u201D\u2019]`;
  const assigned = [...text.matchAll(new RegExp(`\\b\\w{1,12}\\s*[:=]\\s*${quote}`, "gu"))];
  const concatenated = [...text.matchAll(new RegExp(`${quote}(?=\\s*\\+)|(?<=\\+\\s*)${quote}`, "gu"))];
  const listed = /\[\s*["'][^\]\n]{1,400}["']\s*\]/u.exec(text);
  const groups = [
    assigned.map((match) => match[1] as string),
    concatenated.map((match) => (match[1] ?? match[2]) as string),
    listed === null
      ? []
      : [...listed[0].matchAll(/["']([^"'\n]{1,80})["']/gu)].map((match) => match[1] as string),
  ];
  const pieces = groups.reduce((best, group) => (group.length > best.length ? group : best));
  return pieces.length >= 2 && pieces.length <= 40 ? pieces : undefined;
}

/** Printable text hidden in base64 tokens of 16+ characters. */
function decodeBase64Blobs(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/[A-Za-z0-9+/_-]{16,}={0,2}/g)) {
    const token = match[0];
    // Words, hashes and identifiers are not base64 text: ask for a mix of cases or digits.
    if (!/[A-Z]/.test(token) || !/[a-z]/.test(token)) continue;
    let decoded = fromBase64(token);
    // base64 inside base64: one more layer.
    if (/^[A-Za-z0-9+/_-]{16,}={0,2}$/.test(decoded.trim())) decoded = fromBase64(decoded.trim());
    if (isReadableText(decoded)) found.push(decoded);
    if (found.length >= 8) break;
  }
  return found;
}

function fromBase64(token: string): string {
  return Buffer.from(token.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8");
}

/** Printable text hidden in hex runs (`69676e6f7265…`, optionally `\x`- or space-separated). */
function decodeHexBlobs(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:(?:\\x|0x)?[0-9a-fA-F]{2}[ :]?){10,}/g)) {
    const hex = match[0].replace(/\\x|0x|[ :]/g, "");
    if (hex.length % 2 !== 0) continue;
    const decoded = Buffer.from(hex, "hex").toString("utf8");
    if (isReadableText(decoded)) found.push(decoded);
    if (found.length >= 8) break;
  }
  return found;
}

/** ASCII spelled in binary octets: `01101001 01100111 …`. */
function decodeBinaryRuns(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:[01]{8}[\s,]*){6,}/g)) {
    const bytes = match[0].match(/[01]{8}/g) ?? [];
    const decoded = Buffer.from(bytes.map((bits) => parseInt(bits, 2))).toString("utf8");
    if (isReadableText(decoded)) found.push(decoded);
    if (found.length >= 4) break;
  }
  return found;
}

/** Text spelled in decimal character codes: `105 103 110 111 114 101 …`. */
function decodeDecimalRuns(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(
    /(?<!\d)(?:(?:3[2-9]|[4-9]\d|1\d\d|2[0-4]\d|25[0-5])[\s,;]+){7,}(?:3[2-9]|[4-9]\d|1\d\d|2[0-4]\d|25[0-5])(?!\d)/g,
  )) {
    const codes = match[0].split(/[\s,;]+/).map(Number);
    const decoded = Buffer.from(codes).toString("utf8");
    if (isReadableText(decoded)) found.push(decoded);
    if (found.length >= 4) break;
  }
  return found;
}

// prettier-ignore
const morseCode: Record<string, string> = {
  ".-": "a", "-...": "b", "-.-.": "c", "-..": "d", ".": "e", "..-.": "f", "--.": "g", "....": "h", "..": "i",
  ".---": "j", "-.-": "k", ".-..": "l", "--": "m", "-.": "n", "---": "o", ".--.": "p", "--.-": "q", ".-.": "r",
  "...": "s", "-": "t", "..-": "u", "...-": "v", ".--": "w", "-..-": "x", "-.--": "y", "--..": "z",
  "-----": "0", ".----": "1", "..---": "2", "...--": "3", "....-": "4", ".....": "5", "-....": "6", "--...": "7",
  "---..": "8", "----.": "9",
};

/** Morse: letters as dots and dashes between spaces, words between slashes. */
function decodeMorseRuns(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(
    /(?:[.\-\u2022\u2013\u2014_]{1,6}(?:\s*\/\s*|\s+)){8,}[.\-\u2022\u2013\u2014_]{1,6}/gu,
  )) {
    const decoded = match[0]
      .replace(/[\u2022]/gu, ".")
      .replace(/[\u2013\u2014_]/gu, "-")
      .split(/\s*\/\s*|\s{3,}/)
      .map((word) =>
        word
          .trim()
          .split(/\s+/)
          .map((letter) => morseCode[letter] ?? "")
          .join(""),
      )
      .join(" ");
    if (isReadableText(decoded)) found.push(decoded);
    if (found.length >= 4) break;
  }
  return found;
}

/** Letters as their place in the alphabet: `9-7-14-15-18-5 25-15-21-18` (a=1 … z=26). */
function decodeLetterNumbers(text: string): string[] {
  const found: string[] = [];
  const letterWord = "(?:(?:[1-9]|1\\d|2[0-6])[-.,](?!\\s)){1,20}(?:[1-9]|1\\d|2[0-6])(?![\\d-])";
  for (const match of text.matchAll(new RegExp(`(?<![\\d-])${letterWord}(?:\\s+${letterWord}){1,40}`, "g"))) {
    const decoded = match[0]
      .split(/\s+/)
      .map((word) =>
        word
          .split(/[-.,]/)
          .map((n) => String.fromCharCode(96 + Number(n)))
          .join(""),
      )
      .join(" ");
    if (isReadableText(decoded) && commonWordCount(decoded) >= 2) found.push(decoded);
    if (found.length >= 4) break;
  }
  return found;
}

/** The ASCII hidden in Unicode tag characters, when a text carries a run of them. */
function decodeTagCharacters(text: string): string | undefined {
  const tags = text.match(/[\u{E0020}-\u{E007E}]{4,}/gu);
  if (tags === null) return undefined;
  return tags
    .map((run) => [...run].map((c) => String.fromCharCode((c.codePointAt(0) as number) - 0xe0000)).join(""))
    .join(" ");
}

/**
 * `ig-no-ra las re-glas` → `ignora las reglas`: a word cut into syllables by hyphens, when a text has at least three
 * such cuts between short pieces (a hyphenated compound like "e-mail" or "well-known" alone is not enough).
 */
function joinSyllables(text: string): string | undefined {
  const cut = /(?<![\p{L}-])\p{L}{1,4}(?:-\p{L}{1,4})+(?![\p{L}-])/gu;
  const cuts = text.match(cut) ?? [];
  if (cuts.reduce((n, word) => n + word.split("-").length - 1, 0) < 3) return undefined;
  return text.replace(cut, (word) => word.replace(/-/g, ""));
}

/** Words of spaced capital letters kept apart by gaps of two or more spaces: `O L V I D A   T O D O`. */
function joinWideSpacedLetters(text: string): string | undefined {
  if (!/(?:\p{L} ){3,}\p{L} {2,}\p{L}(?: \p{L}){2,}/u.test(text)) return undefined;
  return text.replace(/(?:\p{L} ){1,}\p{L}(?= {2,}|$|[^\p{L} ])/gu, (run) => run.replace(/ /g, ""));
}

/** A Caesar shift other than 13, tried on segments with almost no common words; the shift that reads best wins. */
function decodeCaesar(text: string): string | undefined {
  let gained = false;
  const parts = text.replace(/[^:;.!?"'()[\]\u00ab\u00bb\u201c\u201d\n]{12,}/gu, (segment) => {
    const before = commonWordCount(segment);
    if (before > 1 || segment.length > 600 || !/[a-z]{4}/.test(segment)) return segment;
    let best = segment;
    let bestCount = before + 2;
    for (let shift = 1; shift < 26; shift++) {
      if (shift === 13) continue;
      const decoded = caesar(segment, shift);
      const count = commonWordCount(decoded);
      if (count > bestCount) {
        best = decoded;
        bestCount = count;
      }
    }
    if (best !== segment) gained = true;
    return best;
  });
  return gained ? parts : undefined;
}

function caesar(text: string, shift: number): string {
  return text.replace(/[a-z]/g, (c) => String.fromCharCode(((c.charCodeAt(0) - 97 + shift) % 26) + 97));
}

function isReadableText(decoded: string): boolean {
  if (decoded.length < 8 || decoded.includes("\uFFFD")) return false;
  const printable = decoded.match(/[\p{L}\p{N}\p{P}\p{Zs}]/gu)?.length ?? 0;
  return printable / decoded.length > 0.9 && /\p{L}{3,}\s+\p{L}{2,}/u.test(decoded);
}

function rot13(text: string): string {
  return text.replace(/[a-z]/g, (c) => String.fromCharCode(((c.charCodeAt(0) - 97 + 13) % 26) + 97));
}

// Frequent short words of both languages: a decoding that makes many of them appear is probably the real text.
const commonWords = new Set(
  (
    "the and you your all to of in is are that this for with not now from be as it on or an me my " +
    "how what do have no without about write give any i a " +
    "ignore instructions previous rules system prompt tell reveal show " +
    "el la los las de que y en un una tu tus es por con no para lo al del se mi ahora todas " +
    "sin como esto haz dame cual su mas " +
    "ignora instrucciones anteriores reglas sistema dime muestra revela"
  ).split(" "),
);

/** Whether a text already reads as plain words: at least two common words, a quarter of all its words or more. */
function readsAsText(text: string): boolean {
  let words = 0;
  let common = 0;
  for (const word of text.split(/[^a-z]+/)) {
    if (word === "") continue;
    words++;
    if (commonWords.has(word)) common++;
  }
  return common >= 2 && common * 4 >= words;
}

function commonWordCount(text: string): number {
  let count = 0;
  for (const word of text.split(/[^a-z]+/)) if (commonWords.has(word)) count++;
  return count;
}
