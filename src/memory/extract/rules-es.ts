/**
 * Spanish clause rules: [time] [subject] [negation] [clitic] verb complements, with the subject left out when
 * the verb says who it is ("vivo en Madrid" → usuario).
 */
import {
  addFact,
  inverseKin,
  lastThingOf,
  emitFacts,
  nameSubject,
  possessedSubject,
  respectiveNames,
  userSubject,
  type ObjectPhrase,
  type SentenceState,
  type Subject,
} from "./clause.js";
import {
  adverbsEs,
  articlesEs,
  clauseBlockersEs,
  commonWordsEs,
  favoriteThingsEs,
  favoriteWordsEs,
  familyRelations,
  fillersEs,
  firstNames,
  instrumentsEs,
  kinDeComplementsEs,
  kinEs,
  kinPostAdjectivesEs,
  kinPreAdjectivesEs,
  languagesEs,
  nationalitiesEs,
  negatorsEs,
  objectPrefixesEs,
  objectStopWordsEs,
  places,
  possessionsEs,
  possessivesOtherEs,
  possessivesOurEs,
  sentenceBlockersEs,
  statementPrefixesEs,
  transientStatesEs,
  vagueObjectsEs,
  type KinEntry,
} from "./lexicon.js";
import {
  matchAttribute,
  rawAttributes,
  readName,
  readNameList,
  readObject,
  readObjectList,
  readRawValue,
  respectiveAges,
  span,
  widenPlace,
  type PhraseLexicon,
} from "./phrases.js";
import { matchDate, matchDuration, matchTime, readNumber } from "./time.js";
import { capitalizeWords, fold } from "./tokens.js";
import { createTypoIndex } from "./typo.js";
import {
  formForTypo,
  likingVerbsEs,
  nounLikeFormsEs,
  verbsEs,
  type VerbForm,
  type VerbPerson,
} from "./verbs.js";

/** Penalty for a trigger word read through a typo. */
const typoPenalty = 0.2;
/** Penalty for a subject taken from an earlier sentence ("ella", or a verb with no subject). */
const topicPenalty = 0.2;
/** Penalty for a lowercase word taken for a name. */
const guessPenalty = 0.05;

const knownWords: ReadonlySet<string> = new Set([
  ...commonWordsEs,
  ...kinEs.keys(),
  ...languagesEs,
  ...nationalitiesEs,
  ...vagueObjectsEs,
  ...fillersEs,
  ...verbsEs.exact.keys(),
  ...verbsEs.folded.keys(),
  ...["gusto", "encanto", "encantado", "encantada", "trabajos", "estudios", "juegos", "mucho", "vivienda"],
]);
const verbTypos = createTypoIndex(verbsEs.folded.keys(), 5, true);
const typoPreferenceEs: readonly VerbPerson[] = ["1s", "3s", "3p", "1p", "13s"];
const kinTypos = createTypoIndex(kinEs.keys());
/** Spanish adjective endings: "materna", "política", "simpático" are not lowercase names. */
const adjectival =
  /(?:al|ales|ic[oa]s?|os[oa]s?|ad[oa]s?|id[oa]s?|iv[oa]s?|ble|bles|rn[oa]s?|er[oa]s?|ista|istas|ense|es|esa|ano|ana)$/;
const nonIndicative = /(?:ara|aras|iera|ieras|ase|iese|ría|ria|rías|rias|ríamos|riamos|rían|rian)$/;

// "vivo aquí en Sevilla solo": how one lives ends the place too
const placeStops = new Set([
  "en",
  "a",
  "cerca",
  "junto",
  "por",
  "para",
  "hacia",
  "desde",
  "como",
  "solo",
  "sola",
  "solos",
  "solas",
  "juntos",
  "juntas",
]);
const coordinators = new Set(["y", "e", "o", "u", "ni"]);
const connectors = new Set(["de", "del", "la", "las", "los", "el"]);
const cliticsEs = new Set(["me", "te", "se", "le", "les", "nos"]);
const boundaryWords = new Set(["y", "e", "pero", "aunque", "porque", "sino", "o", "u", "pues", "además"]);
const resetWords = new Set(["que", "donde", "quien", "quienes", "cual", "cuales", "mientras"]);
const stopWords = new Set(["si", "cuando", "ojala"]);

interface VerbHit {
  form: VerbForm;
  typo: boolean;
}

/** The Spanish verb form at `i`, allowing one typo in a word of five letters or more. */
function verbAt(s: SentenceState, i: number): VerbHit | undefined {
  const t = s.toks[i];
  if (t === undefined || t.kind !== "word" || (t.cap && i > 0)) return undefined;
  const form = verbsEs.exact.get(t.low) ?? verbsEs.folded.get(t.key);
  if (form !== undefined) return { form, typo: false };
  if (knownWords.has(t.key) || firstNames.has(t.key) || nonIndicative.test(t.low) || t.key.length < 4)
    return undefined;
  // "bivo", "trabavo": b and v sound the same and are often swapped
  if (/[bv]/.test(t.key)) {
    const swapped = t.key.replace(/[bv]/g, (c) => (c === "b" ? "v" : "b"));
    for (const variant of [swapped, t.key.replace(/b/g, "v"), t.key.replace(/v/g, "b")]) {
      const sound = verbsEs.folded.get(variant);
      if (sound !== undefined && variant !== t.key) return { form: sound, typo: true };
    }
  }
  const typoForm = formForTypo(verbTypos.candidates(t.key), verbsEs.folded, typoPreferenceEs);
  return typoForm === undefined ? undefined : { form: typoForm, typo: true };
}

/** A form with a person we read (the second person is the assistant, never a fact). */
function isFinite(form: VerbForm): boolean {
  return form.person !== "part" && form.person !== "ger" && form.person !== "inf" && form.person !== "2s";
}

/** The lexicon word a typo stands for. */
function kinCanonical(typo: string): string {
  return kinTypos.correct(typo) ?? typo;
}

/** A kinship or pet noun at `i`, allowing one typo. */
function kinAt(s: SentenceState, i: number): { entry: KinEntry; typo: boolean } | undefined {
  const t = s.toks[i];
  if (t === undefined || t.kind !== "word") return undefined;
  const entry = kinEs.get(t.key);
  if (entry !== undefined) return { entry, typo: false };
  if (knownWords.has(t.key) || t.cap) return undefined;
  const fixed = kinTypos.correct(t.key);
  const typoEntry = fixed === undefined ? undefined : kinEs.get(fixed);
  return typoEntry === undefined ? undefined : { entry: typoEntry, typo: true };
}

function key(s: SentenceState, i: number): string {
  return s.toks[i]?.key ?? "";
}

/** 2 when `set` has the two words at `i` ("tal vez"), 1 when it has the word, else 0. */
function inSet(set: ReadonlySet<string>, s: SentenceState, i: number): number {
  const a = key(s, i);
  if (a === "") return 0;
  if (set.has(`${a} ${key(s, i + 1)}`)) return 2;
  return set.has(a) ? 1 : 0;
}

function isVerbStop(s: SentenceState, i: number): boolean {
  const t = s.toks[i];
  if (t === undefined || t.kind !== "word" || t.cap) return false;
  const form = verbsEs.exact.get(t.low);
  return form !== undefined && isFinite(form) && !nounLikeFormsEs.has(t.low);
}

/** True when a clause starts at `i`: a subject, a negation, a clitic or a finite verb. */
function clauseStartsAt(s: SentenceState, i: number): boolean {
  let j = i;
  while (adverbsEs.has(key(s, j)) && j < i + 3) j++;
  const t = s.toks[j];
  if (t === undefined) return false;
  const k = t.key;
  if (t.low === "yo" || t.low === "él" || t.low === "ella" || k === "mi" || k === "mis") return true;
  if (negatorsEs.has(k)) return true;
  if (cliticsEs.has(k) && verbAt(s, j + 1) !== undefined) return true;
  if (k === "a" && (s.toks[j + 1]?.low === "mí" || s.toks[j + 1]?.cap === true)) {
    for (let m = j + 2; m < j + 6; m++) if (key(s, m) === "le" || key(s, m) === "les") return true;
  }
  const verb = verbAt(s, j);
  if (verb !== undefined && isFinite(verb.form)) {
    if (!nounLikeFormsEs.has(t.low)) return true;
    const next = key(s, j + 1);
    return ["en", "como", "de", "para", "con", "a", "al", "un", "una", "mucho"].includes(next);
  }
  if (t.cap && verbAt(s, j + 1) !== undefined) {
    // "mis hermanos Pedro y Juan viven…": a plural verb makes the name part of a list of subjects
    const prev = key(s, j - 1);
    const plural = verbAt(s, j + 1)?.form.person === "3p";
    return !(plural && (prev === "y" || prev === "e" || s.toks[j - 1]?.text === ","));
  }
  // "… y los domingos salgo a escalar": a time, then a clause
  const time = matchTime(s.toks, j, "es");
  if (time > j && time < s.toks.length) {
    const after = verbAt(s, time);
    if ((after !== undefined && isFinite(after.form)) || cliticsEs.has(key(s, time)) || key(s, time) === "yo")
      return true;
  }
  return false;
}

const lexEs: PhraseLexicon = {
  lang: "es",
  articles: articlesEs,
  common: knownWords,
  vague: vagueObjectsEs,
  stops: objectStopWordsEs,
  placeStops,
  connectors,
  coordinators,
  prefixes: objectPrefixesEs,
  possessiveUser: new Set(["mi", "mis"]),
  possessiveOther: possessivesOtherEs,
  clauseStartsAt,
  isVerbAt: isVerbStop,
};

// ---------------------------------------------------------------------------------------------------------
// Sentence and clause loop

/** Reads one Spanish sentence into `s.facts`. */
export function readSentenceEs(s: SentenceState): void {
  let i = skipLead(s, 0);
  if (i >= s.toks.length || inSet(sentenceBlockersEs, s, i) > 0) return;
  let inherited: Subject[] | undefined;
  let gap: VerbState | undefined;
  let first = true;
  for (let guard = 0; guard < 24 && i < s.toks.length; guard++) {
    const r = readClause(s, i, inherited, first, gap);
    first = false;
    if (r.stop === true) return;
    inherited = r.ok ? r.subjects : inherited;
    gap = r.ok ? r.gap : undefined;
    const b = nextBoundary(s, Math.max(r.next, i + 1));
    if (b.index < 0) return;
    if (b.reset) inherited = undefined;
    i = skipFillers(s, b.index);
  }
}

interface ClauseResult {
  ok: boolean;
  next: number;
  subjects?: Subject[];
  stop?: boolean;
  /** The verb read, for a later clause that leaves it out ("y mi padre de Córdoba"). */
  gap?: VerbState;
}

function skipFillers(s: SentenceState, i: number): number {
  let j = i;
  for (let guard = 0; guard < 8; guard++) {
    const t = s.toks[j];
    if (t === undefined) break;
    if (t.text === "," || t.text === ":" || t.text === "-" || t.text === "—") j++;
    else if (fillersEs.has(t.key) || adverbsEs.has(t.key)) j++;
    // "Finalmente me mudé…", "Obviamente vivo…"
    else if (t.key.length > 7 && t.key.endsWith("mente")) j++;
    else if ((t.low === "sí" || t.low === "si" || t.low === "no") && s.toks[j + 1]?.text === ",") j += 2;
    else break;
  }
  return j;
}

function skipLead(s: SentenceState, i: number): number {
  let j = skipFillers(s, i);
  for (let guard = 0; guard < 4; guard++) {
    let matched = false;
    for (const prefix of statementPrefixesEs) {
      if (prefix.every((w, n) => key(s, j + n) === w)) {
        if (prefix[0] === "creo") s.penalty += 0.1;
        j = skipFillers(s, j + prefix.length);
        matched = true;
        break;
      }
    }
    if (!matched) break;
  }
  return j;
}

/** Where the next clause starts after `from`, and whether it loses the current subject. */
function nextBoundary(s: SentenceState, from: number): { index: number; reset: boolean } {
  let reset = false;
  for (let j = from; j < s.toks.length; j++) {
    const t = s.toks[j];
    if (t === undefined) break;
    if (t.kind === "punct") {
      if (
        t.text === "," ||
        t.text === ":" ||
        t.text === "(" ||
        t.text === ")" ||
        t.text === "—" ||
        t.text === "-"
      ) {
        return { index: j + 1, reset };
      }
      continue;
    }
    if (stopWords.has(t.key) && t.low !== "sí") return { index: -1, reset: true };
    if (resetWords.has(t.key)) return { index: j + 1, reset: true };
    if (boundaryWords.has(t.key)) return { index: j + 1, reset };
    if ((t.key === "ya" || t.key === "asi" || t.key === "puesto") && key(s, j + 1) === "que") {
      return { index: j + 2, reset };
    }
    if (clauseStartsAt(s, j) && j > from) return { index: j, reset };
    reset = reset || t.cap;
  }
  return { index: -1, reset: true };
}

function readClause(
  s: SentenceState,
  start: number,
  inherited: Subject[] | undefined,
  first: boolean,
  gap?: VerbState,
): ClauseResult {
  let i = skipFillers(s, start);
  let when: string | undefined;
  const timeEnd = matchTime(s.toks, i, "es");
  if (timeEnd > 0) {
    when = span(s, i, timeEnd);
    i = skipFillers(s, timeEnd);
  }
  if (inSet(clauseBlockersEs, s, i) > 0 && s.toks[i]?.low !== "sí") return { ok: false, next: i, stop: true };
  if (key(s, i) === "me" && ["gustaria", "encantaria"].includes(key(s, i + 1)))
    return { ok: false, next: i, stop: true };
  const reversed = readReversedFavorite(s, i) ?? readIntroduction(s, i);
  if (reversed !== undefined) return { ok: true, next: reversed };
  let experiencers: Subject[] | undefined;
  let subjects: Subject[] | undefined;
  if (key(s, i) === "a") {
    const e = readExperiencers(s, i);
    if (e !== undefined) {
      experiencers = e.subjects;
      i = e.next;
    }
  }
  if (experiencers === undefined) {
    const sub = readSubjects(s, i);
    if (sub !== undefined) {
      subjects = sub.subjects;
      i = sub.next;
      if (sub.done) return { ok: true, next: i, subjects };
    }
  }
  return readPredicate(s, i, { subjects, experiencers, inherited, first, when, gap });
}

// ---------------------------------------------------------------------------------------------------------
// Subjects

interface SubjectsResult {
  subjects: Subject[];
  next: number;
  /** The clause ended inside the subject (an apposition with a relative clause read it all). */
  done?: boolean;
}

/** "mi hermana mayor", "mis padres", "mi compañero de trabajo", "el perro de mi hermana": a possessed noun. */
function readPossessed(
  s: SentenceState,
  i: number,
  owner?: Subject,
): { subject: Subject; next: number; typo: boolean; age?: ObjectPhrase } | undefined {
  const k0 = key(s, i);
  if (k0 !== "mi" && k0 !== "mis" && !possessivesOurEs.has(k0)) return undefined;
  let j = i + 1;
  while (kinPreAdjectivesEs.has(key(s, j)) && j < i + 3) j++;
  const noun = s.toks[j];
  if (noun === undefined || noun.kind !== "word") return undefined;
  const kin = kinAt(s, j);
  if (kin === undefined) {
    if (commonFunctionWord(noun.key) || isVerbStop(s, j) || noun.cap) return undefined;
  }
  j++;
  let entry = kin?.entry;
  while (kinPostAdjectivesEs.has(key(s, j)) && j < i + 6) j++;
  if (entry !== undefined && key(s, j) === "de" && kinDeComplementsEs.has(key(s, j + 1))) {
    const relation = kinDeComplementsEs.get(key(s, j + 1)) ?? entry.relation;
    entry = { ...entry, relation };
    j += 2;
  } else if (
    entry !== undefined &&
    (key(s, j) === "de" || key(s, j) === "del") &&
    key(s, j + 1) !== "mi" &&
    key(s, j + 1) !== "mis"
  ) {
    // "mi vecino del quinto, Ramón", "mi amiga de la infancia Carla": a complement of the noun before the name
    let k = j + 1;
    if (articlesEs.has(key(s, k))) k++;
    const w = s.toks[k];
    const after = s.toks[k + 1];
    if (
      w !== undefined &&
      w.kind === "word" &&
      !w.cap &&
      !functionWords.has(w.key) &&
      after !== undefined &&
      (after.text === "," || (after.cap && after.kind === "word"))
    )
      j = k + 1;
  }
  // A typo in the noun is written corrected: "mi hermna" → "hermana de usuario".
  const nounText =
    kin?.typo === true ? span(s, i + 1, j).replace(noun.text, kinCanonical(noun.key)) : span(s, i + 1, j);
  const subject = possessedSubject(s, nounText, entry, owner?.display ?? s.user);
  if (owner !== undefined) subject.owner = owner.display;
  // "mi hijo de 7 años"
  const years = key(s, j) === "de" ? readNumber(s.toks, j + 1, "es") : undefined;
  if (
    years !== undefined &&
    (key(s, years.end) === "anos" || key(s, years.end) === "ano") &&
    kin !== undefined
  ) {
    const age: ObjectPhrase = { text: String(years.value), start: j + 1, end: years.end, long: false };
    return { subject, next: years.end + 1, typo: kin.typo, age };
  }
  return { subject, next: j, typo: kin?.typo ?? false };
}

const functionWords = new Set(
  "de del a al en con por para que y e o u ni el la los las un una unos unas lo se me te le nos no si sí muy más".split(
    " ",
  ),
);
function commonFunctionWord(k: string): boolean {
  return functionWords.has(k) || vagueObjectsEs.has(k) || adverbsEs.has(k);
}

/** True when a predicate can start at `i` (what follows a name in subject position). */
function predicateStartsAt(s: SentenceState, i: number): boolean {
  let j = i;
  while (adverbsEs.has(key(s, j)) && j < i + 3) j++;
  const k = key(s, j);
  if (negatorsEs.has(k) || cliticsEs.has(k)) return true;
  if (k === "y" || k === "e" || s.toks[j]?.text === ",") return true;
  const verb = verbAt(s, j);
  return verb !== undefined && isFinite(verb.form);
}

/** One subject at `i`, with a name given to it in passing ("mi hermana Lucía" → sister fact). */
function readSubjectUnit(
  s: SentenceState,
  i: number,
  clauseStart: boolean,
): { subjects: Subject[]; next: number } | undefined {
  const t = s.toks[i];
  if (t === undefined || t.kind !== "word") return undefined;
  if (t.low === "yo") return { subjects: [userSubject(s)], next: i + 1 };
  if (t.low === "él" || t.low === "ella") {
    const topic = s.topic;
    const gender = t.low === "ella" ? "f" : "m";
    if (topic === undefined || topic.plural || (topic.gender !== undefined && topic.gender !== gender))
      return undefined;
    return { subjects: [{ ...topic, penalty: topic.penalty + topicPenalty }], next: i + 1 };
  }
  if (t.key === "mama" || t.key === "papa") {
    const entry = kinEs.get(t.key);
    if (entry !== undefined && predicateStartsAt(s, i + 1)) {
      return { subjects: [possessedSubject(s, t.text.toLowerCase(), entry)], next: i + 1 };
    }
  }
  // "el nombre de mi madre", "el cumpleaños de mi hermano", "el perro de mi hermana"
  if ((t.key === "el" || t.key === "la") && key(s, i + 2) === "de" && key(s, i + 3) === "mi") {
    let owner = readPossessed(s, i + 3);
    const attrKey = key(s, i + 1);
    // "el marido de mi hermana Ana": the owner is named, and is who the relative belongs to
    const ownerName =
      owner?.subject.kin !== undefined && !owner.subject.plural && s.toks[owner.next]?.cap === true
        ? readName(s, lexEs, owner.next, false)
        : undefined;
    if (owner !== undefined && ownerName !== undefined && !places.has(fold(ownerName.text))) {
      const named = nameWithKin(s, owner.subject, ownerName.text, false);
      owner = { ...owner, subject: named, next: ownerName.end };
    }
    if (owner !== undefined && owner.subject.kind !== "thing") {
      if (attrKey === "nombre" || attrKey === "cumpleanos") {
        const attr: Subject = { ...owner.subject };
        attr.attr = { kind: attrKey === "nombre" ? "name" : "birthday", of: owner.subject, relation: "" };
        return { subjects: [attr], next: owner.next };
      }
      const kin = kinEs.get(attrKey);
      if (kin !== undefined && !kin.plural) {
        const sub = possessedSubject(s, span(s, i + 1, i + 2), kin, owner.subject.display);
        return { subjects: [sub], next: owner.next };
      }
    }
    return undefined;
  }
  if (t.key === "mi" || t.key === "mis" || possessivesOurEs.has(t.key)) {
    const p = readPossessed(s, i);
    if (p === undefined) return undefined;
    if (possessivesOurEs.has(t.key)) p.subject.penalty += 0.1;
    if (p.age !== undefined) addFact(s, p.subject.display, "age", p.age.text, { penalty: p.subject.penalty });
    const j = p.next;
    if (p.typo) p.subject.penalty += typoPenalty;
    // "mi color favorito", "mi nombre", "mi cumpleaños"
    const nounKey = key(s, i + 1);
    if (favoriteThingsEs.has(nounKey) && favoriteWordsEs.has(key(s, i + 2))) {
      const relation = `favorite_${favoriteThingsEs.get(nounKey) ?? nounKey}`;
      const fav: Subject = { ...p.subject, attr: { kind: "favorite", of: userSubject(s), relation } };
      return { subjects: [fav], next: i + 3 };
    }
    // "mi hobby es la fotografía", "mis aficiones son leer y viajar": what one likes
    if (p.subject.kind === "thing" && hobbyWordsEs.has(nounKey)) {
      const hobby: Subject = {
        ...p.subject,
        attr: { kind: "favorite", of: userSubject(s), relation: "likes" },
      };
      return { subjects: [hobby], next: j };
    }
    const value = matchAttribute(s, i + 1, valueAttributesEs);
    if (p.subject.kind === "thing" && value !== undefined) {
      const subject: Subject = {
        ...p.subject,
        attr: { kind: "value", of: userSubject(s), relation: value.relation },
      };
      return { subjects: [subject], next: value.end };
    }
    if (p.subject.kind === "thing" && (nounKey === "nombre" || nounKey === "cumpleanos") && j === i + 2) {
      const fav: Subject = {
        ...p.subject,
        attr: { kind: nounKey === "nombre" ? "name" : "birthday", of: userSubject(s), relation: "" },
      };
      return { subjects: [fav], next: j };
    }
    if (p.subject.kin !== undefined) {
      // "mi hermana Lucía", "mi amiga ana"
      const next = s.toks[j];
      if (next !== undefined && next.kind === "word") {
        const lowerOk =
          !next.cap &&
          (firstNames.has(next.key) || (!knownWords.has(next.key) && !adjectival.test(next.key)));
        const name = readName(s, lexEs, j, lowerOk);
        // A capitalised word is a name even when it is also a word ("mi tía Rosa", "mi perra Luna")
        const nameLike = next.cap
          ? !functionWords.has(next.key) && !kinPostAdjectivesEs.has(next.key) && !verbsEs.exact.has(next.low)
          : !knownWords.has(next.key);
        if (name !== undefined && !places.has(fold(name.text)) && nameLike) {
          const followOk =
            !name.guessed ||
            firstNames.has(next.key) ||
            predicateStartsAt(s, name.end) ||
            name.end >= s.toks.length;
          if (followOk && !p.subject.plural) {
            return { subjects: [nameWithKin(s, p.subject, name.text, name.guessed)], next: name.end };
          }
        }
      }
      // "mis hermanos Pedro y Juan"
      if (p.subject.plural && s.toks[j]?.cap === true) {
        const list = readNameList(s, lexEs, j, false);
        if (list.names.length > 1) {
          const named = list.names.map((n) => nameWithKin(s, p.subject, n.text, false));
          return { subjects: named, next: list.next };
        }
      }
    }
    return { subjects: [p.subject], next: j };
  }
  if (t.key === "su" || t.key === "sus") {
    const kin = kinAt(s, i + 1);
    const name = kin ? readName(s, lexEs, i + 2, false) : undefined;
    if (kin !== undefined && name !== undefined)
      return { subjects: [nameSubject(name.text)], next: name.end };
    return undefined;
  }
  // A name: "Lucía", "José Luis", or at the start a lowercase one before a verb ("pedro vive en…")
  if (t.cap) {
    if (knownWords.has(t.key) && !firstNames.has(t.key)) return undefined;
    if (verbAt(s, i) !== undefined && !firstNames.has(t.key)) return undefined;
    const name = readName(s, lexEs, i, false);
    if (name === undefined || places.has(fold(name.text))) return undefined;
    return { subjects: [nameSubject(name.text, 0, genderOfName(name.text))], next: name.end };
  }
  if ((clauseStart && !knownWords.has(t.key)) || firstNames.has(t.key)) {
    if (verbAt(s, i) !== undefined || places.has(t.key)) return undefined;
    const name = readName(s, lexEs, i, true);
    if (name === undefined) return undefined;
    if (!firstNames.has(t.key) && !predicateStartsAt(s, name.end)) return undefined;
    return { subjects: [nameSubject(name.text, guessPenalty, genderOfName(name.text))], next: name.end };
  }
  return undefined;
}

/** Spanish first names ending in -a are mostly women's; the rest stay unknown. */
function genderOfName(name: string): "f" | "m" | undefined {
  const firstWord = name.split(" ")[0] ?? "";
  if (/a$/i.test(firstWord)) return "f";
  if (/o$/i.test(firstWord)) return "m";
  return undefined;
}

/** `(usuario, sister, Lucía)`; Lucía becomes the subject. */
function nameWithKin(s: SentenceState, kin: Subject, name: string, guessed: boolean): Subject {
  const relation = kin.kin?.relation ?? "friend";
  const penalty = kin.penalty + (guessed ? guessPenalty : 0);
  addFact(s, kin.owner ?? s.user, relation, name, { penalty });
  return nameSubject(name, penalty, kin.gender);
}

/** Subjects joined by "y" or commas, with appositions ("Lucía, mi hermana, …"). */
function readSubjects(s: SentenceState, i: number): SubjectsResult | undefined {
  const unit = readSubjectUnit(s, i, true);
  if (unit === undefined) return undefined;
  const subjects: Subject[] = [...unit.subjects];
  let j = unit.next;
  for (let guard = 0; guard < 6; guard++) {
    const t = s.toks[j];
    if (t === undefined) break;
    const only = subjects.length === 1 ? subjects[0] : undefined;
    const inner = s.toks[j + 1];
    // Apposition: "Lucía, mi hermana, vive…" / "mi hermana, Lucía, vive…" / "mi hermana, que vive en…, es…"
    if (t.text === "," && only !== undefined && inner !== undefined) {
      if (only.kind === "name" && inner.key === "mi") {
        const p = readPossessed(s, j + 1);
        if (p?.subject.kin !== undefined && s.toks[p.next]?.text === ",") {
          nameWithKin(s, p.subject, only.display, false);
          j = p.next + 1;
          continue;
        }
      }
      // "mi tía Rosa, la hermana de mi madre, vive…"
      if (only.kind === "name" && (inner.key === "la" || inner.key === "el")) {
        const other = kinshipOf(s, j + 2);
        if (other !== undefined && s.toks[other.end]?.text === ",") {
          addFact(s, other.owner.display, other.relation, only.display, { penalty: only.penalty });
          j = other.end + 1;
          continue;
        }
      }
      if (only.kind === "kin" && inner.cap) {
        const name = readName(s, lexEs, j + 1, false);
        if (name !== undefined && s.toks[name.end]?.text === ",") {
          subjects[0] = nameWithKin(s, only, name.text, false);
          j = name.end + 1;
          continue;
        }
      }
      if ((inner.key === "que" || inner.key === "quien") && only.kind !== "user") {
        const rel = readPredicate(s, j + 2, { subjects: [only], inherited: undefined, first: false });
        // "mi hermana, que se llama Lucía, vive…": the name carries on
        const renamed = rel.ok && rel.subjects?.length === 1 ? rel.subjects[0] : undefined;
        if (renamed !== undefined) subjects[0] = renamed;
        let k = rel.next;
        while (k < s.toks.length && s.toks[k]?.text !== ",") k++;
        if (s.toks[k]?.text === ",") {
          j = k + 1;
          continue;
        }
        return { subjects, next: k, done: true };
      }
    }
    if (t.key === "y" || t.key === "e" || t.text === ",") {
      const next = readSubjectUnit(s, j + 1, false);
      // "mi hermano y su mujer viven…": someone we cannot name shares the verb; the rest still gets the fact
      if (
        next === undefined &&
        (key(s, j + 1) === "su" || key(s, j + 1) === "sus") &&
        kinEs.has(key(s, j + 2))
      ) {
        for (let n = 0; n < subjects.length; n++) {
          const x = subjects[n];
          if (x !== undefined) subjects[n] = { ...x, plural: true };
        }
        j += 3;
        continue;
      }
      if (next === undefined) break;
      // "mi primo Iker y su mujer Ane": Ane is Iker's wife
      const prev = subjects[subjects.length - 1];
      const named = next.subjects.length === 1 ? next.subjects[0] : undefined;
      const k1 = key(s, j + 1);
      const kinOfPrev = k1 === "su" || k1 === "sus" ? kinEs.get(key(s, j + 2)) : undefined;
      if (kinOfPrev !== undefined && !kinOfPrev.plural && prev?.kind === "name" && named?.kind === "name")
        addFact(s, prev.display, kinOfPrev.relation, named.display, { penalty: named.penalty + 0.1 });
      subjects.push(...next.subjects);
      j = next.next;
      continue;
    }
    break;
  }
  return { subjects, next: j };
}

/** "A Marta", "A mi hermana", "A mí", "A Pedro y a Marta" before "le gusta". */
function readExperiencers(s: SentenceState, i: number): { subjects: Subject[]; next: number } | undefined {
  const subjects: Subject[] = [];
  let j = i;
  for (let guard = 0; guard < 4; guard++) {
    if (key(s, j) !== "a") break;
    if (s.toks[j + 1]?.low === "mí") {
      subjects.push(userSubject(s));
      j += 2;
    } else {
      const unit = readSubjectUnit(s, j + 1, false);
      if (unit === undefined) return undefined;
      subjects.push(...unit.subjects);
      j = unit.next;
    }
    if ((key(s, j) === "y" || key(s, j) === "e") && key(s, j + 1) === "a") j++;
    else break;
  }
  if (subjects.length === 0) return undefined;
  let k = j;
  while ((negatorsEs.has(key(s, k)) || adverbsEs.has(key(s, k)) || key(s, k) === "ya") && k < j + 4) k++;
  if (!cliticsEs.has(key(s, k))) return undefined;
  return { subjects, next: j };
}

// ---------------------------------------------------------------------------------------------------------
// Predicates

interface PredicateContext {
  gap?: VerbState | undefined;
  subjects: Subject[] | undefined;
  experiencers?: Subject[] | undefined;
  inherited: Subject[] | undefined;
  first: boolean;
  when?: string | undefined;
}

/** One relation with its objects, before subjects and time are known. */
interface Pred {
  relation: string;
  objects: ObjectPhrase[];
  /** Overrides the clause's polarity ("no soporto" is a dislike, not a negated one). */
  negated?: boolean;
  /** Overrides the clause's subjects (`(usuario, sister, Lucía)` from "Lucía es mi hermana"). */
  subjects?: Subject[];
  /** Dates and kin facts take no `when`. */
  untimed?: boolean;
  penalty?: number;
}

interface HandlerResult {
  preds: Pred[];
  next: number;
  when?: string;
  /** Facts were already added (a relative clause read as its own predicate). */
  emitted?: boolean;
}

interface VerbState {
  lemma: string;
  person: VerbForm["person"];
  tense: VerbForm["tense"];
  negated: boolean;
  formerly: boolean;
  clitic: string | undefined;
  penalty: number;
  /** Index after the verb. */
  at: number;
}

function readPredicate(s: SentenceState, start: number, ctx: PredicateContext): ClauseResult {
  let i = start;
  let negated = false;
  let formerly = false;
  for (let guard = 0; guard < 6; guard++) {
    const k = key(s, i);
    if (negatorsEs.has(k)) {
      negated = true;
      i++;
    } else if (k === "ya" && key(s, i + 1) === "no") {
      negated = true;
      i += 2;
    } else if (k === "antes") {
      formerly = true;
      i++;
    } else if (adverbsEs.has(k) || (k === "si" && s.toks[i]?.low === "sí")) {
      i++;
    } else break;
  }
  let clitic: string | undefined;
  if (cliticsEs.has(key(s, i))) {
    clitic = key(s, i);
    i++;
    if (negatorsEs.has(key(s, i))) {
      negated = true;
      i++;
    }
  }
  const hit = verbAt(s, i);
  if (hit === undefined) return ctx.gap !== undefined ? readGap(s, i, ctx) : { ok: false, next: i };
  let form = hit.form;
  let penalty = hit.typo ? typoPenalty : 0;
  i++;
  // Compound forms: "he vivido", "estoy viviendo", "sigo trabajando", "solía vivir", "llevo 3 años viviendo"
  let when = ctx.when;
  if (auxiliaries.has(form.lemma)) {
    let j = i;
    while (adverbsEs.has(key(s, j)) && j < i + 2) j++;
    if (form.lemma === "acabar") {
      if (key(s, j) !== "de") return { ok: false, next: i };
      j++;
    }
    if (form.lemma === "llevar") {
      const durEnd = matchDuration(s.toks, j, "es");
      if (durEnd > 0) {
        when = when ?? span(s, j, durEnd);
        j = durEnd;
      }
    }
    const inner = verbAt(s, j);
    const wanted =
      form.lemma === "haber" ? "part" : form.lemma === "soler" || form.lemma === "acabar" ? "inf" : "ger";
    if (inner !== undefined && inner.form.person === wanted) {
      if (form.lemma === "soler" && form.tense === "impf") formerly = true;
      const past = form.lemma === "haber" || form.lemma === "acabar";
      form = {
        lemma: inner.form.lemma,
        person: form.person,
        tense: past ? "past" : form.tense === "impf" ? "impf" : "pres",
      };
      if (inner.typo) penalty += typoPenalty;
      i = j + 1;
    } else if (form.lemma !== "estar") {
      return { ok: false, next: i };
    }
  }
  if (!isFinite(form)) return { ok: false, next: i };
  if (form.tense === "impf" && stateLemmas.has(form.lemma)) formerly = true;
  const state: VerbState = {
    lemma: form.lemma,
    person: form.person,
    tense: form.tense,
    negated,
    formerly,
    clitic,
    penalty,
    at: i,
  };
  const subjects = resolveSubjects(s, state, ctx);
  if (subjects === undefined || subjects.length === 0) return { ok: false, next: i };
  // "mi coche es rojo", "mi casa tiene jardín": a thing is described or has, it does not live or work
  const attributeOk = form.lemma === "ser" || !subjects.some((x) => x.attr !== undefined);
  if (
    !attributeOk ||
    (subjects.some((x) => x.kind === "thing" && x.attr === undefined) && !thingVerbs.has(form.lemma))
  ) {
    return { ok: false, next: i };
  }
  const handler = handlers[form.lemma];
  const result = handler?.(s, i, state, subjects);
  if (result === undefined) return { ok: false, next: i };
  if (result.preds.length === 0)
    return { ok: result.emitted === true, next: Math.max(i, result.next), subjects };
  let next = result.next;
  when = result.when ?? when;
  const timeEnd = matchTime(s.toks, next, "es");
  if (timeEnd > 0) {
    when = when ?? span(s, next, timeEnd);
    next = timeEnd;
  }
  let after = subjects;
  for (const pred of result.preds) {
    const renamed = emitFacts(s, pred.subjects ?? subjects, pred.relation, pred.objects, {
      negated: pred.negated ?? (negated || formerly),
      penalty: penalty + (pred.penalty ?? 0),
      when: pred.untimed === true ? undefined : when,
    });
    if (renamed.length > 0) after = renamed;
  }
  noteTopic(s, after);
  return { ok: true, next, subjects: after, gap: state };
}

/**
 * "Mi madre es de Jaén y mi padre de Córdoba": a subject with no verb, then a preposition the previous
 * clause's verb took, reuses that verb.
 */
function readGap(s: SentenceState, start: number, ctx: PredicateContext): ClauseResult {
  const gap = ctx.gap;
  // "…y yo aquí en Sevilla": a place adverb before the preposition
  let i = start;
  if (["aqui", "alli", "aca", "ahi"].includes(key(s, i)) && gapPrepositions.has(key(s, i + 1))) i++;
  // "Mi madre es de Jaén y mi padre de Córdoba" (a new subject), "es alta y muy simpática" (the same one)
  const sameSubject =
    ctx.subjects === undefined &&
    gap?.lemma === "ser" &&
    (key(s, i - 1) === "y" || key(s, i - 1) === "e") &&
    (key(s, i) === "muy" || adjectiveAt(s, i));
  // "soy argentino, de Rosario": the origin after a comma is the same subject's
  const commaOrigin =
    ctx.subjects === undefined &&
    gap?.lemma === "ser" &&
    gap.negated !== true &&
    s.toks[i - 1]?.text === "," &&
    key(s, i) === "de";
  // "mi madre es alemana y mi padre gallego": a new subject, the same verb, another trait
  const newSubjectTrait =
    ctx.subjects !== undefined && gap?.lemma === "ser" && adjectiveAt(s, i) && !places.has(key(s, i));
  const subjects = ctx.subjects ?? (sameSubject || commaOrigin ? ctx.inherited : undefined);
  if (
    gap === undefined ||
    subjects === undefined ||
    (!gapPrepositions.has(key(s, i)) && !sameSubject && !newSubjectTrait)
  )
    return { ok: false, next: i };
  const result = handlers[gap.lemma]?.(s, i, gap, subjects);
  if (result === undefined || result.preds.length === 0) return { ok: false, next: i };
  for (const pred of result.preds) {
    emitFacts(s, pred.subjects ?? subjects, pred.relation, pred.objects, {
      negated: pred.negated ?? (gap.negated || gap.formerly),
      penalty: gap.penalty + 0.1,
    });
  }
  // "mi hermana vive en Berlín, mi hermano en Roma y yo en Sevilla": the verb carries on
  return { ok: true, next: result.next, subjects, gap };
}

const gapPrepositions = new Set(["en", "de", "a", "para", "como", "con", "del", "al"]);

/** Remembers the last third person talked about, for "ella"/"él" and subjectless verbs later on. */
function noteTopic(s: SentenceState, subjects: readonly Subject[]): void {
  if (subjects.length > 1 && subjects.every((x) => x.kind === "name"))
    s.group = subjects.map((x) => ({ ...x, penalty: 0 }));
  const only = subjects.length === 1 ? subjects[0] : undefined;
  if (
    only !== undefined &&
    (only.kind === "name" || only.kind === "kin") &&
    !only.plural &&
    only.attr === undefined
  ) {
    s.topic = { ...only, penalty: 0 };
  }
}

const cliticLemmas = new Set(["llamar", "mudar", "casar", "apellidar", "criar"]);
/** Verbs that take another verb: "he vivido", "estoy viviendo", "sigo", "solía", "llevo… viviendo", "acabo de". */
const thingVerbs = new Set(["ser", "tener", "nacer", "venir", "gustar", "encantar"]);
const auxiliaries = new Set(["haber", "estar", "seguir", "soler", "llevar", "acabar"]);
/** States that the imperfect puts in the past: "vivía en Londres" is a place the speaker left. */
const stateLemmas = new Set(["vivir", "trabajar", "estudiar"]);

/** Who the verb is about, from the explicit subject, the clitic, the verb's person, or the context. */
function resolveSubjects(s: SentenceState, v: VerbState, ctx: PredicateContext): Subject[] | undefined {
  const explicit = ctx.subjects;
  if (likingVerbsEs.has(v.lemma)) {
    if (v.person !== "3s" && v.person !== "3p" && v.person !== "13s") return undefined;
    if (v.clitic === "me") {
      if (ctx.experiencers?.some((e) => e.kind !== "user") === true) return undefined;
      if (explicit !== undefined && explicit.some((e) => e.kind !== "user")) return undefined;
      return [userSubject(s)];
    }
    if (v.clitic === "nos") return ctx.experiencers ?? [userSubject(s, 0.2)];
    if (v.clitic === "le" || v.clitic === "les") {
      if (ctx.experiencers !== undefined) return ctx.experiencers;
      if (explicit !== undefined) return explicit.some((e) => e.kind === "user") ? undefined : explicit;
      return fromContext(s, ctx, -1);
    }
    return undefined;
  }
  if (cliticLemmas.has(v.lemma)) {
    if (v.clitic === "me")
      return explicit === undefined || explicit.every((e) => e.kind === "user")
        ? [userSubject(s)]
        : undefined;
    if (v.clitic === "nos") return [userSubject(s, 0.2)];
    if (v.clitic !== "se") return undefined;
  } else if (v.clitic !== undefined && v.clitic !== "se") {
    // "me casé" is handled above; "le tengo…" is not a fact
    return undefined;
  }
  const p = v.person;
  if (explicit !== undefined) {
    // "mis aficiones son…": an attribute agrees with its own noun, not with a person
    if (explicit.some((e) => e.attr !== undefined)) return p === "3s" || p === "3p" ? explicit : undefined;
    const hasUser = explicit.some((e) => e.kind === "user");
    const plural = explicit.length > 1 || explicit.some((e) => e.plural);
    if (p === "1p") return hasUser ? explicit : undefined;
    if (hasUser) return explicit.length === 1 && (p === "1s" || p === "13s") ? explicit : undefined;
    if (p === "3p") return plural ? explicit : undefined;
    if (p === "3s" || p === "13s") return plural ? undefined : explicit;
    return undefined;
  }
  if (p === "1s" || (p === "13s" && v.clitic !== "se")) return [userSubject(s)];
  if (p === "1p") return [userSubject(s, 0.2)];
  if (p === "3s" || p === "13s") return fromContext(s, ctx, v.lemma === "ser" ? v.at : -1);
  if (p === "3p") {
    const inherited = ctx.inherited;
    return inherited !== undefined && (inherited.length > 1 || inherited.some((x) => x.plural))
      ? inherited
      : undefined;
  }
  return undefined;
}

/**
 * A subjectless third person: the previous clause's subject, or at the start of a sentence the topic of the
 * one before ("Mi hermana se llama Lucía. Vive en Madrid."). A copula takes the topic only when the
 * complement agrees with it in gender ("Es enfermera" after Lucía, not "Es muy bonito").
 */
function fromContext(s: SentenceState, ctx: PredicateContext, copulaAt: number): Subject[] | undefined {
  const inherited = ctx.inherited;
  if (inherited !== undefined) {
    if (inherited.length === 1 && inherited[0]?.kind !== "user" && inherited[0]?.plural !== true)
      return inherited;
    return undefined;
  }
  const topic = s.topic;
  if (!ctx.first || topic === undefined) return undefined;
  if (copulaAt >= 0) {
    const gender = complementGender(s, copulaAt);
    if (gender === undefined || topic.gender === undefined || gender !== topic.gender) return undefined;
  }
  return [{ ...topic, penalty: topic.penalty + topicPenalty }];
}

/** "una enfermera" / "enfermera" → f, "un médico" / "alto" → m, else undefined. */
function complementGender(s: SentenceState, i: number): "f" | "m" | undefined {
  let j = i;
  const k = key(s, j);
  if (k === "una") return "f";
  if (k === "un") return "m";
  if (k === "muy" || k === "bastante" || k === "tan") j++;
  const w = key(s, j);
  if (w.length < 3 || w === "de") return undefined;
  if (w.endsWith("a")) return "f";
  if (w.endsWith("o")) return "m";
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Verb handlers

type Handler = (s: SentenceState, i: number, v: VerbState, subjects: Subject[]) => HandlerResult | undefined;

/**
 * "con mi pareja Andrés", "con mi pareja, Andrés,": a named relative one does something with. The kinship fact
 * is added here; the name is returned to share what the clause says (where one lives).
 */
function readCompanion(s: SentenceState, i: number): { named: Subject; end: number } | undefined {
  if (key(s, i) !== "con") return undefined;
  const p = readPossessed(s, i + 1);
  if (p?.subject.kin === undefined || p.subject.plural) return undefined;
  let j = p.next;
  const comma = s.toks[j]?.text === ",";
  if (comma) j++;
  if (s.toks[j]?.cap !== true) return undefined;
  const name = readName(s, lexEs, j, false);
  if (name === undefined || places.has(fold(name.text))) return undefined;
  let end = name.end;
  if (comma && s.toks[end]?.text === ",") end++;
  else if (comma && end < s.toks.length) return undefined;
  return { named: nameWithKin(s, p.subject, name.text, false), end };
}

/** Skips adverbs, "con mi novio" (unless `keepCon`) and times between a verb and its preposition. */
function skipAdjuncts(
  s: SentenceState,
  i: number,
  keepCon = false,
): { next: number; when?: string; companions?: Subject[] } {
  let j = i;
  let when: string | undefined;
  const companions: Subject[] = [];
  for (let guard = 0; guard < 4; guard++) {
    const k = key(s, j);
    if (adverbsEs.has(k) || k === "solo" || k === "sola" || k === "juntos" || k === "juntas") {
      j++;
      continue;
    }
    // "trabajo desde casa para…", "trabajo en remoto para…": how, not where
    if ((k === "desde" || k === "en") && (key(s, j + 1) === "casa" || key(s, j + 1) === "remoto")) {
      j += 2;
      continue;
    }
    const t = Math.max(matchTime(s.toks, j, "es"), matchDuration(s.toks, j, "es"));
    if (t > 0 && k !== "en") {
      when = when ?? span(s, j, t);
      j = t;
      continue;
    }
    if (k === "con" && !keepCon) {
      const companion = readCompanion(s, j);
      if (companion !== undefined) {
        companions.push(companion.named);
        j = companion.end;
        continue;
      }
      const o = readObject(s, lexEs, j + 1, { kind: "place", possessive: true });
      if (o !== undefined) {
        j = o.end;
        continue;
      }
    }
    break;
  }
  const out: { next: number; when?: string; companions?: Subject[] } = { next: j };
  if (when !== undefined) out.when = when;
  if (companions.length > 0) out.companions = companions;
  return out;
}

/** A verb with prepositions mapping to relations: "trabajo en X como Y". */
function prepositional(map: Record<string, string>, kind: "place" | "thing" = "place"): Handler {
  const stops = prepositionsOf(map);
  return (s, i) => {
    const preds: Pred[] = [];
    let j = i;
    let when: string | undefined;
    const companions: Subject[] = [];
    for (let round = 0; round < 3; round++) {
      const skip = skipAdjuncts(s, j, map.con !== undefined);
      j = skip.next;
      when = when ?? skip.when;
      companions.push(...(skip.companions ?? []));
      let k = key(s, j);
      let from = j + 1;
      if (k === "al" && map.a !== undefined) {
        k = "a";
        from = j + 1;
      } else if (k === "del" && map.de !== undefined) {
        k = "de";
      }
      const relation = map[k];
      if (relation === undefined) break;
      const roleLike = relation === "works_as" || relation === "studies";
      const list = readObjectList(s, lexEs, from, {
        kind: roleLike ? "thing" : kind,
        stopAt: stops,
      });
      if (list.objects.length === 0) break;
      const single = list.objects.length === 1 ? list.objects[0] : undefined;
      const wide = single !== undefined && !roleLike ? widenPlace(s, lexEs, single, list.next) : undefined;
      if (wide !== undefined) {
        list.objects = [wide.object];
        list.next = wide.next;
      }
      // "trabajo en el hospital la paz de enfermero": the job after "de" is not part of the place
      const role = single !== undefined && map.de === "works_as" && !roleLike ? roleInside(s, single) : -1;
      if (single !== undefined && role > single.start) {
        list.objects = [{ ...single, end: role, text: span(s, single.start, role) }];
        list.next = role;
      }
      j = list.next;
      // "trabajo en un proyecto", "trabajo en el turno de noche", "trabajo de 9 a 5": not where or as what
      const head = list.objects[0]?.start ?? from;
      const only = list.objects.length === 1 && list.objects[0]?.end === head + 1;
      if (notPlaces.has(key(s, head)) || (only && s.toks[head]?.kind === "number")) continue;
      // "viajo a ver a mi madre": an infinitive is a purpose, not a place
      const headTok = s.toks[head];
      if (
        !roleLike &&
        k === "a" &&
        head === from &&
        headTok?.cap === false &&
        /^[a-zñ]+[aei]r$/.test(headTok.key) &&
        !places.has(headTok.key)
      )
        continue;
      addPrepositional(s, preds, relation, list.objects);
    }
    // "vivo con mi pareja, Andrés, en Lavapiés": who one lives with lives there too
    const home = preds.find((p) => p.relation === "lives_in");
    if (home !== undefined && companions.length > 0)
      preds.push({ relation: "lives_in", objects: home.objects, subjects: companions });
    return when === undefined ? { preds, next: j } : { preds, next: j, when };
  };
}

/** A job noun by its ending: enfermero, camarera, periodista, informático, conductora, becario, gerente. */
const jobNoun = /^[a-zñ]{3,}(?:ero|era|ista|ico|or|ora|ario|aria|ante|ente)s?$/;

/** Where "de <job>" starts inside a place object ("mapfre de informático"), or -1. */
function roleInside(s: SentenceState, object: ObjectPhrase): number {
  for (let k = object.start + 1; k < object.end; k++) {
    const next = s.toks[k + 1];
    if (key(s, k) === "de" && next !== undefined && !next.cap && jobNoun.test(next.key)) return k;
  }
  return -1;
}

/**
 * Adds a prepositional object, once per relation: "vivo en un piso en Lavapiés" keeps the named place over
 * the common noun before it.
 */
function addPrepositional(s: SentenceState, preds: Pred[], relation: string, objects: ObjectPhrase[]): void {
  const seen = preds.find((p) => p.relation === relation);
  if (seen === undefined) {
    preds.push({ relation, objects });
    return;
  }
  const before = seen.objects[0];
  const now = objects[0];
  if (
    before !== undefined &&
    now !== undefined &&
    s.toks[before.start]?.cap !== true &&
    s.toks[now.start]?.cap === true
  ) {
    seen.objects = objects;
  }
}

function prepositionsOf(map: Record<string, string>): ReadonlySet<string> {
  return new Set(Object.keys(map).filter((k) => k !== "" && k !== "de"));
}

/** A verb taking a direct object: "hablo inglés", "odio los lunes". */
function direct(
  relation: string,
  options: { accept?: ReadonlySet<string>; kind?: "thing" | "activity"; needsNegation?: boolean } = {},
): Handler {
  return (s, i, v) => {
    if (options.needsNegation === true && !v.negated) return undefined;
    let j = i;
    while ((adverbsEs.has(key(s, j)) || key(s, j) === "mucho") && j < i + 3) j++;
    if (
      key(s, j) === "a" &&
      (s.toks[j + 1]?.cap === true ||
        key(s, j + 1) === "mi" ||
        key(s, j + 1) === "los" ||
        key(s, j + 1) === "las")
    )
      j++;
    // "odio cuando llueve", "odio que me mientan": a clause, not a thing
    if (["que", "cuando", "si", "como", "donde"].includes(key(s, j))) return undefined;
    if (key(s, j) === "de" && relation !== "likes") return undefined;
    const opts =
      options.accept === undefined
        ? { kind: options.kind ?? "thing" }
        : { kind: options.kind ?? "thing", accept: options.accept };
    const list = readObjectList(s, lexEs, j, opts);
    if (list.objects.length === 0) return undefined;
    const pred: Pred = { relation, objects: list.objects };
    if (options.needsNegation === true) pred.negated = false;
    return { preds: [pred], next: list.next };
  };
}

const studyStops: ReadonlySet<string> = new Set(["en"]);
const hobbyWordsEs: ReadonlySet<string> = new Set([
  "hobby",
  "hobbies",
  "aficion",
  "aficiones",
  "pasatiempo",
  "pasatiempos",
]);
/** "mi apellido es García": attributes whose value is a name. */
const valueAttributesEs: ReadonlyArray<readonly [string, string]> = [
  ["numero de telefono", "phone"],
  ["numero de movil", "phone"],
  ["numero de celular", "phone"],
  ["correo electronico", "email"],
  ["apellido", "surname"],
  ["apellidos", "surname"],
  ["apodo", "nickname"],
  ["mote", "nickname"],
  ["email", "email"],
  ["e-mail", "email"],
  ["mail", "email"],
  ["correo", "email"],
  ["telefono", "phone"],
  ["movil", "phone"],
  ["celular", "phone"],
  ["direccion", "address"],
];
const notPlaces: ReadonlySet<string> = new Set(
  "proyecto proyectos tarea tareas tesis libro novela idea ideas eso esto ello algo mismo misma lo nada cosas turno turnos".split(
    " ",
  ),
);
const conStops: ReadonlySet<string> = new Set(["con"]);
const roleStops: ReadonlySet<string> = new Set(["en", "para"]);
const copulaStops: ReadonlySet<string> = new Set(["es", "son"]);
const livesIn = prepositional({ en: "lives_in" });
const worksAt = prepositional({ en: "works_at", para: "works_at", como: "works_as", de: "works_as" });
const studiesAt = prepositional({ en: "studies_at" });

const handlers: Record<string, Handler | undefined> = {
  vivir: livesIn,
  trabajar: worksAt,
  estudiar(s, i, v, subjects) {
    const j = skipAdjuncts(s, i).next;
    const k = key(s, j);
    if (k === "en") return studiesAt(s, i, v, subjects);
    if (["para", "con", "por", "a", "de", "sobre", "desde", "mucho", "poco", "bastante"].includes(k))
      return undefined;
    const list = readObjectList(s, lexEs, j, { kind: "thing", stopAt: studyStops });
    if (list.objects.length === 0) return undefined;
    const preds: Pred[] = [{ relation: "studies", objects: list.objects }];
    const rest = studiesAt(s, list.next, v, subjects);
    if (rest !== undefined && rest.preds.length > 0)
      return { preds: [...preds, ...rest.preds], next: rest.next };
    return { preds, next: list.next };
  },
  mudar(s, i, v) {
    if (v.tense === "pres" && v.person !== "1p") return undefined;
    let j = skipAdjuncts(s, i).next;
    if (key(s, j) === "de" || key(s, j) === "desde") {
      const origin = readObject(s, lexEs, j + 1, { kind: "place" });
      if (origin !== undefined) j = origin.end;
    }
    const k = key(s, j);
    if (k !== "a" && k !== "al") return undefined;
    const list = readObjectList(s, lexEs, j + 1, { kind: "place" });
    return list.objects.length > 0
      ? { preds: [{ relation: "moved_to", objects: list.objects }], next: list.next }
      : undefined;
  },
  nacer(s, i) {
    const preds: Pred[] = [];
    let j = i;
    for (let round = 0; round < 2; round++) {
      while (adverbsEs.has(key(s, j)) && j < i + 4) j++;
      const k = key(s, j);
      let from = j + 1;
      if (k === "el" || k === "un") from = j + 1;
      else if (k !== "en") break;
      if (key(s, from) === "el" && key(s, from + 1) === "dia") from += 2;
      const date = matchDate(s.toks, from, "es");
      if (date > 0) {
        preds.push({ relation: "born_on", objects: [objectOf(s, from, date)], untimed: true });
        j = date;
        // "nací el 3 de mayo, en Cádiz"
        if (s.toks[j]?.text === "," && key(s, j + 1) === "en") j++;
        continue;
      }
      if (k !== "en") break;
      const place = readObject(s, lexEs, from, { kind: "place" });
      if (place === undefined) break;
      preds.push({ relation: "born_in", objects: [place] });
      j = place.end;
    }
    return { preds, next: j };
  },
  venir: prepositional({ de: "from" }),
  crecer: prepositional({ en: "grew_up_in" }),
  // "me crie en Barcelona"
  criar(s, i, v) {
    if (v.clitic === undefined) return undefined;
    return prepositional({ en: "grew_up_in" })(s, i, v, []);
  },
  viajar: prepositional({ a: "travels_to" }),
  casar(s, i, v) {
    if (v.tense === "pres") return undefined;
    return prepositional({ con: "married_to" })(s, i, v, []);
  },
  salir(s, i) {
    // "los domingos salgo a escalar": an activity one goes out to do
    const activity = key(s, i) === "a" ? s.toks[i + 1] : undefined;
    if (activity !== undefined && !activity.cap && /^[a-zñ]{2,}[aei]r$/.test(activity.key))
      return { preds: [{ relation: "practices", objects: [objectOf(s, i + 1, i + 2)] }], next: i + 2 };
    if (key(s, i) !== "con") return undefined;
    const name = readName(s, lexEs, i + 1, false);
    return name
      ? {
          preds: [
            { relation: "partner", objects: [{ text: name.text, start: i + 1, end: name.end, long: false }] },
          ],
          next: name.end,
        }
      : undefined;
  },
  ir(s, i, v) {
    if (v.tense !== "pres") return undefined;
    const k = key(s, i);
    const k1 = key(s, i + 1);
    if (!(k === "al" || (k === "a" && (k1 === "la" || k1 === "los" || k1 === "las")))) return undefined;
    const list = readObjectList(s, lexEs, i + 1, { kind: "place" });
    const head = list.objects[0];
    if (head === undefined || verbAt(s, head.start) !== undefined) return undefined;
    return { preds: [{ relation: "goes_to", objects: list.objects }], next: list.next };
  },
  hablar: direct("speaks", { accept: languagesEs }),
  tocar: direct("plays", { accept: instrumentsEs }),
  jugar(s, i) {
    let j = i;
    if (key(s, j) === "a" || key(s, j) === "al") j++;
    else if (key(s, j) === "con") return undefined;
    const list = readObjectList(s, lexEs, j, { kind: "thing", stopAt: conStops });
    return list.objects.length > 0
      ? { preds: [{ relation: "plays", objects: list.objects }], next: list.next }
      : undefined;
  },
  practicar: direct("practices"),
  conducir: direct("drives"),
  manejar: direct("drives"),
  usar: direct("uses"),
  utilizar: direct("uses"),
  aprender: direct("learns", { accept: new Set([...languagesEs, ...instrumentsEs]) }),
  odiar: direct("dislikes", { kind: "activity" }),
  detestar: direct("dislikes", { kind: "activity" }),
  adorar: direct("likes", { kind: "activity" }),
  amar: direct("likes", { kind: "activity" }),
  disfrutar(s, i, v, subjects) {
    const j = key(s, i) === "de" || key(s, i) === "del" ? (key(s, i) === "del" ? i : i + 1) : i;
    return direct("likes", { kind: "activity" })(s, j, v, subjects);
  },
  soportar: direct("dislikes", { kind: "activity", needsNegation: true }),
  aguantar: direct("dislikes", { kind: "activity", needsNegation: true }),
  gustar: liking,
  encantar: liking,
  fascinar: liking,
  apasionar: liking,
  chiflar: liking,
  interesar: liking,
  molestar: liking,
  flipar: liking,
  molar: liking,
  llamar: naming,
  apellidar(s, i, v) {
    if (v.tense !== "pres") return undefined;
    const name = readName(s, lexEs, i, true);
    return name
      ? {
          preds: [
            { relation: "surname", objects: [{ text: name.text, start: i, end: name.end, long: false }] },
          ],
          next: name.end,
        }
      : undefined;
  },
  cumplir(s, i, v) {
    if (key(s, i) !== "anos" || v.tense !== "pres") return undefined;
    let j = i + 1;
    if (key(s, j) === "el") j++;
    const date = matchDate(s.toks, j, "es");
    return date > 0
      ? { preds: [{ relation: "birthday", objects: [objectOf(s, j, date)], untimed: true }], next: date }
      : undefined;
  },
  ser: copula,
  estar: state,
  tener: having,
};

function objectOf(s: SentenceState, from: number, to: number): ObjectPhrase {
  return { text: span(s, from, to), start: from, end: to, long: false };
}

function liking(s: SentenceState, i: number, v: VerbState): HandlerResult | undefined {
  if (v.tense !== "pres" && v.tense !== "impf" && !(v.tense === "past" && v.negated)) return undefined;
  let j = i;
  for (let guard = 0; guard < 4; guard++) {
    const k = key(s, j);
    if (
      [
        "mucho",
        "muchisimo",
        "bastante",
        "tanto",
        "tambien",
        "nada",
        "mas",
        "demasiado",
        "especialmente",
        "realmente",
      ].includes(k)
    )
      j++;
    else if (k === "un" && key(s, j + 1) === "monton") j += 2;
    else if (k === "sobre" && key(s, j + 1) === "todo") j += 2;
    else break;
  }
  if (key(s, j) === "que" || key(s, j) === "cuando" || key(s, j) === "si") return undefined;
  const list = readObjectList(s, lexEs, j, { kind: "activity" });
  if (list.objects.length === 0) return undefined;
  const relation = likingVerbsEs.get(v.lemma) ?? "likes";
  return { preds: [{ relation, objects: list.objects }], next: list.next };
}

function naming(s: SentenceState, i: number, v: VerbState, subjects: Subject[]): HandlerResult | undefined {
  if (v.tense !== "pres" || s.toks[i - 1]?.low === "llamó") return undefined;
  const lowercase = subjects.every((x) => x.kind === "user" || x.kind === "kin");
  const list = readNameList(s, lexEs, i, lowercase);
  if (list.names.length === 0) return undefined;
  if (list.names.length > 1 && !subjects.some((x) => x.plural)) list.names.length = 1;
  const pred: Pred = { relation: "name", objects: list.names, untimed: true };
  if (list.guessed) pred.penalty = guessPenalty;
  return { preds: [pred], next: list.next };
}

/** "ser": traits, origin, names, kinship and favourites. */
function copula(s: SentenceState, i: number, v: VerbState, subjects: Subject[]): HandlerResult | undefined {
  // Only origin survives the past tense: "mi abuela era de Cuba"
  if (v.tense !== "pres" && key(s, i) !== "de" && key(s, i) !== "del") return undefined;
  let j = i;
  while (["tambien", "ya", "todavia", "aun", "ahora", "actualmente"].includes(key(s, j)) && j < i + 3) j++;
  const k = key(s, j);
  const t = s.toks[j];
  if (t === undefined) return undefined;
  const only = subjects.length === 1 ? subjects[0] : undefined;
  // Attribute subjects: "mi nombre es Ana", "mi cumpleaños es el 3 de mayo", "mi color favorito es el azul"
  if (only?.attr !== undefined) {
    const attr = only.attr;
    if (attr.kind === "birthday") {
      const from = k === "el" || k === "en" ? j + 1 : j;
      const date = matchDate(s.toks, from, "es");
      if (date < 0) return undefined;
      return {
        preds: [
          { relation: "birthday", objects: [objectOf(s, from, date)], subjects: [attr.of], untimed: true },
        ],
        next: date,
      };
    }
    if (attr.kind === "value" && rawAttributes.has(attr.relation)) {
      const raw = readRawValue(s, j, attr.relation);
      if (raw === undefined) return undefined;
      return {
        preds: [{ relation: attr.relation, objects: [raw], subjects: [attr.of], untimed: true }],
        next: raw.end,
      };
    }
    if (attr.kind === "name" || attr.kind === "value") {
      const name = readName(s, lexEs, j, true);
      if (name === undefined) return undefined;
      const object: ObjectPhrase = { text: name.text, start: j, end: name.end, long: false };
      const relation = attr.kind === "name" ? "name" : attr.relation;
      return {
        preds: [{ relation, objects: [object], subjects: [attr.of], untimed: true }],
        next: name.end,
      };
    }
    const list = readObjectList(s, lexEs, j, { kind: "thing" });
    if (list.objects.length === 0) return undefined;
    return {
      preds: [{ relation: attr.relation, objects: list.objects, subjects: [attr.of] }],
      next: list.next,
    };
  }
  if (k === "de" || k === "del") {
    const list = readObjectList(s, lexEs, k === "del" ? j : j + 1, { kind: "place" });
    return list.objects.length > 0
      ? { preds: [{ relation: "from", objects: list.objects }], next: list.next }
      : undefined;
  }
  if (/^(alergic[oa]s?|intolerantes?)$/.test(k)) {
    const from = key(s, j + 1) === "a" || key(s, j + 1) === "al" ? j + 2 : -1;
    // "me encantan los gatos pero soy alérgico": allergic to what was just named
    const said = only === undefined ? undefined : lastThingOf(s, only.display);
    const ends = s.toks[j + 1] === undefined || s.toks[j + 1]?.kind === "punct";
    if (from < 0 && ends && said !== undefined && !v.negated) {
      const relation = k.startsWith("alerg") ? "allergic_to" : "intolerant_to";
      return { preds: [{ relation, objects: [said] }], next: j + 1 };
    }
    if (from < 0) return undefined;
    const list = readObjectList(s, lexEs, key(s, j + 1) === "al" ? j + 1 : from, { kind: "thing" });
    const relation = k.startsWith("alerg") ? "allergic_to" : "intolerant_to";
    return list.objects.length > 0
      ? { preds: [{ relation, objects: list.objects }], next: list.next }
      : undefined;
  }
  // "soy originario de Perú", "es natural de Cádiz"
  if (
    /^(originari[oa]s?|natural(es)?|oriund[oa]s?)$/.test(k) &&
    (key(s, j + 1) === "de" || key(s, j + 1) === "del")
  ) {
    const list = readObjectList(s, lexEs, key(s, j + 1) === "del" ? j + 1 : j + 2, { kind: "place" });
    return list.objects.length > 0
      ? { preds: [{ relation: "from", objects: list.objects }], next: list.next }
      : undefined;
  }
  const fanAt = ["muy", "super", "gran", "un", "una", "muy muy"].includes(k) ? j + 1 : j;
  if (
    /^(fan|fanatic[oa]|aficionad[oa]|seguidor|seguidora|hinchas?)$/.test(key(s, fanAt)) &&
    ["de", "del", "a", "al"].includes(key(s, fanAt + 1))
  ) {
    const from = key(s, fanAt + 1) === "del" || key(s, fanAt + 1) === "al" ? fanAt + 1 : fanAt + 2;
    const list = readObjectList(s, lexEs, from, { kind: "thing" });
    return list.objects.length > 0
      ? { preds: [{ relation: "likes", objects: list.objects }], next: list.next }
      : undefined;
  }
  if ((k === "voluntario" || k === "voluntaria") && key(s, j + 1) === "en") {
    const list = readObjectList(s, lexEs, j + 2, { kind: "place" });
    return list.objects.length > 0
      ? { preds: [{ relation: "volunteers_at", objects: list.objects }], next: list.next }
      : undefined;
  }
  // "Lucía es mi hermana", "Madrid es mi ciudad favorita"
  if (k === "mi" || k === "mis") {
    // "Ana y Luis son mis hermanos"
    if (subjects.length > 1 && subjects.every((x) => x.kind === "name")) {
      const p = readPossessed(s, j);
      if (p?.subject.kin === undefined || !p.subject.plural) return undefined;
      const objects = subjects.map(subjectAsObject);
      return {
        preds: [{ relation: p.subject.kin.relation, objects, subjects: [userSubject(s)], untimed: true }],
        next: p.next,
      };
    }
    if (only === undefined || only.kind !== "name") return undefined;
    const p = readPossessed(s, j);
    if (p === undefined) return undefined;
    const nounKey = key(s, j + 1);
    if (favoriteThingsEs.has(nounKey) && favoriteWordsEs.has(key(s, j + 2))) {
      const relation = `favorite_${favoriteThingsEs.get(nounKey) ?? nounKey}`;
      return {
        preds: [{ relation, objects: [subjectAsObject(only)], subjects: [userSubject(s)] }],
        next: j + 3,
      };
    }
    if (p.subject.kin === undefined) return undefined;
    return {
      preds: [
        {
          relation: p.subject.kin.relation,
          objects: [subjectAsObject(only)],
          subjects: [userSubject(s)],
          untimed: true,
        },
      ],
      next: p.next,
    };
  }
  // "soy Ana", "mi jefe es Pedro"
  if (t.cap && !nationalitiesEs.has(k) && !knownWords.has(k) && !languagesEs.has(k)) {
    // "mis hijos son Pablo y Lucía"
    if (only?.kind === "kin" && only.plural) {
      const list = readNameList(s, lexEs, j, false);
      return list.names.length > 0
        ? { preds: [{ relation: "name", objects: list.names, untimed: true }], next: list.next }
        : undefined;
    }
    const name = readName(s, lexEs, j, false);
    if (name === undefined || only === undefined || (only.kind !== "user" && only.kind !== "kin"))
      return undefined;
    const object: ObjectPhrase = { text: name.text, start: j, end: name.end, long: false };
    return { preds: [{ relation: "name", objects: [object], untimed: true }], next: name.end };
  }
  if (
    only?.kind === "user" &&
    !t.cap &&
    firstNames.has(k) &&
    (s.toks[j + 1] === undefined || s.toks[j + 1]?.kind === "punct" || key(s, j + 1) === "y")
  ) {
    return {
      preds: [
        { relation: "name", objects: [{ text: capitalizeWords(t.text), start: j, end: j + 1, long: false }] },
      ],
      next: j + 1,
    };
  }
  if (subjects.some((x) => x.kind === "name" && places.has(fold(x.display)))) return undefined;
  // A trait or a job: "es médica", "soy ingeniera", "es muy exigente", "soy un chico tranquilo"
  const articled = articlesEs.has(k) && k !== "lo";
  const head = s.toks[articled ? j + 1 : j];
  if (
    head === undefined ||
    head.kind !== "word" ||
    (!articled && transientStatesEs.has(head.key)) ||
    vagueObjectsEs.has(head.low) ||
    head.key === "que" ||
    k === "lo" ||
    (!articled && readNumber(s.toks, j, "es") !== undefined)
  ) {
    return undefined;
  }
  if (articled) {
    const other = kinshipOf(s, j + 1);
    if (other !== undefined && only !== undefined) {
      // "Rosa es la hermana de mi madre" → (madre de usuario, sister, Rosa)
      if (only.kind === "name")
        return {
          preds: [
            {
              relation: other.relation,
              objects: [subjectAsObject(only)],
              subjects: [other.owner],
              untimed: true,
            },
          ],
          next: other.end,
        };
      // "soy la hermana de Javier" → (usuario, brother, Javier)
      const inverse = inverseKin(other.relation, other.owner.gender);
      if (only.kind === "user" && other.owner.kind === "name" && inverse !== undefined)
        return {
          preds: [{ relation: inverse, objects: [subjectAsObject(other.owner)], untimed: true }],
          next: other.end,
        };
    }
  }
  const list = readObjectList(s, lexEs, j, { kind: "thing", stopAt: roleStops });
  if (list.objects.length === 0) return undefined;
  for (const o of list.objects) {
    if (transientStatesEs.has(o.text.toLowerCase())) return undefined;
    // "soy la hermana de Pedro", "soy madre de dos niños": someone else's kinship, not a trait
    if (familyRelations.has(kinEs.get(key(s, o.start))?.relation ?? "")) return undefined;
  }
  // "es más alta que yo": a comparison, not a trait
  if (key(s, list.next) === "que" || key(s, j) === "mas" || key(s, j) === "menos") return undefined;
  const preds: Pred[] = [{ relation: "is", objects: list.objects }];
  let next = list.next;
  // "soy enfermera en el Hospital La Paz"
  if (
    (key(s, next) === "en" || key(s, next) === "para") &&
    list.objects.length === 1 &&
    matchTime(s.toks, next, "es") < 0
  ) {
    const place = readObjectList(s, lexEs, next + 1, { kind: "place" });
    if (place.objects.length > 0) {
      const student = /^(estudiante|alumn[oa]s?)\b/i.test(list.objects[0]?.text ?? "");
      preds.push({ relation: student ? "studies_at" : "works_at", objects: place.objects });
      next = place.next;
    }
  }
  return { preds, next };
}

function subjectAsObject(subject: Subject): ObjectPhrase {
  return { text: subject.display, start: 0, end: 0, long: false };
}

/** "estar": only married and other civil states, and progressive forms (read as the verb). */
function state(s: SentenceState, i: number, v: VerbState): HandlerResult | undefined {
  if (v.tense !== "pres") return undefined;
  const k = key(s, i);
  if (/^casad[oa]s?$/.test(k) || /^prometid[oa]s?$/.test(k)) {
    if (key(s, i + 1) === "con") {
      const name = readObject(s, lexEs, i + 2, { kind: "thing" });
      if (name === undefined) return undefined;
      return {
        preds: [{ relation: k.startsWith("casad") ? "married_to" : "partner", objects: [name] }],
        next: name.end,
      };
    }
    return { preds: [{ relation: "is", objects: [objectOf(s, i, i + 1)] }], next: i + 1 };
  }
  if (/^(solter[oa]s?|divorciad[oa]s?|viud[oa]s?|jubilad[oa]s?|embarazada)$/.test(k)) {
    return { preds: [{ relation: "is", objects: [objectOf(s, i, i + 1)] }], next: i + 1 };
  }
  return undefined;
}

/**
 * "hermana de mi madre", "hermana de Javier" at `i` (after the article): a kinship of someone other than the
 * speaker, with that someone as the owner.
 */
function kinshipOf(
  s: SentenceState,
  i: number,
): { relation: string; owner: Subject; end: number } | undefined {
  const kin = kinAt(s, i);
  if (kin === undefined || kin.entry.plural || key(s, i + 1) !== "de") return undefined;
  if (key(s, i + 2) === "mi") {
    const p = readPossessed(s, i + 2);
    if (p?.subject.kin === undefined || p.subject.plural) return undefined;
    return { relation: kin.entry.relation, owner: p.subject, end: p.next };
  }
  if (s.toks[i + 2]?.cap !== true) return undefined;
  const name = readName(s, lexEs, i + 2, false);
  if (name === undefined || places.has(fold(name.text))) return undefined;
  return {
    relation: kin.entry.relation,
    owner: nameSubject(name.text, 0, genderOfName(name.text)),
    end: name.end,
  };
}

/** Events one has, named by the event itself ("examen de conducir"): the whole phrase is the object. */
const eventWordsEs = new Set([
  "examen",
  "revision",
  "operacion",
  "intervencion",
  "entrevista",
  "vuelo",
  "analisis",
]);

/** "tener": age, appointments, allergies, relatives and pets (named or not), possessions. */
function having(s: SentenceState, i: number, v: VerbState, subjects: Subject[]): HandlerResult | undefined {
  // "tenía una granja": what one had is not what one has, and says nothing of now
  if (v.tense === "past" || v.tense === "impf" || key(s, i) === "que") return undefined;
  let j = i;
  while (["tambien", "ya", "todavia", "aun", "ahora"].includes(key(s, j)) && j < i + 2) j++;
  // Age: "tengo 34 años"; "tienen 8 y 5 años", one age each
  const ages = respectiveAges(s, j, "es", subjects);
  if (ages !== undefined && v.tense === "pres") return ages;
  const n = readNumber(s.toks, j, "es");
  if (n !== undefined && (key(s, n.end) === "anos" || key(s, n.end) === "ano") && v.tense === "pres") {
    const next = key(s, n.end + 1) === "de" && key(s, n.end + 2) === "edad" ? n.end + 3 : n.end + 1;
    return {
      preds: [
        {
          relation: "age",
          objects: [{ text: String(n.value), start: j, end: n.end, long: false }],
          untimed: true,
        },
      ],
      next,
    };
  }
  // Events named by the event itself: "tengo examen de conducir", "tengo la operación de rodilla"
  let k = j;
  if (["una", "un", "la", "el", "mi"].includes(key(s, k))) k++;
  if (eventWordsEs.has(key(s, k)) && !v.negated && !["con", "en", "al", "para"].includes(key(s, k + 1))) {
    let end = k + 1;
    // "examen de conducir", "revisión del coche", "entrevista de trabajo"
    if ((key(s, end) === "de" || key(s, end) === "del") && s.toks[end + 1]?.kind === "word") {
      let e = end + 1;
      if (articlesEs.has(key(s, e))) e++;
      if (s.toks[e]?.kind === "word" && !functionWords.has(key(s, e))) end = e + 1;
    }
    return { preds: [{ relation: "appointment", objects: [objectOf(s, k, end)] }], next: end };
  }
  // Appointments: "tengo (una) cita con el dentista", "tengo reunión con mi jefe"
  k = j;
  if (key(s, k) === "una" || key(s, k) === "un") k++;
  if (["cita", "consulta", "reunion", "turno", "entrevista", "clase"].includes(key(s, k))) {
    k++;
    if (["medica", "medico", "importante"].includes(key(s, k))) k++;
    const pre = matchTime(s.toks, k, "es");
    let when: string | undefined;
    if (pre > 0) {
      when = span(s, k, pre);
      k = pre;
    }
    if (key(s, k) !== "con" && key(s, k) !== "en" && key(s, k) !== "al" && key(s, k) !== "para")
      return undefined;
    const from = key(s, k) === "al" ? k : k + 1;
    const list = readObjectList(s, lexEs, from, { kind: "place", possessive: true });
    if (list.objects.length === 0) return undefined;
    return when === undefined
      ? { preds: [{ relation: "appointment", objects: list.objects }], next: list.next }
      : { preds: [{ relation: "appointment", objects: list.objects }], next: list.next, when };
  }
  if (key(s, j) === "alergia" || key(s, j) === "alergias") {
    const a = key(s, j + 1);
    if (a !== "a" && a !== "al") return undefined;
    const list = readObjectList(s, lexEs, a === "al" ? j + 1 : j + 2, { kind: "thing" });
    return list.objects.length > 0
      ? { preds: [{ relation: "allergic_to", objects: list.objects }], next: list.next }
      : undefined;
  }
  // Relatives, pets and possessions, one or several: "tengo un perro y dos gatos"
  const preds: Pred[] = [];
  let at = j;
  let emitted = false;
  const items: OwnedItem[] = [];
  for (let round = 0; round < 5; round++) {
    const item = readOwned(s, at, v, subjects);
    if (item === undefined) break;
    preds.push(...item.preds);
    items.push(item);
    emitted ||= item.emitted === true;
    at = item.next;
    // "dos tortugas, Pili y Mili, y un canario…": a list of names can be followed by more
    if (item.final === true && item.kin?.named !== true) break;
    const sep = s.toks[at];
    if (sep === undefined || !(sep.key === "y" || sep.key === "e" || sep.text === ",")) break;
    let next = at + 1;
    if (sep.text === "," && (key(s, next) === "y" || key(s, next) === "e")) next++;
    if (clauseStartsAt(s, next) || !ownedStartsAt(s, next)) break;
    at = next;
  }
  const shared = respectiveNames(items);
  if (shared !== undefined) return { preds: shared, next: at, emitted };
  if (preds.length === 0 && !emitted) return undefined;
  return { preds, next: at, emitted };
}

/** "coche", "coches", "motos": a thing one has, singular or plural. */
function isPossession(k: string): boolean {
  if (possessionsEs.has(k)) return true;
  return k.endsWith("s") && (possessionsEs.has(k.slice(0, -1)) || possessionsEs.has(k.slice(0, -2)));
}

/** A lowercase word that can describe a noun: not a function word, verb, name marker or time. */
function adjectiveAt(s: SentenceState, i: number): boolean {
  const t = s.toks[i];
  if (t === undefined || t.kind !== "word" || t.cap) return false;
  const k = t.key;
  if (functionWords.has(k) || vagueObjectsEs.has(t.low) || objectStopWordsEs.has(k) || kinEs.has(k))
    return false;
  if (/^llamad[oa]s?$/.test(k) || verbAt(s, i) !== undefined || matchTime(s.toks, i, "es") > 0) return false;
  return k.length > 2;
}

/** What a second thing after "tengo … y" starts with: an article, a number, a relative or a possession. */
function ownedStartsAt(s: SentenceState, i: number): boolean {
  const k = key(s, i);
  if (k === "un" || k === "una" || k === "unos" || k === "unas") return true;
  return readNumber(s.toks, i, "es") !== undefined || kinEs.has(k) || isPossession(k);
}

interface OwnedItem extends HandlerResult {
  /** A name or a relative clause took the rest of the clause. */
  final?: boolean;
  /** A relative or pet: how many ("dos perros" → 2) and what relation, for names given to several at once. */
  kin?: { relation: string; count: number; named: boolean };
}

/**
 * One thing after "tengo": a relative or pet, named ("una hermana que se llama Lucía", "un perro llamado
 * Toby", "dos hijos: Ana y Luis"), described ("una hermana que vive en Madrid", "un hijo de 5 años") or just
 * had ("dos hijos"); or a possession ("un coche rojo", "un Toyota").
 */
function readOwned(s: SentenceState, j: number, v: VerbState, subjects: Subject[]): OwnedItem | undefined {
  let m = j;
  const det = key(s, m);
  const counted = readNumber(s.toks, m, "es");
  const indefinite = det === "un" || det === "una" || det === "unos" || det === "unas";
  if (indefinite) m++;
  else if (counted !== undefined) m = counted.end;
  const kin = kinAt(s, m);
  if (kin !== undefined) {
    let nounEnd = m + 1;
    // "un gato negro que se llama Sombra": adjectives after the noun
    while (nounEnd < m + 3 && adjectiveAt(s, nounEnd)) nounEnd++;
    // "mi mujer y yo tenemos dos hijos": several owners have; only one can name or describe
    if (!subjects.every((x) => x.kind === "user" || x.kind === "name" || x.kind === "kin")) return undefined;
    const owner = subjects.length === 1 ? subjects[0] : undefined;
    const nounText = span(s, m, nounEnd);
    const kinSubject = possessedSubject(s, nounText, kin.entry, owner?.display ?? s.user);
    // "llamado Toby", "que se llama Toby", ", Toby", ": Ana y Luis"
    let nameAt = -1;
    const a = key(s, nounEnd);
    const sep = s.toks[nounEnd]?.text;
    if (/^llamad[oa]s?$/.test(a)) nameAt = nounEnd + 1;
    else if (a === "que" && key(s, nounEnd + 1) === "se" && /^llaman?$/.test(key(s, nounEnd + 2)))
      nameAt = nounEnd + 3;
    else if (a === "de" && key(s, nounEnd + 1) === "nombre") nameAt = nounEnd + 2;
    else if ((sep === "," || sep === ":") && s.toks[nounEnd + 1]?.cap === true) nameAt = nounEnd + 1;
    else if (s.toks[nounEnd]?.cap === true) nameAt = nounEnd;
    if (nameAt > 0 && !v.negated && owner !== undefined) {
      const names = readNameList(s, lexEs, nameAt, true);
      if (names.names.length > 0) {
        const named = names.names.map((nm) => nameSubject(nm.text, 0, kin.entry.gender));
        if (named.length === 1 && named[0] !== undefined) s.topic = named[0];
        const pred: Pred = { relation: kin.entry.relation, objects: names.names, untimed: true };
        const rest = named.length === 1 ? relativeTail(s, names.next, named) : undefined;
        const count = indefinite ? 1 : (counted?.value ?? names.names.length);
        return {
          preds: [pred],
          next: rest?.next ?? names.next,
          final: true,
          kin: { relation: kin.entry.relation, count, named: rest === undefined },
        };
      }
    }
    // "tengo una hermana que vive en Madrid"
    if (a === "que" && !v.negated && !kin.entry.plural && owner !== undefined) {
      const rel = relativeTail(s, nounEnd, [kinSubject]);
      if (rel !== undefined) return { ...rel, final: true };
    }
    const countText = indefinite ? "" : span(s, j, m);
    const hasObject: ObjectPhrase = {
      text: countText ? `${countText} ${nounText}` : nounText,
      start: j,
      end: nounEnd,
      long: false,
    };
    const preds: Pred[] = [{ relation: "has", objects: [hasObject] }];
    const kinCount = indefinite ? 1 : (counted?.value ?? 1);
    // "Tengo una hermana. Se llama Marta.": she is who the next sentence is about
    if (indefinite && !kin.entry.plural && owner?.kind === "user" && !v.negated) {
      s.topic = { ...kinSubject, introducedBy: hasObject.text };
    }
    // "un hijo de 5 años"
    const age = a === "de" ? readNumber(s.toks, nounEnd + 1, "es") : undefined;
    if (age !== undefined && key(s, age.end) === "anos" && !kin.entry.plural && indefinite) {
      const ageObject: ObjectPhrase = {
        text: String(age.value),
        start: nounEnd + 1,
        end: age.end,
        long: false,
      };
      preds.push({ relation: "age", objects: [ageObject], subjects: [kinSubject], untimed: true });
      return { preds, next: age.end + 1 };
    }
    return { preds, next: nounEnd, kin: { relation: kin.entry.relation, count: kinCount, named: false } };
  }
  // Possessions: "tengo un coche rojo", "no tengo coche", "tengo un Toyota"
  const object = readObject(s, lexEs, j, { kind: "thing" });
  if (object === undefined) return undefined;
  const head = key(s, m);
  const owned = isPossession(head) || (s.toks[m]?.cap === true && (det === "un" || det === "una"));
  if (!owned) return undefined;
  return { preds: [{ relation: "has", objects: [object] }], next: object.end };
}

/** A relative clause about `subjects` at `i` ("que vive en Madrid"), read as its own predicate. */
function relativeTail(s: SentenceState, i: number, subjects: Subject[]): HandlerResult | undefined {
  if (key(s, i) !== "que" && key(s, i) !== "quien") return undefined;
  const before = s.facts.length;
  const r = readPredicate(s, i + 1, { subjects, inherited: undefined, first: false });
  if (!r.ok || s.facts.length === before) return undefined;
  return { preds: [], next: r.next, emitted: true };
}

/** "Esta es mi hermana Lucía" → `(usuario, sister, Lucía)`. */
function readIntroduction(s: SentenceState, i: number): number | undefined {
  const k = key(s, i);
  if (!(k === "este" || k === "esta" || k === "aqui") || key(s, i + 1) !== "es" || key(s, i + 2) !== "mi")
    return undefined;
  const p = readPossessed(s, i + 2);
  if (p?.subject.kin === undefined) return undefined;
  const name = readName(s, lexEs, p.next, false);
  if (name === undefined) return undefined;
  const named = nameWithKin(s, p.subject, name.text, false);
  s.topic = named;
  return name.end;
}

/** "El azul es mi color favorito" → `(usuario, favorite_color, azul)`. */
function readReversedFavorite(s: SentenceState, i: number): number | undefined {
  for (let e = i + 1; e < Math.min(s.toks.length, i + 7); e++) {
    const k = key(s, e);
    if (s.toks[e]?.kind === "punct") return undefined;
    if (k !== "es" && k !== "son") continue;
    if ((key(s, e + 1) !== "mi" && key(s, e + 1) !== "mis") || !favoriteThingsEs.has(key(s, e + 2)))
      return undefined;
    if (!favoriteWordsEs.has(key(s, e + 3))) return undefined;
    const object = readObject(s, lexEs, i, { kind: "thing", stopAt: copulaStops });
    if (object === undefined || object.end !== e) return undefined;
    const relation = `favorite_${favoriteThingsEs.get(key(s, e + 2)) ?? key(s, e + 2)}`;
    addFact(s, s.user, relation, object.text, {});
    return e + 4;
  }
  return undefined;
}
