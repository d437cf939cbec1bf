/**
 * Objects and names: where a noun phrase starts and ends, what is dropped from it (articles, "un poco de"),
 * and how a coordinated list ("inglés, francés y alemán") splits into one object per item.
 */
import type { ObjectPhrase, SentenceState, Subject } from "./clause.js";
import { places } from "./lexicon.js";
import { matchTime, readNumber } from "./time.js";
import { capitalizeWords, fold, type Token } from "./tokens.js";
import type { Language } from "../types.js";

/** The word lists and language hooks the phrase reader needs for one language. */
export interface PhraseLexicon {
  lang: Language;
  articles: ReadonlySet<string>;
  /** Words never read as a name (function words, common nouns and adjectives). */
  common: ReadonlySet<string>;
  vague: ReadonlySet<string>;
  /** Words that end an object ("también", "because"). */
  stops: ReadonlySet<string>;
  /** Prepositions that end a place or thing ("en", "con" / "in", "at"). */
  placeStops: ReadonlySet<string>;
  /** Words that may sit inside a name between capitalised words ("de", "del" / "of"). */
  connectors: ReadonlySet<string>;
  coordinators: ReadonlySet<string>;
  prefixes: ReadonlyArray<readonly string[]>;
  possessiveUser: ReadonlySet<string>;
  possessiveOther: ReadonlySet<string>;
  /** True when a new clause starts at `i` (after a comma or a coordinator). */
  clauseStartsAt(s: SentenceState, i: number): boolean;
  /** True when the token at `i` is a finite verb that cannot be part of an object. */
  isVerbAt(s: SentenceState, i: number): boolean;
}

/** What kind of object a slot takes. */
export type ObjectKind = "place" | "thing" | "activity";

/** How an object slot reads its object. */
export interface ObjectOptions {
  kind: ObjectKind;
  /** Accept "mi jefe" / "my boss" as an object, written without the possessive: "jefe", "boss". */
  possessive?: boolean;
  /** More words that end this object (the verb's other prepositions). */
  stopAt?: ReadonlySet<string>;
  /** When given, the object's first word must be one of these (languages, instruments). */
  accept?: ReadonlySet<string>;
  maxTokens?: number;
}

/** An object never starts with a preposition ("juega en el Inter" is not a direct object). */
const prepositions = new Set(
  `en a de con por para sin sobre desde hasta entre hacia contra in at on to for with from by of about into
  onto over under near`.split(/\s+/),
);

/** Common English nouns that may follow a proper adjective or brand ("Italian food"). */
const nounish = new Set(
  "food music movies movie films film series shows show books book cars car wine beer cuisine culture history art songs games".split(
    " ",
  ),
);

/** Two-word stop phrases ("un montón", "a lot", "very much"), by first word. */
function stopAt(lex: PhraseLexicon, toks: readonly Token[], j: number): boolean {
  const t = toks[j];
  if (t === undefined) return true;
  if (lex.stops.has(t.key)) return true;
  const next = toks[j + 1];
  return next !== undefined && lex.stops.has(`${t.key} ${next.key}`);
}

function matchesSequence(toks: readonly Token[], j: number, seq: readonly string[]): boolean {
  for (let k = 0; k < seq.length; k++) if (toks[j + k]?.key !== seq[k]) return false;
  return true;
}

/** Reads one object at `i`. Leading articles and quantifiers are dropped; returns undefined when none. */
export function readObject(
  s: SentenceState,
  lex: PhraseLexicon,
  i: number,
  options: ObjectOptions,
): ObjectPhrase | undefined {
  const toks = s.toks;
  let j = i;
  if (toks[j]?.key === "ni" || toks[j]?.key === "either" || toks[j]?.key === "neither") j++;
  for (const prefix of lex.prefixes) {
    if (matchesSequence(toks, j, prefix)) {
      j += prefix.length;
      break;
    }
  }
  let hadArticle = false;
  const first = toks[j];
  if (first === undefined) return undefined;
  if (lex.articles.has(first.key) && !(first.cap && j > 0 && toks[j + 1]?.cap === true)) {
    j++;
    hadArticle = true;
  } else if (lex.lang === "es" && (first.key === "al" || first.key === "del")) {
    j++;
    hadArticle = true;
  }
  let head = toks[j];
  if (head === undefined || head.kind === "punct") return undefined;
  if (lex.possessiveUser.has(head.key)) {
    // "con mi jefe" → "jefe": the possessive is a determiner and goes like an article
    if (options.possessive !== true && options.kind !== "activity") return undefined;
    j++;
    hadArticle = true;
    head = toks[j];
    if (head === undefined || head.kind === "punct") return undefined;
  }
  // "A Coruña", "La Haya": a capitalised preposition inside a sentence starts a name
  const prepositionName = head.cap && j > 0 && toks[j + 1]?.cap === true && toks[j + 1]?.kind === "word";
  if (
    lex.possessiveOther.has(head.key) ||
    lex.vague.has(head.low) ||
    (prepositions.has(head.key) && !prepositionName)
  )
    return undefined;
  if (options.accept !== undefined && !options.accept.has(head.key)) return undefined;
  const start = j;
  const nameMode = head.cap;
  const max = options.maxTokens ?? (options.kind === "activity" ? 8 : 6);
  while (j < toks.length && j - start < max) {
    const t = toks[j];
    if (t === undefined) break;
    if (t.kind === "punct") {
      // "AT&T", "Coca-Cola", "St. Mary's"
      const abbreviation =
        t.text === "." && nameMode && /^(?:St|Sta|Sto|Mt|Dr|Av|Sr|Sra)$/.test(toks[j - 1]?.text ?? "");
      const joins =
        (t.text === "&" || t.text === "-" || t.text === "+" || abbreviation) && toks[j + 1]?.kind === "word";
      if (!joins || j === start) break;
      j++;
      continue;
    }
    if (j > start) {
      if (stopAt(lex, toks, j) || lex.coordinators.has(t.key) || options.stopAt?.has(t.key) === true) break;
      if (options.kind !== "activity" && lex.placeStops.has(t.key)) break;
      if (
        options.kind === "activity" &&
        t.key === "a" &&
        (toks[j + 1]?.cap === true || toks[j + 1]?.key === "mi")
      )
        break;
      // In a name a date is part of it ("Hospital 12 de Octubre"); elsewhere it ends the object
      const inName = nameMode && (t.cap || (t.kind === "number" && toks[j + 2]?.cap === true));
      if (matchTime(toks, j, lex.lang) > 0 && !inName) break;
      if (lex.isVerbAt(s, j)) break;
      if (nameMode && !t.cap && t.key !== "'s") {
        // "Hospital 12 de Octubre", "Studio 54"
        if (
          t.kind === "number" &&
          (toks[j + 1] === undefined ||
            toks[j + 1]?.cap === true ||
            /^[.,;!?)]$/.test(toks[j + 1]?.text ?? "") ||
            lex.connectors.has(toks[j + 1]?.key ?? ""))
        ) {
          j++;
          continue;
        }
        // English things after a proper adjective or brand: "Italian food", "Netflix series"
        // "at a Thai restaurant": after "a"/"an" a lone capitalised word is an adjective, not the place
        const indefinite = j === start + 1 && (toks[start - 1]?.key === "a" || toks[start - 1]?.key === "an");
        if (
          lex.lang === "en" &&
          (options.kind !== "place" || indefinite) &&
          t.kind === "word" &&
          !lex.connectors.has(t.key)
        ) {
          if (t.key.endsWith("ly") || (lex.common.has(t.key) && !nounish.has(t.key) && !indefinite)) break;
          j++;
          continue;
        }
        // "Universidad de Salamanca", "Bank of America", "Hospital de la Paz"
        if (!lex.connectors.has(t.key)) break;
        let k = j + 1;
        if (lex.articles.has(toks[k]?.key ?? "") || lex.connectors.has(toks[k]?.key ?? "")) k++;
        if (toks[k]?.cap !== true) break;
        j = k;
        continue;
      }
    } else if (t.kind === "word" && lex.vague.has(t.low)) {
      return undefined;
    }
    j++;
  }
  // Drop what cannot end an object: "jefa de", "University of the".
  while (j > start) {
    const last = toks[j - 1];
    if (last === undefined) break;
    if (lex.connectors.has(last.key) || lex.articles.has(last.key) || lex.coordinators.has(last.key)) j--;
    else if (last.kind === "punct") j--;
    else break;
  }
  if (j <= start) return undefined;
  const startTok = toks[start];
  const endTok = toks[j - 1];
  if (startTok === undefined || endTok === undefined) return undefined;
  let text = s.text.slice(startTok.start, endTok.end).replace(/\s+/g, " ");
  if (options.kind === "place" && !hadArticle && !nameMode) text = spellPlace(text, lex, toks, start, j);
  return { text, start, end: j, long: text.split(" ").length > 4 };
}

/** A lowercase place with no article: "valencia" → "Valencia", "new york" → "New York". */
function spellPlace(
  text: string,
  lex: PhraseLexicon,
  toks: readonly Token[],
  start: number,
  end: number,
): string {
  const known = places.get(fold(text));
  if (known !== undefined) return known;
  for (let k = start; k < end; k++) {
    const key = toks[k]?.key ?? "";
    if (lex.common.has(key) && !lex.connectors.has(key)) return text;
  }
  return capitalizeWords(text);
}

/** A second place in a list is a name, a known place or a noun with an article ("Madrid y Barcelona"). */
function placeLike(s: SentenceState, options: ObjectOptions, item: ObjectPhrase, from: number): boolean {
  if (options.kind !== "place") return true;
  return item.start > from || s.toks[item.start]?.cap === true || places.has(fold(item.text));
}

/** A list of objects: "té y café", "inglés, francés y alemán", "tea, coffee, and juice". */
export function readObjectList(
  s: SentenceState,
  lex: PhraseLexicon,
  i: number,
  options: ObjectOptions,
): { objects: ObjectPhrase[]; next: number } {
  const firstObject = readObject(s, lex, i, options);
  if (firstObject === undefined) return { objects: [], next: i };
  const objects = [firstObject];
  const pending: ObjectPhrase[] = [];
  let next = firstObject.end;
  let j = firstObject.end;
  const toks = s.toks;
  for (let guard = 0; guard < 12; guard++) {
    const t = toks[j];
    if (t === undefined) break;
    let k = j + 1;
    if (t.text === ",") {
      if (lex.coordinators.has(toks[k]?.key ?? "")) {
        k++;
      } else {
        if (lex.clauseStartsAt(s, k)) break;
        const item = readObject(s, lex, k, options);
        if (item === undefined) break;
        pending.push(item);
        j = item.end;
        continue;
      }
    } else if (!lex.coordinators.has(t.key)) {
      break;
    }
    if (lex.clauseStartsAt(s, k)) break;
    const item = readObject(s, lex, k, options);
    if (item === undefined || !placeLike(s, options, item, k)) break;
    objects.push(...pending, item);
    pending.length = 0;
    j = item.end;
    next = j;
  }
  return { objects, next };
}

/**
 * A name at `i`: a run of capitalised words with connectors ("José Luis", "María de los Ángeles"), or, when
 * `lowercase` is set, up to three words that are not common words ("juan carlos" → "Juan Carlos").
 */
export function readName(
  s: SentenceState,
  lex: PhraseLexicon,
  i: number,
  lowercase: boolean,
): { text: string; end: number; guessed: boolean } | undefined {
  const toks = s.toks;
  const first = toks[i];
  if (first === undefined || first.kind !== "word" || first.key.startsWith("'")) return undefined;
  if (lex.vague.has(first.low) || lex.articles.has(first.key) || lex.possessiveUser.has(first.key))
    return undefined;
  let j = i;
  if (first.cap) {
    while (j < toks.length && j - i < 6) {
      const t = toks[j];
      if (t === undefined || t.kind !== "word") break;
      if (t.cap) {
        j++;
        continue;
      }
      if (!lex.connectors.has(t.key) || j === i) break;
      let k = j + 1;
      if (lex.articles.has(toks[k]?.key ?? "")) k++;
      if (toks[k]?.cap !== true || toks[k]?.kind !== "word") break;
      j = k;
    }
    const last = toks[j - 1];
    if (last === undefined) return undefined;
    return { text: s.text.slice(first.start, last.end), end: j, guessed: false };
  }
  if (!lowercase) return undefined;
  while (j < toks.length && j - i < 3) {
    const t = toks[j];
    if (t === undefined || t.kind !== "word" || t.cap || t.key.startsWith("'")) break;
    if (lex.common.has(t.key) || lex.vague.has(t.low) || stopAt(lex, toks, j) || lex.isVerbAt(s, j)) break;
    if (lex.coordinators.has(t.key) || matchTime(toks, j, lex.lang) > 0) break;
    j++;
  }
  if (j === i) return undefined;
  const last = toks[j - 1];
  if (last === undefined) return undefined;
  return { text: capitalizeWords(s.text.slice(first.start, last.end)), end: j, guessed: true };
}

/** Names joined by "y", "and" or commas: "Pedro y Juan", "Ana, Luis and Marta". */
export function readNameList(
  s: SentenceState,
  lex: PhraseLexicon,
  i: number,
  lowercase: boolean,
): { names: ObjectPhrase[]; next: number; guessed: boolean } {
  const names: ObjectPhrase[] = [];
  let guessed = false;
  let j = i;
  for (let guard = 0; guard < 8; guard++) {
    const name = readName(s, lex, j, lowercase);
    if (name === undefined) break;
    names.push({ text: name.text, start: j, end: name.end, long: false });
    guessed ||= name.guessed;
    j = name.end;
    const sep = s.toks[j];
    if (sep === undefined) break;
    const afterSep = s.toks[j + 1];
    if (sep.text === "," && afterSep !== undefined && lex.coordinators.has(afterSep.key)) {
      if (readName(s, lex, j + 2, lowercase) === undefined) break;
      j += 2;
    } else if (sep.text === "," || lex.coordinators.has(sep.key)) {
      if (lex.clauseStartsAt(s, j + 1) || readName(s, lex, j + 1, lowercase) === undefined) break;
      j += 1;
    } else break;
  }
  return { names, next: names.length > 0 ? (names[names.length - 1]?.end ?? i) : i, guessed };
}

/** The text of tokens `[from, to)` as written. */
export function span(s: SentenceState, from: number, to: number): string {
  const a = s.toks[from];
  const b = s.toks[to - 1];
  if (a === undefined || b === undefined || to <= from) return "";
  return s.text.slice(a.start, b.end);
}

/** Attributes whose value is taken as written, up to the end of the clause: an email, a phone, an address. */
export const rawAttributes: ReadonlySet<string> = new Set(["email", "phone", "address"]);

/** The longest attribute name at `i` ("número de teléfono", "email address") from `table`, and its relation. */
export function matchAttribute(
  s: SentenceState,
  i: number,
  table: ReadonlyArray<readonly [string, string]>,
): { relation: string; end: number } | undefined {
  const first = s.toks[i]?.key;
  for (const [words, relation] of table) {
    // Cheap test first: most words start no attribute name
    if (first === undefined || !words.startsWith(first)) continue;
    const parts = words.split(" ");
    if (parts.every((w, n) => s.toks[i + n]?.key === w)) return { relation, end: i + parts.length };
  }
  return undefined;
}

/**
 * A value as written ("ana@mail.com", "+34 612 345 678", "Calle Mayor 5") up to a comma or the end, when it
 * looks like one for `relation` ("my phone is broken" gives nothing).
 */
export function readRawValue(s: SentenceState, i: number, relation: string): ObjectPhrase | undefined {
  let j = i;
  while (j < s.toks.length && j - i < 12) {
    const t = s.toks[j];
    if (t === undefined || t.text === "," || t.text === ";" || t.text === "!" || t.text === "?") break;
    if (t.text === "." && j === s.toks.length - 1) break;
    if ((t.key === "y" || t.key === "and") && j > i) break;
    j++;
  }
  if (j === i) return undefined;
  const text = span(s, i, j);
  const first = s.toks[i];
  if (relation === "email" && !text.includes("@")) return undefined;
  if (relation === "phone" && (text.match(/\d/g)?.length ?? 0) < 6) return undefined;
  if (relation === "address" && first?.cap !== true && first?.kind !== "number") return undefined;
  return { text, start: i, end: j, long: false };
}

/** Nouns of a home inside a place: "a flat in Hackney", "un piso en Lavapiés" is where one lives, Hackney. */
const dwellingNouns = new Set(
  `flat apartment house place room studio home houseboat bungalow cottage piso casa apartamento atico estudio
  habitacion chalet`.split(/\s+/),
);
/** "near Kraków", "just outside Oxford", "cerca de Pamplona": where a common place is. */
const locativesEn: ReadonlyArray<readonly string[]> = [
  ["just", "outside"],
  ["just", "outside", "of"],
  ["outside"],
  ["outside", "of"],
  ["near"],
  ["close", "to"],
  ["in"],
];
const locativesEs: ReadonlyArray<readonly string[]> = [
  ["cerca", "de"],
  ["junto", "a"],
  ["al", "lado", "de"],
  ["a", "las", "afueras", "de"],
  ["en", "las", "afueras", "de"],
];

/**
 * A place read as a common noun after an indefinite article, widened by what follows it: a name in apposition
 * replaces it ("for a Dutch company, Booking", "en un pueblo cerca de Pamplona, Villava"); in English a
 * locative keeps it whole ("a small town in Ohio", "a village near Kraków", "a high school in Leeds"), unless it
 * is a home ("a flat in Hackney" is left to the caller, which keeps the named place).
 */
export function widenPlace(
  s: SentenceState,
  lex: PhraseLexicon,
  read: ObjectPhrase,
  next: number,
): { object: ObjectPhrase; next: number } | undefined {
  let object = read;
  const toks = s.toks;
  const before = toks[object.start - 1]?.key;
  const indefinite = before === "a" || before === "an" || before === "un" || before === "una";
  if (!indefinite) return undefined;
  // "a village just outside Oxford" may have been read whole: the common noun ends where a locative starts
  const locatives = lex.lang === "en" ? locativesEn : locativesEs;
  let headEnd = object.end;
  for (let m = object.start + 1; m < object.end && headEnd === object.end; m++) {
    for (const loc of locatives)
      if (matchesSequence(toks, m, loc) && toks[m + loc.length]?.cap === true) headEnd = m;
  }
  // "a Dutch company" is a common noun after a proper adjective; "a Tesla" is a name already
  if (toks[headEnd - 1]?.cap === true) return undefined;
  const truncated = headEnd < read.end;
  if (truncated) object = { ...object, end: headEnd, text: span(s, object.start, headEnd) };
  const headKey = toks[headEnd - 1]?.key ?? "";
  let j = truncated ? headEnd : next;
  let located: ObjectPhrase | undefined;
  for (const loc of locatives) {
    if (!matchesSequence(toks, j, loc) || toks[j + loc.length]?.cap !== true) continue;
    const name = readName(s, lex, j + loc.length, false);
    if (name === undefined) continue;
    located = { ...object, end: name.end, text: span(s, object.start, name.end) };
    j = name.end;
    break;
  }
  // ", Villava" closing the clause: the place's name
  if (toks[j]?.text === "," && toks[j + 1]?.cap === true) {
    const name = readName(s, lex, j + 1, false);
    const after = name === undefined ? undefined : toks[name.end];
    if (
      name !== undefined &&
      (after === undefined || after.kind === "punct" || lex.coordinators.has(after.key))
    )
      return {
        object: { text: name.text, start: j + 1, end: name.end, long: false },
        next: name.end,
      };
  }
  if (located !== undefined && lex.lang === "en" && !dwellingNouns.has(fold(headKey)))
    return { object: { ...located, long: located.text.split(" ").length > 4 }, next: j };
  return undefined;
}

/**
 * "8 y 5 años", "9 and 7": as many ages as named subjects, one each in order ("Hugo y Martina tienen 8 y 5
 * años" → Hugo 8, Martina 5). Undefined unless there are two numbers or more and they match the subjects.
 */
export function respectiveAges(
  s: SentenceState,
  i: number,
  lang: Language,
  subjects: readonly Subject[],
):
  | {
      preds: { relation: string; objects: ObjectPhrase[]; subjects: Subject[]; untimed: boolean }[];
      next: number;
    }
  | undefined {
  const numbers: ObjectPhrase[] = [];
  let j = i;
  for (let guard = 0; guard < 8; guard++) {
    const n = readNumber(s.toks, j, lang);
    if (n === undefined) break;
    numbers.push({ text: String(n.value), start: j, end: n.end, long: false });
    j = n.end;
    const sep = s.toks[j];
    if (sep === undefined) break;
    if (sep.text === "," || sep.key === "y" || sep.key === "and") {
      if (readNumber(s.toks, j + 1, lang) === undefined) break;
      j++;
    } else break;
  }
  if (numbers.length < 2 || numbers.length !== subjects.length) return undefined;
  if (!subjects.every((x) => x.kind === "name")) return undefined;
  const unit = s.toks[j]?.key;
  if (lang === "es") {
    if (unit !== "anos") return undefined;
    j++;
  } else if (unit === "years" || unit === "yrs") {
    j++;
    if (s.toks[j]?.key === "old") j++;
  } else if (s.toks[j] !== undefined && s.toks[j]?.kind !== "punct") return undefined;
  const preds = subjects.map((subject, n) => ({
    relation: "age",
    objects: [numbers[n] as ObjectPhrase],
    subjects: [subject],
    untimed: true,
  }));
  return { preds, next: j };
}
