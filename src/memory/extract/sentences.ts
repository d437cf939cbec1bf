/**
 * Splitting text into sentences: at ". ! ? … ;" and line breaks, and before an opening "¿" or "¡", but not
 * after an abbreviation ("Dr.", "a.m."), an initial, or inside a number ("3.5").
 */

/** One sentence and whether it asks something. */
export interface Sentence {
  text: string;
  /** Ends with "?" or opens with "¿". */
  question: boolean;
}

const abbreviations = new Set(
  `dr dra sr sra srta mr mrs ms st av avda etc vs jr sra prof ud uds no nº núm approx dept ing lic
  p.ej e.g i.e a.m p.m`.split(/\s+/),
);

/** Splits `text` into sentences, at most `maxSentences` of them. */
export function splitSentences(text: string, maxSentences = 200): Sentence[] {
  const out: Sentence[] = [];
  let start = 0;
  const push = (end: number): void => {
    const raw = text.slice(start, end);
    start = end;
    const trimmed = raw.replace(/^[\s"'«»“”‘’()[\]*_~\-–—•·>]+|[\s"'«»“”‘’()[\]*_~\-–—]+$/gu, "");
    if (!/[\p{L}\p{N}]/u.test(trimmed)) return;
    const question = trimmed.startsWith("¿") || /\?[\s!?.…"'»”)]*$/u.test(trimmed);
    out.push({ text: trimmed, question });
  };
  for (let i = 0; i < text.length && out.length < maxSentences; i++) {
    const ch = text.charAt(i);
    if (ch === "\n" || ch === "\r" || ch === ";") {
      push(i + 1);
    } else if ((ch === "¿" || ch === "¡") && i > start) {
      push(i);
    } else if (ch === "?" || ch === "!" || ch === "…") {
      let j = i + 1;
      while (j < text.length && /[?!.…"'»”)]/u.test(text.charAt(j))) j++;
      push(j);
      i = j - 1;
    } else if (ch === ".") {
      if (isSentenceDot(text, i)) {
        let j = i + 1;
        while (j < text.length && /[.!?…"'»”)]/u.test(text.charAt(j))) j++;
        push(j);
        i = j - 1;
      }
    }
  }
  if (start < text.length && out.length < maxSentences) push(text.length);
  return out;
}

function isSentenceDot(text: string, i: number): boolean {
  const next = text.charAt(i + 1);
  const prev = text.charAt(i - 1);
  // "3.5", "10.30"
  if (/\d/.test(prev) && /\d/.test(next)) return false;
  // "a.m.", "e.g.": a letter right after the dot
  if (/\p{L}/u.test(next)) return false;
  let w = i - 1;
  while (w >= 0 && /[\p{L}.]/u.test(text.charAt(w))) w--;
  const word = text.slice(w + 1, i).toLowerCase();
  if (abbreviations.has(word)) return false;
  // An initial ("J. K. Rowling"), unless it ends the text.
  if (/^\p{Lu}$/u.test(text.slice(w + 1, i)) && /\s\p{Lu}/u.test(text.slice(i + 1, i + 3))) return false;
  return true;
}
