/**
 * English clause rules: [time] subject [auxiliaries, negation] verb complements ("I live in Madrid", "my
 * sister doesn't work at Google anymore", "I've been living in Lisbon since 2019").
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
  adverbsEn,
  articlesEn,
  clauseBlockersEn,
  commonWordsEn,
  favoriteThingsEn,
  favoriteWordsEn,
  familyRelations,
  fillersEn,
  firstNames,
  kinEn,
  kinPreAdjectivesEn,
  languagesEn,
  nationalitiesEn,
  objectPrefixesEn,
  objectStopWordsEn,
  places,
  possessionsEn,
  possessivesOtherEn,
  sentenceBlockersEn,
  statementPrefixesEn,
  transientStatesEn,
  vagueObjectsEn,
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
import { formForTypo, verbsEn, type VerbForm, type VerbPerson } from "./verbs.js";

const typoPenalty = 0.2;
const topicPenalty = 0.2;
const guessPenalty = 0.05;

const knownWords: ReadonlySet<string> = new Set([
  ...commonWordsEn,
  ...kinEn.keys(),
  ...languagesEn,
  ...nationalitiesEn,
  ...vagueObjectsEn,
  ...fillersEn,
  ...verbsEn.exact.keys(),
  ...transientStatesEn,
  ...[
    "lines",
    "bikes",
    "words",
    "forks",
    "liver",
    "lover",
    "mover",
    "hated",
    "dated",
    "plans",
    "place",
    "plays",
  ],
]);
const verbTypos = createTypoIndex(verbsEn.exact.keys(), 5, true);
const typoPreferenceEn: readonly VerbPerson[] = ["base", "3s", "past"];
const kinTypos = createTypoIndex(kinEn.keys());

const placeStops = new Set([
  "in",
  "at",
  "on",
  "near",
  "to",
  "by",
  "for",
  "as",
  "from",
  "with",
  "since",
  "during",
]);
const coordinators = new Set(["and", "or", "nor", "&"]);
const connectors = new Set(["of", "the", "de", "del", "la"]);
const modals = new Set([
  "will",
  "would",
  "could",
  "should",
  "might",
  "may",
  "must",
  "shall",
  "can",
  "gonna",
  "wanna",
]);
const beForms = new Set(["am", "is", "are", "'s"]);
const haveForms = new Set(["have", "has"]);
const boundaryWords = new Set([
  "and",
  "but",
  "so",
  "because",
  "although",
  "though",
  "plus",
  "or",
  "cause",
  "cuz",
]);
const resetWords = new Set(["who", "which", "that", "where", "whose", "whom", "what"]);
const stopWords = new Set(["if", "when", "whenever", "unless", "wish", "until"]);
const copulaStops: ReadonlySet<string> = new Set(["is", "are", "'s"]);
/** "my last name is Smith": attributes whose value is a name. */
const valueAttributesEn: ReadonlyArray<readonly [string, string]> = [
  ["email address", "email"],
  ["e-mail address", "email"],
  ["phone number", "phone"],
  ["cell number", "phone"],
  ["mobile number", "phone"],
  ["home address", "address"],
  ["last name", "surname"],
  ["family name", "surname"],
  ["middle name", "middle_name"],
  ["surname", "surname"],
  ["nickname", "nickname"],
  ["email", "email"],
  ["e-mail", "email"],
  ["phone", "phone"],
  ["address", "address"],
];
/** "I live at home", "I work from home": not a place worth a fact. */
const notPlacesEn: ReadonlySet<string> = new Set([
  "home",
  "all",
  "night",
  "it",
  "that",
  "shift",
  "project",
  "projects",
]);
const pronounsEn = new Set(["he", "she", "it", "they", "you", "we", "i"]);

interface VerbHit {
  form: VerbForm;
  typo: boolean;
}

function key(s: SentenceState, i: number): string {
  return s.toks[i]?.key ?? "";
}

/** The English verb form at `i`, allowing one typo in a word of five letters or more. */
function verbAt(s: SentenceState, i: number): VerbHit | undefined {
  const t = s.toks[i];
  if (t === undefined || t.kind !== "word" || (t.cap && i > 0 && t.key !== "i")) return undefined;
  const form = verbsEn.exact.get(t.key);
  if (form !== undefined) return { form, typo: false };
  if (knownWords.has(t.key) || firstNames.has(t.key) || t.key.length < 4 || t.key.includes("'"))
    return undefined;
  const typoForm = formForTypo(verbTypos.candidates(t.key), verbsEn.exact, typoPreferenceEn);
  return typoForm === undefined ? undefined : { form: typoForm, typo: true };
}

function kinAt(
  s: SentenceState,
  i: number,
): { entry: KinEntry; typo: boolean; end: number; word?: string } | undefined {
  const t = s.toks[i];
  if (t === undefined || t.kind !== "word") return undefined;
  // "best friend", "guinea pig", "ex wife"
  const two = kinEn.get(`${t.key} ${key(s, i + 1)}`);
  if (two !== undefined) return { entry: two, typo: false, end: i + 2 };
  const entry = kinEn.get(t.key);
  if (entry !== undefined) return { entry, typo: false, end: i + 1 };
  if (knownWords.has(t.key) || t.cap) return undefined;
  const fixed = kinTypos.correct(t.key);
  const typoEntry = fixed === undefined ? undefined : kinEn.get(fixed);
  return typoEntry === undefined || fixed === undefined
    ? undefined
    : { entry: typoEntry, typo: true, end: i + 1, word: fixed };
}

/** Adverbs that are also adjectives: "early meetings", "late shifts", "online games". */
const adjectivalAdverbsEn = new Set(["early", "late", "hard", "online", "full-time", "part-time"]);

/** "I hate early meetings": an adjectival adverb before a noun belongs to the object. */
function adjectiveBeforeNoun(s: SentenceState, j: number): boolean {
  if (!adjectivalAdverbsEn.has(key(s, j))) return false;
  const next = s.toks[j + 1];
  return (
    next !== undefined &&
    next.kind === "word" &&
    !functionWord(next.key) &&
    !placeStops.has(next.key) &&
    verbAt(s, j + 1) === undefined
  );
}

function isFiniteForm(form: VerbForm): boolean {
  return form.person === "base" || form.person === "3s" || form.person === "past" || form.person === "1s";
}

function isVerbStop(s: SentenceState, i: number): boolean {
  const t = s.toks[i];
  if (t === undefined || t.kind !== "word" || t.cap) return false;
  const k = t.key;
  if (k === "is" || k === "are" || k === "am" || k === "was" || k === "were" || k === "has" || k === "have")
    return true;
  if (k === "does" || k === "did" || k === "do" || k === "will" || k === "would" || k === "not") return true;
  const form = verbsEn.exact.get(k);
  return form !== undefined && form.person === "3s" && form.lemma !== "be";
}

function clauseStartsAt(s: SentenceState, i: number): boolean {
  let j = i;
  while (adverbsEn.has(key(s, j)) && j < i + 3) j++;
  const t = s.toks[j];
  if (t === undefined) return false;
  const k = t.key;
  if (k === "i" || k === "my" || k === "he" || k === "she" || k === "we") return true;
  if (k === "not" || k === "never" || k === "don't" || (k === "do" && key(s, j + 1) === "not")) return true;
  if (k === "no" && key(s, j + 1) === "longer") return true;
  const verb = verbAt(s, j);
  if (verb !== undefined && isFiniteForm(verb.form)) {
    if (verb.form.person === "3s" || verb.form.person === "past") return true;
    const next = key(s, j + 1);
    return [
      "in",
      "at",
      "for",
      "as",
      "to",
      "from",
      "a",
      "an",
      "the",
      "two",
      "my",
      "been",
      "it",
      "them",
      "this",
      "that",
    ].includes(next);
  }
  if (t.cap && !knownWords.has(k)) {
    const after = verbAt(s, j + 1);
    // "my brothers Pete and John live…": a plural verb makes the name part of a list of subjects
    const listed = key(s, j - 1) === "and" || s.toks[j - 1]?.text === ",";
    if (after !== undefined && listed && (after.form.person === "base" || key(s, j + 1) === "are"))
      return false;
    if (after !== undefined && isFiniteForm(after.form)) return true;
    if (key(s, j + 1) === "is" || key(s, j + 1) === "'s" || key(s, j + 1) === "does") return true;
  }
  return false;
}

const lexEn: PhraseLexicon = {
  lang: "en",
  articles: articlesEn,
  common: knownWords,
  vague: vagueObjectsEn,
  stops: objectStopWordsEn,
  placeStops,
  connectors,
  coordinators,
  prefixes: objectPrefixesEn,
  possessiveUser: new Set(["my"]),
  possessiveOther: possessivesOtherEn,
  clauseStartsAt,
  isVerbAt: isVerbStop,
};

// ---------------------------------------------------------------------------------------------------------
// Sentence and clause loop

interface ClauseResult {
  ok: boolean;
  next: number;
  subjects?: Subject[];
  stop?: boolean;
  /** The verb read, for a later clause that leaves it out ("and my dad from Italy"). */
  gap?: Gap;
}

interface Gap {
  handler: Handler;
  v: VerbState;
}

/** Reads one English sentence into `s.facts`. */
export function readSentenceEn(s: SentenceState): void {
  let i = skipLead(s, 0);
  if (i >= s.toks.length) return;
  if (sentenceBlockersEn.has(key(s, i)) && !(key(s, i) === "call" && key(s, i + 1) === "me")) return;
  if (key(s, i) === "call" && key(s, i + 1) === "me") {
    const name = readName(s, lexEn, i + 2, true);
    if (name !== undefined) addFact(s, s.user, "name", name.text, {});
    return;
  }
  let inherited: Subject[] | undefined;
  let gap: Gap | undefined;
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
    // "I live in Houston, though I'm from Lagos": the word after the comma only links the clauses
    if (s.toks[b.index - 1]?.text === "," && boundaryWords.has(key(s, i))) i = skipFillers(s, i + 1);
  }
}

function skipFillers(s: SentenceState, i: number): number {
  let j = i;
  for (let guard = 0; guard < 8; guard++) {
    const t = s.toks[j];
    if (t === undefined) break;
    if (t.text === "," || t.text === ":" || t.text === "-" || t.text === "—") j++;
    else if (fillersEn.has(t.key) && !(t.key === "so" && adverbsEn.has(key(s, j + 1)))) j++;
    // "Finally, I moved…", "Recently I started…"
    else if (t.key.length > 4 && t.key.endsWith("ly") && lyAdverbFollows(s, j + 1)) j++;
    else break;
  }
  return j;
}

/** After "Finally"/"Recently" comes a comma or a new subject; after "Sally" comes her verb. */
function lyAdverbFollows(s: SentenceState, i: number): boolean {
  const k = key(s, i);
  return s.toks[i]?.text === "," || k === "i" || k === "my" || k === "we" || k === "he" || k === "she";
}

function skipLead(s: SentenceState, i: number): number {
  let j = skipFillers(s, i);
  for (let guard = 0; guard < 4; guard++) {
    let matched = false;
    for (const prefix of statementPrefixesEn) {
      if (prefix.every((w, n) => key(s, j + n) === w)) {
        if (prefix[1] === "think" || prefix[1] === "believe") s.penalty += 0.1;
        j = skipFillers(s, j + prefix.length);
        matched = true;
        break;
      }
    }
    if (!matched) break;
  }
  return j;
}

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
    if (stopWords.has(t.key)) return { index: -1, reset: true };
    if (resetWords.has(t.key)) return { index: j + 1, reset: true };
    if (boundaryWords.has(t.key)) return { index: j + 1, reset };
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
  gap?: Gap,
): ClauseResult {
  let i = skipFillers(s, start);
  let when: string | undefined;
  const timeEnd = matchTime(s.toks, i, "en");
  if (timeEnd > 0) {
    when = span(s, i, timeEnd);
    i = skipFillers(s, timeEnd);
  }
  if (clauseBlockersEn.has(key(s, i))) return { ok: false, next: i, stop: true };
  const reversed = readReversedFavorite(s, i) ?? readIntroduction(s, i);
  if (reversed !== undefined) return { ok: true, next: reversed };
  let subjects: Subject[] | undefined;
  const sub = readSubjects(s, i);
  if (sub !== undefined) {
    subjects = sub.subjects;
    i = sub.next;
    if (sub.done === true) return { ok: true, next: i, subjects };
  } else if (inherited === undefined) {
    return { ok: false, next: i };
  }
  return readPredicate(s, i, { subjects, inherited, first, when, gap });
}

// ---------------------------------------------------------------------------------------------------------
// Subjects

interface SubjectsResult {
  subjects: Subject[];
  next: number;
  done?: boolean;
}

/**
 * "my sister", "my best friend", "my car", "my sister's dog", "my favorite color", "my name": a possessed
 * noun at `i` (on "my"), and where it ends.
 */
function readPossessed(s: SentenceState, i: number): { subject: Subject; next: number } | undefined {
  if (key(s, i) !== "my" && key(s, i) !== "our") return undefined;
  let j = i + 1;
  // "my favorite color", "my favourite food"
  if (favoriteWordsEn.has(key(s, j))) {
    const thing =
      favoriteThingsEn.get(`${key(s, j + 1)} ${key(s, j + 2)}`) ?? favoriteThingsEn.get(key(s, j + 1));
    if (thing === undefined) return undefined;
    const end = favoriteThingsEn.has(`${key(s, j + 1)} ${key(s, j + 2)}`) ? j + 3 : j + 2;
    const subject: Subject = { ...possessedSubject(s, span(s, i + 1, end), undefined) };
    subject.attr = { kind: "favorite", of: userSubject(s), relation: `favorite_${thing}` };
    return { subject, next: end };
  }
  // "my hobby is photography", "my hobbies are reading and travelling": what one likes
  if (key(s, j) === "hobby" || key(s, j) === "hobbies" || key(s, j) === "passion") {
    const subject: Subject = { ...possessedSubject(s, key(s, j), undefined) };
    subject.attr = { kind: "favorite", of: userSubject(s), relation: "likes" };
    return { subject, next: j + 1 };
  }
  const value = matchAttribute(s, j, valueAttributesEn);
  if (value !== undefined) {
    const subject: Subject = { ...possessedSubject(s, span(s, j, value.end), undefined) };
    subject.attr = { kind: "value", of: userSubject(s), relation: value.relation };
    return { subject, next: value.end };
  }
  if (key(s, j) === "name" || key(s, j) === "birthday") {
    const subject: Subject = { ...possessedSubject(s, key(s, j), undefined) };
    subject.attr = { kind: key(s, j) === "name" ? "name" : "birthday", of: userSubject(s), relation: "" };
    return { subject, next: j + 1 };
  }
  while (kinPreAdjectivesEn.has(key(s, j)) && j < i + 3) j++;
  const noun = s.toks[j];
  if (noun === undefined || noun.kind !== "word") return undefined;
  const kin = kinAt(s, j);
  let end = j + 1;
  if (kin !== undefined) end = kin.end;
  else if (functionWord(noun.key) || noun.cap || verbsEn.exact.has(noun.key)) return undefined;
  // "my sitser": the noun as meant, not as typed
  const written =
    kin?.word === undefined ? span(s, i + 1, end) : `${j > i + 1 ? `${span(s, i + 1, j)} ` : ""}${kin.word}`;
  const owner = possessedSubject(s, written, kin?.entry);
  if (kin?.typo === true) owner.penalty += typoPenalty;
  // "my sister's name", "my mom's birthday", "my sister's dog", "my sister's favorite color"
  if (key(s, end) === "'s" && owner.kind === "kin") {
    const attrKey = key(s, end + 1);
    if (attrKey === "name" || attrKey === "birthday") {
      const subject: Subject = {
        ...owner,
        attr: { kind: attrKey === "name" ? "name" : "birthday", of: owner, relation: "" },
      };
      return { subject, next: end + 2 };
    }
    if (favoriteWordsEn.has(attrKey)) {
      const thing = favoriteThingsEn.get(key(s, end + 2));
      if (thing === undefined) return undefined;
      const subject: Subject = {
        ...owner,
        attr: { kind: "favorite", of: owner, relation: `favorite_${thing}` },
      };
      return { subject, next: end + 3 };
    }
    const nested = kinAt(s, end + 1);
    if (nested !== undefined && !nested.entry.plural) {
      const sub = possessedSubject(s, span(s, end + 1, nested.end), nested.entry, owner.display);
      return { subject: sub, next: nested.end };
    }
    // "my sister's a doctor", "my brother's 25": the "'s" is "is"; the predicate reads it
    const after = s.toks[end + 1];
    if (after === undefined || after.cap || possessionsEn.has(after.key)) return undefined;
  }
  return { subject: owner, next: end };
}

const functionWordsEn = new Set(
  "the a an of in on at to for from with by and or but not no so very really also just own".split(" "),
);
function functionWord(k: string): boolean {
  return functionWordsEn.has(k) || vagueObjectsEn.has(k) || adverbsEn.has(k) || pronounsEn.has(k);
}

function predicateStartsAt(s: SentenceState, i: number): boolean {
  let j = i;
  while (adverbsEn.has(key(s, j)) && j < i + 3) j++;
  const k = key(s, j);
  if (k === "is" || k === "'s" || k === "was" || k === "has" || k === "does" || k === "did" || k === "and")
    return true;
  if (k === "never" || k === "not" || s.toks[j]?.text === ",") return true;
  const verb = verbAt(s, j);
  return verb !== undefined && isFiniteForm(verb.form);
}

function nameWithKin(s: SentenceState, kin: Subject, name: string, guessed: boolean): Subject {
  const relation = kin.kin?.relation ?? "friend";
  const penalty = kin.penalty + (guessed ? guessPenalty : 0);
  addFact(s, kin.owner ?? s.user, relation, name, { penalty });
  return nameSubject(name, penalty, kin.gender);
}

function readSubjectUnit(
  s: SentenceState,
  i: number,
  clauseStart: boolean,
): { subjects: Subject[]; next: number } | undefined {
  const t = s.toks[i];
  if (t === undefined || t.kind !== "word") return undefined;
  const k = t.key;
  if (k === "i") return { subjects: [userSubject(s)], next: i + 1 };
  if (k === "me" && key(s, i + 1) === "and") return { subjects: [userSubject(s)], next: i + 1 };
  // "…, and me here in Glasgow"
  if (k === "me" && (key(s, i - 1) === "and" || s.toks[i - 1]?.text === ",") && key(s, i + 1) === "here")
    return { subjects: [userSubject(s)], next: i + 1 };
  if (k === "we") return { subjects: [{ ...userSubject(s, 0.2), plural: true }], next: i + 1 };
  // "my kids are Noah and Ava, they're 9 and 7"
  if (k === "they" && s.group !== undefined)
    return { subjects: s.group.map((x) => ({ ...x, penalty: x.penalty + topicPenalty })), next: i + 1 };
  if (k === "he" || k === "she") {
    const topic = s.topic;
    const gender = k === "she" ? "f" : "m";
    if (topic === undefined || topic.plural || (topic.gender !== undefined && topic.gender !== gender))
      return undefined;
    return { subjects: [{ ...topic, penalty: topic.penalty + topicPenalty }], next: i + 1 };
  }
  if ((k === "mom" || k === "dad" || k === "mum") && predicateStartsAt(s, i + 1)) {
    const entry = kinEn.get(k);
    if (entry !== undefined) return { subjects: [possessedSubject(s, k, entry)], next: i + 1 };
  }
  if (k === "my" || k === "our") {
    const p = readPossessed(s, i);
    if (p === undefined) return undefined;
    if (k === "our") p.subject.penalty += 0.1;
    const j = p.next;
    if (p.subject.kin !== undefined && p.subject.attr === undefined) {
      const next = s.toks[j];
      // A capitalised word is a name even when it is also a word ("my dog Buddy", "my sister Hope")
      // …but not a nationality or a language ("my mum is German and my dad Scottish")
      const nameLike =
        next?.cap === true
          ? !functionWord(next.key) &&
            !verbsEn.exact.has(next.key) &&
            !nationalitiesEn.has(next.key) &&
            !languagesEn.has(next.key)
          : true;
      if (next !== undefined && next.kind === "word" && (next.cap ? nameLike : !knownWords.has(next.key))) {
        const lowerOk = !next.cap && (firstNames.has(next.key) || predicateStartsAt(s, j + 1));
        const name = readName(s, lexEn, j, lowerOk);
        if (name !== undefined && !places.has(fold(name.text)) && (next.cap || lowerOk)) {
          if (!p.subject.plural)
            return { subjects: [nameWithKin(s, p.subject, name.text, name.guessed)], next: name.end };
          const list = readNameList(s, lexEn, j, false);
          if (list.names.length > 1) {
            return {
              subjects: list.names.map((n) => nameWithKin(s, p.subject, n.text, false)),
              next: list.next,
            };
          }
        }
      }
    }
    return { subjects: [p.subject], next: j };
  }
  if (k === "his" || k === "her" || k === "their") {
    // "I have a sister. Her name is Marta."
    const topic = s.topic;
    const gender = k === "her" ? "f" : "m";
    const attrKey = key(s, i + 1);
    if (
      (attrKey === "name" || attrKey === "birthday") &&
      k !== "their" &&
      topic !== undefined &&
      !topic.plural
    ) {
      if (topic.gender !== undefined && topic.gender !== gender) return undefined;
      const of: Subject = { ...topic, penalty: topic.penalty + topicPenalty };
      const attr: Subject = {
        ...of,
        attr: { kind: attrKey === "name" ? "name" : "birthday", of, relation: "" },
      };
      return { subjects: [attr], next: i + 2 };
    }
    const kin = kinAt(s, i + 1);
    const name = kin ? readName(s, lexEn, kin.end, false) : undefined;
    if (kin !== undefined && name !== undefined)
      return { subjects: [nameSubject(name.text)], next: name.end };
    return undefined;
  }
  if (t.cap) {
    if (knownWords.has(k) && !firstNames.has(k)) return undefined;
    if (sentenceBlockersEn.has(k) || clauseBlockersEn.has(k)) return undefined;
    const name = readName(s, lexEn, i, false);
    if (name === undefined) return undefined;
    // "Lucía's birthday", "Pedro's dog"
    if (key(s, name.end) === "'s") {
      const owner = nameSubject(name.text);
      const attrKey = key(s, name.end + 1);
      if (attrKey === "name" || attrKey === "birthday") {
        return {
          subjects: [
            { ...owner, attr: { kind: attrKey === "name" ? "name" : "birthday", of: owner, relation: "" } },
          ],
          next: name.end + 2,
        };
      }
      const nested = kinAt(s, name.end + 1);
      if (nested !== undefined && !nested.entry.plural) {
        return {
          subjects: [possessedSubject(s, span(s, name.end + 1, nested.end), nested.entry, name.text)],
          next: nested.end,
        };
      }
    }
    if (places.has(fold(name.text))) return undefined;
    return { subjects: [nameSubject(name.text)], next: name.end };
  }
  if (clauseStart && firstNames.has(k) && predicateStartsAt(s, i + 1)) {
    return { subjects: [nameSubject(capitalizeWords(t.text), guessPenalty)], next: i + 1 };
  }
  return undefined;
}

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
    if (t.text === "," && only !== undefined && inner !== undefined) {
      // "Lucía, my sister, lives…" / "my sister, Lucía, lives…" / "my sister, who lives in…, is…"
      if (only.kind === "name" && inner.key === "my") {
        const p = readPossessed(s, j + 1);
        if (p?.subject.kin !== undefined && s.toks[p.next]?.text === ",") {
          nameWithKin(s, p.subject, only.display, false);
          j = p.next + 1;
          continue;
        }
      }
      if (only.kind === "kin" && inner.cap) {
        const name = readName(s, lexEn, j + 1, false);
        if (name !== undefined && s.toks[name.end]?.text === ",") {
          subjects[0] = nameWithKin(s, only, name.text, false);
          j = name.end + 1;
          continue;
        }
      }
      if ((inner.key === "who" || inner.key === "which") && only.kind !== "user") {
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
    if (t.key === "and" || (t.text === "," && inner !== undefined && !clauseStartsAt(s, j + 1))) {
      const next = readSubjectUnit(s, j + 1, false);
      // "my brother and his wife live…": someone we cannot name shares the verb; the rest still gets the fact
      const k1 = key(s, j + 1);
      if (
        next === undefined &&
        (k1 === "his" || k1 === "her" || k1 === "their") &&
        kinEn.has(key(s, j + 2))
      ) {
        for (let n = 0; n < subjects.length; n++) {
          const x = subjects[n];
          if (x !== undefined) subjects[n] = { ...x, plural: true };
        }
        j += 3;
        continue;
      }
      if (next === undefined) break;
      // "my cousin Liam and his wife Niamh": Niamh is Liam's wife
      const prev = subjects[subjects.length - 1];
      const named = next.subjects.length === 1 ? next.subjects[0] : undefined;
      const kinOfPrev = k1 === "his" || k1 === "her" || k1 === "their" ? kinEn.get(key(s, j + 2)) : undefined;
      if (kinOfPrev !== undefined && !kinOfPrev.plural && prev?.kind === "name" && named?.kind === "name")
        addFact(s, prev.display, kinOfPrev.relation, named.display, { penalty: named.penalty + 0.1 });
      // "me and my sister", "my sister and I"
      subjects.push(...next.subjects);
      j = next.next;
      continue;
    }
    break;
  }
  return { subjects, next: j };
}

// ---------------------------------------------------------------------------------------------------------
// Predicates

interface PredicateContext {
  subjects: Subject[] | undefined;
  inherited: Subject[] | undefined;
  first: boolean;
  when?: string | undefined;
  gap?: Gap | undefined;
}

interface Pred {
  relation: string;
  objects: ObjectPhrase[];
  negated?: boolean;
  subjects?: Subject[];
  untimed?: boolean;
  penalty?: number;
}

interface HandlerResult {
  preds: Pred[];
  next: number;
  when?: string;
  emitted?: boolean;
}

interface VerbState {
  lemma: string;
  form: VerbForm["person"];
  negated: boolean;
  formerly: boolean;
  /** Past simple or past perfect: the state may be over. */
  past: boolean;
  perfect: boolean;
  progressive: boolean;
  penalty: number;
}

type Handler = (s: SentenceState, i: number, v: VerbState, subjects: Subject[]) => HandlerResult | undefined;

function readPredicate(s: SentenceState, start: number, ctx: PredicateContext): ClauseResult {
  let i = start;
  let negated = false;
  let formerly = false;
  let past = false;
  let aux = false;
  let canNot = false;
  for (let guard = 0; guard < 8; guard++) {
    const k = key(s, i);
    if (k === "not" || k === "never") {
      negated = true;
      i++;
    } else if (k === "no" && key(s, i + 1) === "longer") {
      negated = true;
      i += 2;
    } else if (k === "do" || k === "does") {
      aux = true;
      i++;
    } else if (k === "did") {
      aux = true;
      past = true;
      i++;
    } else if (k === "used" && key(s, i + 1) === "to") {
      formerly = true;
      aux = true;
      i += 2;
    } else if ((k === "can" || k === "cannot") && (key(s, i + 1) === "not" || k === "cannot")) {
      canNot = true;
      negated = true;
      i += k === "cannot" ? 1 : 2;
    } else if (modals.has(k) || k === "would" || k === "'d" || k === "'ll") {
      return { ok: false, next: i };
    } else if (adverbsEn.has(k) && k !== "so" && k !== "here") {
      i++;
    } else break;
  }
  // "…and me here in Glasgow": the verb left out, with "here" before its preposition
  if (
    ctx.gap !== undefined &&
    ctx.subjects !== undefined &&
    (key(s, i) === "here" || key(s, i) === "there") &&
    gapPrepositions.has(key(s, i + 1))
  )
    i++;
  const subjects = resolveSubjects(s, ctx, i);
  if (subjects === undefined) return { ok: false, next: i };
  const gap = ctx.gap;
  // "…and very affectionate": another trait for the same subject
  const sameSubject =
    gap !== undefined &&
    ctx.subjects === undefined &&
    gap.v.lemma === "be" &&
    key(s, i - 1) === "and" &&
    verbAt(s, i) === undefined &&
    (intensifiers.has(key(s, i)) || adjectiveAt(s, i));
  // "I'm Dave, 38, living in Sheffield", "I'm Canadian, from Winnipeg": the speaker's copula carries over a comma
  if (
    gap !== undefined &&
    ctx.subjects === undefined &&
    gap.v.lemma === "be" &&
    !gap.v.negated &&
    !negated &&
    s.toks[i - 1]?.text === "," &&
    subjects.length === 1 &&
    subjects[0]?.kind === "user"
  ) {
    const carried = commaGap(s, i, gap.v, subjects);
    if (carried !== undefined) return carried;
  }
  // "my mum is German and my dad Scottish": a new subject, the same verb, another trait
  const newSubjectTrait =
    gap !== undefined &&
    ctx.subjects !== undefined &&
    gap.v.lemma === "be" &&
    verbAt(s, i) === undefined &&
    (nationalitiesEn.has(key(s, i)) || adjectiveAt(s, i)) &&
    (s.toks[i + 1] === undefined || s.toks[i + 1]?.kind === "punct" || coordinators.has(key(s, i + 1)));
  if (
    gap !== undefined &&
    (sameSubject || newSubjectTrait || (ctx.subjects !== undefined && gapPrepositions.has(key(s, i)))) &&
    !negated
  ) {
    // "My mom is from Spain and my dad from Italy": the verb is left out
    const gapped = gap.handler(s, i, gap.v, subjects);
    if (gapped === undefined || gapped.preds.length === 0) return { ok: false, next: i };
    const done = emitResult(s, gapped, subjects, { ...gap.v, penalty: gap.v.penalty + 0.1 }, ctx.when);
    // "my sister lives in Rome, my brother in Berlin and me in Glasgow": the verb carries on
    done.gap = gap;
    return done;
  }
  const v: VerbState = {
    lemma: "",
    form: "base",
    negated,
    formerly,
    past,
    perfect: false,
    progressive: false,
    penalty: 0,
  };
  const k = key(s, i);
  let result: HandlerResult | undefined;
  let j = i + 1;
  if (canNot) {
    const hit = verbAt(s, i);
    if (hit === undefined || (hit.form.lemma !== "stand" && hit.form.lemma !== "bear"))
      return { ok: false, next: i };
    const list = readObjectList(s, lexEn, skipAdverbs(s, i + 1), { kind: "activity" });
    if (list.objects.length === 0) return { ok: false, next: i };
    result = { preds: [{ relation: "dislikes", objects: list.objects, negated: false }], next: list.next };
  } else if (k === "'s" && isPossessiveS(s, i, subjects)) {
    return { ok: false, next: i };
  } else if (beForms.has(k) && !aux && !isHasPerfect(s, i)) {
    // "I'm living in…" / "she's working at…" / "I'm a nurse"
    j = skipNegation(s, i + 1, v);
    const ger = verbAt(s, j);
    if (ger !== undefined && ger.form.person === "ger" && ger.form.lemma !== "be") {
      v.lemma = ger.form.lemma;
      v.progressive = true;
      v.penalty += ger.typo ? typoPenalty : 0;
      result = handlers[v.lemma]?.(s, j + 1, v, subjects);
    } else {
      if (!agreesBe(k, subjects)) return { ok: false, next: i };
      v.lemma = "be";
      result = copula(s, j, v, subjects);
    }
  } else if ((k === "was" || k === "were") && !aux) {
    j = skipNegation(s, i + 1, v);
    if (key(s, j) === "born") {
      v.lemma = "bear";
      result = born(s, j + 1);
    } else if (key(s, j) === "from" || (key(s, j) === "originally" && key(s, j + 1) === "from")) {
      // Only origin survives the past tense: "my grandma was from Cuba"
      v.lemma = "be";
      result = copula(s, j, v, subjects);
    } else return { ok: false, next: i };
  } else if ((haveForms.has(k) || k === "'s") && !aux && isPerfectAt(s, i + 1)) {
    // "I've lived", "she has never worked", "I've been living", "I've been a nurse", "I've got a dog"
    j = skipNegation(s, i + 1, v);
    v.perfect = true;
    if (key(s, j) === "been") {
      const ger = verbAt(s, j + 1);
      if (ger !== undefined && ger.form.person === "ger") {
        v.lemma = ger.form.lemma;
        v.progressive = true;
        result = handlers[v.lemma]?.(s, j + 2, v, subjects);
      } else {
        v.lemma = "be";
        result = copula(s, j + 1, v, subjects);
      }
    } else if (key(s, j) === "got") {
      v.lemma = "have";
      result = having(s, j + 1, v, subjects);
    } else {
      const part = verbAt(s, j);
      if (part === undefined || (part.form.person !== "part" && part.form.person !== "past"))
        return { ok: false, next: i };
      v.lemma = part.form.lemma;
      v.penalty += part.typo ? typoPenalty : 0;
      result = handlers[v.lemma]?.(s, j + 1, v, subjects);
    }
  } else if (k === "had" && isPerfectAt(s, i + 1)) {
    return { ok: false, next: i };
  } else if (k === "got" && key(s, i + 1) === "married") {
    v.lemma = "marry";
    v.past = true;
    result = handlers.marry?.(s, i + 2, v, subjects);
  } else {
    const hit = verbAt(s, i);
    if (hit === undefined) return { ok: false, next: i };
    const p = hit.form.person;
    if (aux ? p !== "base" : !isFiniteForm(hit.form)) return { ok: false, next: i };
    if (!aux && !agrees(p, subjects)) return { ok: false, next: i };
    v.lemma = hit.form.lemma;
    v.form = p;
    v.past = past || p === "past";
    v.penalty += hit.typo ? typoPenalty : 0;
    result = handlers[v.lemma]?.(s, i + 1, v, subjects);
  }
  if (result === undefined) return { ok: false, next: j };
  if (result.preds.length === 0)
    return { ok: result.emitted === true, next: Math.max(j, result.next), subjects };
  const done = emitResult(s, result, subjects, v, ctx.when);
  const used = v.lemma === "be" ? copula : handlers[v.lemma];
  if (used !== undefined && !canNot) done.gap = { handler: used, v };
  return done;
}

const gapPrepositions = new Set(["in", "at", "from", "for", "as", "to"]);

/** After "I'm X,": an age ("38"), an origin ("from Cork"), a gerund ("living in Leeds") or "been at Arup". */
function commaGap(s: SentenceState, i: number, be: VerbState, subjects: Subject[]): ClauseResult | undefined {
  const v: VerbState = { ...be, penalty: be.penalty + 0.1 };
  const k = key(s, i);
  let result: HandlerResult | undefined;
  const ger = verbAt(s, i);
  const n = readNumber(s.toks, i, "en");
  if (ger !== undefined && ger.form.person === "ger" && ger.form.lemma !== "be") {
    v.lemma = ger.form.lemma;
    v.progressive = true;
    result = handlers[v.lemma]?.(s, i + 1, v, subjects);
  } else if (k === "been") {
    v.perfect = true;
    result = copula(s, i + 1, v, subjects);
  } else if (
    k === "from" ||
    (n !== undefined && (s.toks[n.end]?.kind === "punct" || n.end >= s.toks.length))
  ) {
    result = copula(s, i, v, subjects);
  }
  if (result === undefined || result.preds.length === 0) return undefined;
  const done = emitResult(s, result, subjects, v, undefined);
  done.gap = { handler: copula, v: be };
  return done;
}

/** Adds a predicate's facts with the clause's time and polarity; returns the subjects that carry on. */
function emitResult(
  s: SentenceState,
  result: HandlerResult,
  subjects: Subject[],
  v: VerbState,
  clauseWhen: string | undefined,
): ClauseResult {
  // "my phone doesn't work in Spain": a thing is described or had, it does not live or work
  const attributeOk = v.lemma === "be" || !subjects.some((x) => x.attr !== undefined);
  if (
    !attributeOk ||
    (subjects.some((x) => x.kind === "thing" && x.attr === undefined) &&
      v.lemma !== "be" &&
      v.lemma !== "have")
  ) {
    return { ok: false, next: result.next };
  }
  let next = result.next;
  let when = result.when ?? clauseWhen;
  const timeEnd = matchTime(s.toks, next, "en");
  if (timeEnd > 0) {
    when = when ?? span(s, next, timeEnd);
    next = timeEnd;
  }
  if (key(s, next) === "anymore" || (key(s, next) === "any" && key(s, next + 1) === "more")) next++;
  let after = subjects;
  for (const pred of result.preds) {
    const renamed = emitFacts(s, pred.subjects ?? subjects, pred.relation, pred.objects, {
      negated: pred.negated ?? (v.negated || v.formerly),
      penalty: v.penalty + (pred.penalty ?? 0),
      when: pred.untimed === true ? undefined : when,
    });
    if (renamed.length > 0) after = renamed;
  }
  noteTopic(s, after);
  return { ok: true, next, subjects: after };
}

function skipAdverbs(s: SentenceState, i: number): number {
  let j = i;
  while (adverbsEn.has(key(s, j)) && !adjectiveBeforeNoun(s, j) && j < i + 3) j++;
  return j;
}

/** Skips "not", "never", "no longer" and adverbs after an auxiliary, noting the negation. */
function skipNegation(s: SentenceState, i: number, v: VerbState): number {
  let j = i;
  for (let guard = 0; guard < 4; guard++) {
    const k = key(s, j);
    if (k === "not" || k === "never") {
      v.negated = true;
      j++;
    } else if (k === "no" && key(s, j + 1) === "longer") {
      v.negated = true;
      j += 2;
    } else if (
      adverbsEn.has(k) &&
      k !== "so" &&
      k !== "very" &&
      k !== "here" &&
      k !== "really" &&
      !adjectiveBeforeNoun(s, j)
    )
      j++;
    else break;
  }
  return j;
}

/** "Mary's Hospital", "Pedro's car": a possessive "'s", not "is". */
function isPossessiveS(s: SentenceState, i: number, subjects: readonly Subject[]): boolean {
  if (subjects.some((x) => x.attr !== undefined || x.kind === "user")) return false;
  const next = s.toks[i + 1];
  if (next === undefined || next.kind !== "word") return false;
  if (next.cap) return !nationalitiesEn.has(next.key) && !languagesEn.has(next.key);
  return kinEn.has(next.key) || possessionsEn.has(next.key) || next.key === "name" || next.key === "birthday";
}

/** "'s" before a participle is "has" ("she's lived"), otherwise "is". */
function isHasPerfect(s: SentenceState, i: number): boolean {
  return key(s, i) === "'s" && isPerfectAt(s, i + 1);
}

function isPerfectAt(s: SentenceState, i: number): boolean {
  let j = i;
  while ((adverbsEn.has(key(s, j)) || key(s, j) === "not" || key(s, j) === "never") && j < i + 3) j++;
  const k = key(s, j);
  if (k === "been" || k === "got") return true;
  const form = verbsEn.exact.get(k);
  return (
    form !== undefined &&
    (form.person === "part" || form.person === "past") &&
    !adjectivalParticiples.has(form.lemma)
  );
}

/** Participles read as adjectives after "be": "is called", "is named", "is married", "was born", "is used to". */
const adjectivalParticiples = new Set(["have", "use", "call", "name", "marry", "bear"]);

function agreesBe(be: string, subjects: readonly Subject[]): boolean {
  if (subjects.some((x) => x.attr !== undefined)) return be !== "am";
  const user = subjects.some((x) => x.kind === "user");
  const plural = subjects.length > 1 || subjects.some((x) => x.plural);
  if (be === "am") return user && !plural;
  if (be === "are") return plural;
  return !user && !plural;
}

function agrees(person: VerbForm["person"], subjects: readonly Subject[]): boolean {
  if (person === "past") return true;
  const user = subjects.some((x) => x.kind === "user");
  const plural = subjects.length > 1 || subjects.some((x) => x.plural);
  if (person === "3s") return !user && !plural;
  if (person === "base") return user || plural;
  return false;
}

function resolveSubjects(
  s: SentenceState,
  ctx: PredicateContext,
  verbAtIndex: number,
): Subject[] | undefined {
  if (ctx.subjects !== undefined) return ctx.subjects;
  const inherited = ctx.inherited;
  if (inherited === undefined) return undefined;
  // "…and work at Google": the verb must be finite for the inherited subject to carry on
  const k = key(s, verbAtIndex);
  if (k === "'s" || k === "'m" || k === "am") return undefined;
  return inherited;
}

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

// ---------------------------------------------------------------------------------------------------------
// Verb handlers

function objectOf(s: SentenceState, from: number, to: number): ObjectPhrase {
  return { text: span(s, from, to), start: from, end: to, long: false };
}

/**
 * "with my partner Sam", "with my partner, Sam,": a named relative one does something with. The kinship fact is
 * added here; the name is returned to share what the clause says (where one lives).
 */
function readCompanion(s: SentenceState, i: number): { named: Subject; end: number } | undefined {
  if (key(s, i) !== "with") return undefined;
  const p = readPossessed(s, i + 1);
  if (p?.subject.kin === undefined || p.subject.plural) return undefined;
  let j = p.next;
  const comma = s.toks[j]?.text === ",";
  if (comma) j++;
  if (s.toks[j]?.cap !== true) return undefined;
  const name = readName(s, lexEn, j, false);
  if (name === undefined || places.has(fold(name.text))) return undefined;
  let end = name.end;
  if (comma && s.toks[end]?.text === ",") end++;
  else if (comma && end < s.toks.length) return undefined;
  return { named: nameWithKin(s, p.subject, name.text, false), end };
}

/** Skips adverbs, "with my boyfriend" and times between a verb and its preposition. */
function skipAdjuncts(s: SentenceState, i: number): { next: number; when?: string; companions?: Subject[] } {
  let j = i;
  let when: string | undefined;
  const companions: Subject[] = [];
  for (let guard = 0; guard < 4; guard++) {
    const k = key(s, j);
    if (
      (adverbsEn.has(k) || k === "alone" || k === "together" || k === "full-time" || k === "part-time") &&
      !adjectiveBeforeNoun(s, j)
    ) {
      j++;
      continue;
    }
    const t = Math.max(matchTime(s.toks, j, "en"), matchDuration(s.toks, j, "en"));
    if (t > 0 && k !== "in" && k !== "at" && k !== "on") {
      when = when ?? span(s, j, t);
      j = t;
      continue;
    }
    if (k === "with") {
      const companion = readCompanion(s, j);
      if (companion !== undefined) {
        companions.push(companion.named);
        j = companion.end;
        continue;
      }
      const o = readObject(s, lexEn, j + 1, { kind: "place", possessive: true });
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

function prepositional(
  map: Record<string, string>,
  options: { direct?: string; needsPast?: boolean } = {},
): Handler {
  const stops: ReadonlySet<string> = new Set(Object.keys(map));
  return (s, i, v) => {
    if (options.needsPast === true && !v.past && !v.perfect) return undefined;
    const preds: Pred[] = [];
    let j = i;
    let when: string | undefined;
    const companions: Subject[] = [];
    for (let round = 0; round < 3; round++) {
      const skip = skipAdjuncts(s, j);
      j = skip.next;
      when = when ?? skip.when;
      companions.push(...(skip.companions ?? []));
      const k = key(s, j);
      const relation = map[k];
      if (relation === undefined) {
        if (round === 0 && options.direct !== undefined && !placeStops.has(k) && s.toks[j]?.kind === "word") {
          const list = readObjectList(s, lexEn, j, { kind: "thing", stopAt: stops });
          if (list.objects.length === 0) break;
          preds.push({ relation: options.direct, objects: list.objects });
          j = list.next;
          continue;
        }
        break;
      }
      const roleLike = relation === "works_as";
      const list = readObjectList(s, lexEn, j + 1, {
        kind: roleLike ? "thing" : "place",
        stopAt: stops,
      });
      if (list.objects.length === 0) break;
      const single = list.objects.length === 1 ? list.objects[0] : undefined;
      const wide = single !== undefined && !roleLike ? widenPlace(s, lexEn, single, list.next) : undefined;
      if (wide !== undefined) {
        list.objects = [wide.object];
        list.next = wide.next;
      }
      j = list.next;
      // "I live at home", "I work the night shift": not where
      const head = list.objects[0]?.start ?? j;
      const only = list.objects.length === 1 && list.objects[0]?.end === head + 1;
      // …but "a night nurse" is a job
      if ((notPlacesEn.has(key(s, head)) && (only || !roleLike)) || (only && s.toks[head]?.kind === "number"))
        continue;
      // "I live in a flat in Camden": one object per relation, the named place over the common noun
      const seen = preds.find((p) => p.relation === relation);
      const before = seen?.objects[0];
      if (seen === undefined) preds.push({ relation, objects: list.objects });
      else if (before !== undefined && s.toks[before.start]?.cap !== true && s.toks[head]?.cap === true) {
        seen.objects = list.objects;
      }
    }
    // "I live with my partner Sam in Hackney": who one lives with lives there too
    const home = preds.find((p) => p.relation === "lives_in");
    if (home !== undefined && companions.length > 0)
      preds.push({ relation: "lives_in", objects: home.objects, subjects: companions });
    return when === undefined ? { preds, next: j } : { preds, next: j, when };
  };
}

function direct(
  relation: string,
  options: { accept?: ReadonlySet<string>; kind?: "thing" | "activity" } = {},
): Handler {
  return (s, i) => {
    let j = skipAdverbs(s, i);
    if (relation === "likes" || relation === "dislikes") {
      if (key(s, j) === "to") j++;
      if (key(s, j) === "it" || key(s, j) === "that" || key(s, j) === "when") return undefined;
    }
    const t = s.toks[j];
    if (t === undefined || placeStops.has(t.key)) return undefined;
    const base = { kind: options.kind ?? "thing" } as const;
    const opts = options.accept === undefined ? base : { ...base, accept: options.accept };
    const list = readObjectList(s, lexEn, j, opts);
    if (list.objects.length === 0) return undefined;
    return { preds: [{ relation, objects: list.objects }], next: list.next };
  };
}

const likes = direct("likes", { kind: "activity" });
const dislikes = direct("dislikes", { kind: "activity" });

const handlers: Record<string, Handler | undefined> = {
  live: prepositional({ in: "lives_in", on: "lives_in", at: "lives_in" }),
  work: prepositional({ at: "works_at", for: "works_at", in: "works_at", as: "works_as" }),
  study: prepositional({ at: "studies_at", in: "studies_at" }, { direct: "studies" }),
  move: prepositional({ to: "moved_to" }, { needsPast: true }),
  come(s, i, v, subjects) {
    if (v.progressive) return undefined;
    return prepositional({ from: "from" })(s, i, v, subjects);
  },
  grow(s, i, v, subjects) {
    if (key(s, i) !== "up") return undefined;
    return prepositional({ in: "grew_up_in" })(s, i + 1, v, subjects);
  },
  travel: prepositional({ to: "travels_to" }),
  volunteer: prepositional({ at: "volunteers_at", for: "volunteers_at", in: "volunteers_at" }),
  go(s, i, v) {
    if (v.progressive || v.past || v.perfect) return undefined;
    // "I go climbing on Sundays": an activity one goes out to do
    const activity = s.toks[i];
    if (activity !== undefined && !activity.cap && /^[a-z]{3,}ing$/.test(activity.key) && !v.negated)
      return { preds: [{ relation: "practices", objects: [objectOf(s, i, i + 1)] }], next: i + 1 };
    if (key(s, i) !== "to") return undefined;
    const list = readObjectList(s, lexEn, i + 1, { kind: "place" });
    const head = list.objects[0];
    if (head === undefined || verbAt(s, head.start)?.form.person === "base") return undefined;
    return { preds: [{ relation: "goes_to", objects: list.objects }], next: list.next };
  },
  teach: prepositional({ at: "works_at" }, { direct: "teaches" }),
  speak: direct("speaks", { accept: languagesEn }),
  play(s, i, v, subjects) {
    if (key(s, i) === "with") return undefined;
    return direct("plays")(s, i, v, subjects);
  },
  drive: direct("drives"),
  use: direct("uses"),
  own: direct("has"),
  learn: direct("learns"),
  attend: direct("studies_at"),
  practice: direct("practices"),
  practise: direct("practices"),
  date(s, i) {
    const name = readName(s, lexEn, i, false);
    return name
      ? { preds: [{ relation: "partner", objects: [objectOf(s, i, name.end)] }], next: name.end }
      : undefined;
  },
  marry(s, i, v) {
    if (!v.past && !v.perfect) return undefined;
    const j = key(s, i) === "to" ? i + 1 : i;
    // "I got married last year": when, not to whom
    if (matchTime(s.toks, j, "en") > 0) return undefined;
    const name = readObject(s, lexEn, j, { kind: "place" });
    return name ? { preds: [{ relation: "married_to", objects: [name] }], next: name.end } : undefined;
  },
  like(s, i, v, subjects) {
    if (v.past && !v.negated && !v.perfect) return undefined;
    return likes(s, i, v, subjects);
  },
  love(s, i, v, subjects) {
    if (v.past && !v.negated && !v.perfect) return undefined;
    return likes(s, i, v, subjects);
  },
  enjoy: likes,
  adore: likes,
  hate: dislikes,
  detest: dislikes,
  dislike: dislikes,
  loathe: dislikes,
  despise: dislikes,
  have: having,
};

/** "was born in Paris (in 1990)", "born on May 3rd". */
function born(s: SentenceState, i: number): HandlerResult | undefined {
  const preds: Pred[] = [];
  let j = i;
  for (let round = 0; round < 2; round++) {
    const k = key(s, j);
    if (k !== "in" && k !== "on") break;
    let from = j + 1;
    if (key(s, from) === "the") from++;
    const date = matchDate(s.toks, from, "en");
    if (date > 0) {
      preds.push({ relation: "born_on", objects: [objectOf(s, from, date)], untimed: true });
      j = date;
      // "born on the 3rd of March, in Leicester"
      if (s.toks[j]?.text === "," && key(s, j + 1) === "in") j++;
      continue;
    }
    if (k !== "in") break;
    const place = readObject(s, lexEn, j + 1, { kind: "place" });
    if (place === undefined) break;
    preds.push({ relation: "born_in", objects: [place] });
    j = place.end;
    if (s.toks[j]?.text === "," && (key(s, j + 1) === "in" || key(s, j + 1) === "on")) j++;
  }
  return preds.length > 0 ? { preds, next: j } : undefined;
}

const appointmentWords = new Set([
  "appointment",
  "appt",
  "meeting",
  "interview",
  "consultation",
  "checkup",
  "check-up",
]);

/**
 * Events one has, named by the event itself: "a job interview", "a driving test", "knee surgery", "a car
 * service". Unlike "a dentist appointment" (the dentist is what matters), the whole phrase is the object.
 */
const eventWordsEn = new Set(["interview", "test", "exam", "surgery", "operation", "service", "flight"]);

/** "a driving test", "knee surgery", "an interview" at `i`: up to two modifiers and the event noun. */
function readEventEn(s: SentenceState, i: number): { object: ObjectPhrase; end: number } | undefined {
  let k = i;
  if (key(s, k) === "a" || key(s, k) === "an" || key(s, k) === "my") k++;
  for (let m = k; m < k + 3 && m < s.toks.length; m++) {
    if (eventWordsEn.has(key(s, m))) {
      let end = m + 1;
      // "booked", "scheduled", "coming up": how it is had, not what
      if (["booked", "scheduled", "planned", "arranged"].includes(key(s, end))) end++;
      return { object: objectOf(s, k, m + 1), end };
    }
    const t = s.toks[m];
    if (t === undefined || t.kind !== "word" || t.cap || functionWord(t.key)) break;
  }
  return undefined;
}

function having(s: SentenceState, i: number, v: VerbState, subjects: Subject[]): HandlerResult | undefined {
  if (v.past && !v.perfect) return undefined;
  let j = skipAdverbs(s, i);
  if (key(s, j) === "got") j++;
  if (key(s, j) === "to") return undefined;
  const event = readEventEn(s, j);
  // "an interview with Google": who it is with is the object, below
  if (event !== undefined && !v.negated && key(s, event.end) !== "with")
    return { preds: [{ relation: "appointment", objects: [event.object] }], next: event.end };
  // Appointments: "an appointment with the dentist", "a dentist appointment", "a doctor's appointment"
  let k = j;
  if (key(s, k) === "a" || key(s, k) === "an") k++;
  let modifierStart = -1;
  for (let m = k; m < k + 4 && m < s.toks.length; m++) {
    if (appointmentWords.has(key(s, m))) {
      if (m > k) modifierStart = k;
      let after = m + 1;
      const pre = matchTime(s.toks, after, "en");
      let when: string | undefined;
      if (pre > 0) {
        when = span(s, after, pre);
        after = pre;
      }
      let objects: ObjectPhrase[] = [];
      let next = after;
      if (key(s, after) === "with" || key(s, after) === "at") {
        const list = readObjectList(s, lexEn, after + 1, { kind: "place", possessive: true });
        objects = list.objects;
        next = list.next;
      }
      if (objects.length === 0 && modifierStart >= 0) {
        let end = m;
        if (key(s, end - 1) === "'s") end--;
        objects = [objectOf(s, modifierStart, end)];
      }
      if (objects.length === 0) return undefined;
      const pred: Pred = { relation: "appointment", objects };
      return when === undefined ? { preds: [pred], next } : { preds: [pred], next, when };
    }
    if (s.toks[m]?.kind !== "word") break;
  }
  // Allergies: "an allergy to nuts", "allergies to X", "a peanut allergy"
  for (let m = k; m < k + 3; m++) {
    const a = key(s, m);
    if (a === "allergy" || a === "allergies") {
      if (key(s, m + 1) === "to") {
        const list = readObjectList(s, lexEn, m + 2, { kind: "thing" });
        return list.objects.length > 0
          ? { preds: [{ relation: "allergic_to", objects: list.objects }], next: list.next }
          : undefined;
      }
      if (m > k) return { preds: [{ relation: "allergic_to", objects: [objectOf(s, k, m)] }], next: m + 1 };
      return undefined;
    }
  }
  if (key(s, j) === "no") {
    // "I have no kids"
    v.negated = true;
    j++;
  }
  // Relatives, pets and possessions, one or several: "a dog and two cats"
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
    // "two guinea pigs, Salt and Vinegar, and a budgie named Kiwi": a list of names can be followed by more
    if (item.final === true && item.kin?.named !== true) break;
    let sep = at;
    if (s.toks[sep]?.text === ",") sep++;
    if (key(s, sep) === "and") sep++;
    if (sep === at || clauseStartsAt(s, sep) || !ownedStartsAt(s, sep)) break;
    at = sep;
  }
  const shared = respectiveNames(items);
  if (shared !== undefined) return { preds: shared, next: at, emitted };
  if (preds.length === 0 && !emitted) return undefined;
  return { preds, next: at, emitted };
}

/** A lowercase word that can describe a noun: not a function word, verb, relative or time. */
function adjectiveAt(s: SentenceState, i: number): boolean {
  const t = s.toks[i];
  if (t === undefined || t.kind !== "word" || t.cap) return false;
  const k = t.key;
  if (functionWord(k) || objectStopWordsEn.has(k) || kinEn.has(k) || verbsEn.exact.has(k)) return false;
  return k.length > 2 && matchTime(s.toks, i, "en") < 0;
}

/** What a second thing after "I have … and" starts with: an article, a number, a relative or a possession. */
function ownedStartsAt(s: SentenceState, i: number): boolean {
  const k = key(s, i);
  if (k === "a" || k === "an") return true;
  return readNumber(s.toks, i, "en") !== undefined || kinEn.has(k) || possessionsEn.has(k);
}

interface OwnedItem extends HandlerResult {
  /** A name or a relative clause took the rest of the clause. */
  final?: boolean;
  /** A relative or pet: how many ("dos perros" → 2) and what relation, for names given to several at once. */
  kin?: { relation: string; count: number; named: boolean };
}

/**
 * One thing after "I have": a relative or pet, named ("a sister named Lucy", "a dog called Toby", "two kids,
 * Ana and Luis"), described ("a sister who lives in Rome") or just had ("two kids"); or a possession ("a red
 * car", "a Tesla").
 */
function readOwned(s: SentenceState, j: number, v: VerbState, subjects: Subject[]): OwnedItem | undefined {
  let m = j;
  const det = key(s, m);
  const counted = readNumber(s.toks, m, "en");
  const indefinite = det === "a" || det === "an";
  if (indefinite) m++;
  else if (counted !== undefined) m = counted.end;
  const described = m;
  while (kinPreAdjectivesEn.has(key(s, m)) && m < j + 4) m++;
  // "a black cat named Shadow": adjectives before the noun
  for (let a = m; a < m + 2; a++) {
    if (!adjectiveAt(s, a)) break;
    if (kinAt(s, a + 1) !== undefined) {
      m = a + 1;
      break;
    }
  }
  const kin = kinAt(s, m);
  if (kin !== undefined) {
    // "mi mujer y yo tenemos dos hijos": several owners have; only one can name or describe
    if (!subjects.every((x) => x.kind === "user" || x.kind === "name" || x.kind === "kin")) return undefined;
    const owner = subjects.length === 1 ? subjects[0] : undefined;
    const nounEnd = kin.end;
    const kinSubject = possessedSubject(s, span(s, described, nounEnd), kin.entry, owner?.display ?? s.user);
    let nameAt = -1;
    const a = key(s, nounEnd);
    const sep = s.toks[nounEnd]?.text;
    if (a === "named" || a === "called") nameAt = nounEnd + 1;
    else if (a === "whose" && key(s, nounEnd + 1) === "name" && key(s, nounEnd + 2) === "is")
      nameAt = nounEnd + 3;
    else if ((sep === "," || sep === ":" || sep === "-" || sep === "—") && s.toks[nounEnd + 1]?.cap === true)
      nameAt = nounEnd + 1;
    else if (s.toks[nounEnd]?.cap === true) nameAt = nounEnd;
    if (nameAt > 0 && !v.negated && owner !== undefined) {
      const names = readNameList(s, lexEn, nameAt, true);
      if (names.names.length > 0) {
        const pred: Pred = { relation: kin.entry.relation, objects: names.names, untimed: true };
        const named = names.names.map((n) => nameSubject(n.text, 0, kin.entry.gender));
        if (named.length === 1 && named[0] !== undefined) s.topic = named[0];
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
    if ((a === "who" || a === "that") && !v.negated && !kin.entry.plural && owner !== undefined) {
      const rel = relativeTail(s, nounEnd, [kinSubject]);
      if (rel !== undefined) return { ...rel, final: true };
    }
    const text = indefinite ? span(s, described, nounEnd) : span(s, j, nounEnd);
    // "I have a sister. Her name is Marta.": she is who the next sentence is about
    if (indefinite && !kin.entry.plural && owner?.kind === "user" && !v.negated) {
      s.topic = { ...kinSubject, introducedBy: text };
    }
    return {
      preds: [{ relation: "has", objects: [{ text, start: j, end: nounEnd, long: false }] }],
      next: nounEnd,
      kin: { relation: kin.entry.relation, count: indefinite ? 1 : (counted?.value ?? 1), named: false },
    };
  }
  // Possessions: "a red car", "two bikes", "a Tesla"
  const object = readObject(s, lexEn, j, { kind: "thing" });
  if (object === undefined) return undefined;
  let owned = s.toks[object.start]?.cap === true && indefinite;
  for (let n = object.start; n < object.end; n++) {
    if (possessionsEn.has(key(s, n)) || possessionsEn.has(key(s, n).replace(/s$/, ""))) owned = true;
  }
  if (!owned) return undefined;
  return { preds: [{ relation: "has", objects: [object] }], next: object.end };
}

function relativeTail(s: SentenceState, i: number, subjects: Subject[]): HandlerResult | undefined {
  if (key(s, i) !== "who" && key(s, i) !== "that") return undefined;
  const before = s.facts.length;
  const r = readPredicate(s, i + 1, { subjects, inherited: undefined, first: false });
  if (!r.ok || s.facts.length === before) return undefined;
  return { preds: [], next: r.next, emitted: true };
}

const intensifiers = new Set([
  "so",
  "very",
  "really",
  "too",
  "pretty",
  "quite",
  "super",
  "extremely",
  "kinda",
  "bit",
]);
const copulaSkip = new Set(["also", "still", "currently", "now", "actually", "originally", "just"]);
const ageWords = new Set(["years", "year", "yrs", "yo", "y/o"]);

/** "be": names, origin, age, jobs and traits, kinship, favourites, allergies, marriage. */
function copula(s: SentenceState, i: number, v: VerbState, subjects: Subject[]): HandlerResult | undefined {
  let j = i;
  while (copulaSkip.has(key(s, j)) && j < i + 3) j++;
  j = skipNegation(s, j, v);
  const t = s.toks[j];
  if (t === undefined) return undefined;
  const k = t.key;
  const only = subjects.length === 1 ? subjects[0] : undefined;
  if (only?.attr !== undefined) {
    const attr = only.attr;
    if (attr.kind === "birthday") {
      let from = j;
      if (key(s, from) === "on" || key(s, from) === "in") from++;
      if (key(s, from) === "the") from++;
      const date = matchDate(s.toks, from, "en");
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
      const name = readName(s, lexEn, j, true);
      if (name === undefined) return undefined;
      const object: ObjectPhrase = { text: name.text, start: j, end: name.end, long: false };
      const relation = attr.kind === "name" ? "name" : attr.relation;
      return {
        preds: [{ relation, objects: [object], subjects: [attr.of], untimed: true }],
        next: name.end,
      };
    }
    const list = readObjectList(s, lexEn, j, { kind: "thing" });
    if (list.objects.length === 0) return undefined;
    return {
      preds: [{ relation: attr.relation, objects: list.objects, subjects: [attr.of] }],
      next: list.next,
    };
  }
  if (k === "from") {
    const list = readObjectList(s, lexEn, j + 1, { kind: "place" });
    const first = list.objects.length === 1 ? list.objects[0] : undefined;
    const wide = first === undefined ? undefined : widenPlace(s, lexEn, first, list.next);
    if (wide !== undefined) return { preds: [{ relation: "from", objects: [wide.object] }], next: wide.next };
    return list.objects.length > 0
      ? { preds: [{ relation: "from", objects: list.objects }], next: list.next }
      : undefined;
  }
  // "been at Arup since 2016", "I'm still at the bank": a workplace; "I've been in Dublin for ten years": a home. "I'm at the gym right now", "I'm in Rome this week" say where one is, not where one works.
  if (
    (k === "at" || k === "in") &&
    only !== undefined &&
    only.kind !== "thing" &&
    !transientAfter(s, j + 1)
  ) {
    const place = readObjectList(s, lexEn, j + 1, { kind: "place" });
    const head = place.objects[0];
    if (head !== undefined && !notPlacesEn.has(fold(head.text))) {
      // "I'm at Starbucks" alone says where one is: only a lasting stay is a workplace
      const lasting = v.perfect || key(s, j - 1) === "still";
      if (k === "at" && lasting)
        return { preds: [{ relation: "works_at", objects: place.objects }], next: place.next };
      if (k === "in" && v.perfect && matchTime(s.toks, place.next, "en") > 0)
        return { preds: [{ relation: "lives_in", objects: place.objects }], next: place.next };
    }
  }
  // "I adore cats but I'm allergic to them": allergic to what was just named
  const pronoun = key(s, j + 2);
  if (
    (k === "allergic" || k === "intolerant") &&
    key(s, j + 1) === "to" &&
    (pronoun === "them" || pronoun === "it") &&
    only !== undefined
  ) {
    const said = lastThingOf(s, only.display);
    const relation = k === "allergic" ? "allergic_to" : "intolerant_to";
    return said === undefined ? undefined : { preds: [{ relation, objects: [said] }], next: j + 3 };
  }
  if ((k === "allergic" || k === "intolerant") && key(s, j + 1) === "to") {
    const list = readObjectList(s, lexEn, j + 2, { kind: "thing" });
    const relation = k === "allergic" ? "allergic_to" : "intolerant_to";
    return list.objects.length > 0
      ? { preds: [{ relation, objects: list.objects }], next: list.next }
      : undefined;
  }
  if ((k === "married" || k === "engaged") && key(s, j + 1) === "to") {
    const name = readObject(s, lexEn, j + 2, { kind: "thing" });
    if (name === undefined) return undefined;
    return {
      preds: [{ relation: k === "married" ? "married_to" : "partner", objects: [name] }],
      next: name.end,
    };
  }
  if (
    k === "married" ||
    k === "single" ||
    k === "divorced" ||
    k === "widowed" ||
    k === "engaged" ||
    k === "retired" ||
    k === "pregnant"
  ) {
    return { preds: [{ relation: "is", objects: [objectOf(s, j, j + 1)] }], next: j + 1 };
  }
  if (k === "called" || k === "named") {
    if (only === undefined || (only.kind !== "user" && only.kind !== "kin")) return undefined;
    const names = readNameList(s, lexEn, j + 1, true);
    if (names.names.length === 0) return undefined;
    return {
      preds: [{ relation: "name", objects: names.names.slice(0, only.plural ? 8 : 1), untimed: true }],
      next: names.next,
    };
  }
  // Likes: "into jazz", "a big fan of X", "fond of X", "crazy about X"
  {
    let m = j;
    if (k === "a" || k === "an" || k === "the") m++;
    while (["big", "huge", "great", "massive", "real", "total"].includes(key(s, m))) m++;
    const likeAt =
      k === "into"
        ? j + 1
        : key(s, m) === "fan" && key(s, m + 1) === "of"
          ? m + 2
          : k === "fond" && key(s, j + 1) === "of"
            ? j + 2
            : k === "crazy" && key(s, j + 1) === "about"
              ? j + 2
              : -1;
    if (likeAt > 0) {
      const list = readObjectList(s, lexEn, likeAt, { kind: "activity" });
      return list.objects.length > 0
        ? { preds: [{ relation: "likes", objects: list.objects }], next: list.next }
        : undefined;
    }
  }
  // "Lucía is my sister", "Blue is my favorite color"
  if (k === "my") {
    // "Ana and Luis are my siblings"
    if (subjects.length > 1 && subjects.every((x) => x.kind === "name")) {
      const p = readPossessed(s, j);
      if (p?.subject.kin === undefined || !p.subject.plural) return undefined;
      return {
        preds: [
          {
            relation: p.subject.kin.relation,
            objects: subjects.map(subjectAsObject),
            subjects: [userSubject(s)],
            untimed: true,
          },
        ],
        next: p.next,
      };
    }
    if (only === undefined || only.kind !== "name") return undefined;
    if (favoriteWordsEn.has(key(s, j + 1))) {
      const thing = favoriteThingsEn.get(key(s, j + 2));
      if (thing === undefined) return undefined;
      return {
        preds: [
          { relation: `favorite_${thing}`, objects: [subjectAsObject(only)], subjects: [userSubject(s)] },
        ],
        next: j + 3,
      };
    }
    const p = readPossessed(s, j);
    if (p?.subject.kin === undefined) return undefined;
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
  // Age: "I'm 34", "I am 34 years old", "my son is five"
  const n = readNumber(s.toks, j, "en");
  const ages = n === undefined ? undefined : respectiveAges(s, j, "en", subjects);
  if (ages !== undefined) return ages;
  if (n !== undefined && k !== "a" && k !== "an" && k !== "one") {
    let end = n.end;
    if (ageWords.has(key(s, end))) {
      end++;
      if (key(s, end) === "old") end++;
    } else if (key(s, end) === "year-old" || key(s, end) === "years-old") end++;
    else if (
      s.toks[end] !== undefined &&
      s.toks[end]?.kind !== "punct" &&
      key(s, end) !== "and" &&
      key(s, end) !== "but"
    ) {
      return undefined;
    }
    if (only === undefined || only.kind === "thing") return undefined;
    return {
      preds: [
        {
          relation: "age",
          objects: [{ text: String(n.value), start: j, end: n.end, long: false }],
          untimed: true,
        },
      ],
      next: end,
    };
  }
  // "I'm Ana", "my boss is Pedro"
  if (t.cap && !nationalitiesEn.has(k) && !languagesEn.has(k) && !knownWords.has(k)) {
    if (only === undefined || (only.kind !== "user" && only.kind !== "kin")) return undefined;
    // "my kids are Emma and Jack"
    if (only.kind === "kin" && only.plural) {
      const list = readNameList(s, lexEn, j, false);
      return list.names.length > 0
        ? { preds: [{ relation: "name", objects: list.names, untimed: true }], next: list.next }
        : undefined;
    }
    const name = readName(s, lexEn, j, false);
    // "I'm John's sister": a possessive, not a name; the kinship seen from the speaker
    if (name !== undefined && key(s, name.end) === "'s") {
      const kin = kinAt(s, name.end + 1);
      const inverse = kin === undefined || kin.entry.plural ? undefined : inverseKin(kin.entry.relation);
      if (only.kind !== "user" || inverse === undefined) return undefined;
      return {
        preds: [{ relation: inverse, objects: [objectOf(s, j, name.end)], untimed: true }],
        next: name.end + 2,
      };
    }
    if (name === undefined) return undefined;
    if (only.kind === "user" && verbAt(s, name.end) !== undefined) return undefined;
    return {
      preds: [{ relation: "name", objects: [objectOf(s, j, name.end)], untimed: true }],
      next: name.end,
    };
  }
  if (
    only?.kind === "user" &&
    firstNames.has(k) &&
    (s.toks[j + 1] === undefined || s.toks[j + 1]?.kind === "punct")
  ) {
    return {
      preds: [
        { relation: "name", objects: [{ text: capitalizeWords(t.text), start: j, end: j + 1, long: false }] },
      ],
      next: j + 1,
    };
  }
  if (subjects.some((x) => x.kind === "name" && places.has(fold(x.display)))) return undefined;
  // A job or a trait: "a nurse", "vegetarian", "very tall", "the manager"; not "a bit tired"
  if (k === "a" && (key(s, j + 1) === "bit" || key(s, j + 1) === "little")) return undefined;
  let m = j;
  let article = false;
  if (k === "a" || k === "an" || k === "the") {
    m++;
    article = true;
  }
  const head = s.toks[m];
  if (head === undefined || head.kind !== "word") return undefined;
  if (!article && (transientStatesEn.has(head.key) || verbAt(s, m)?.form.person === "ger")) return undefined;
  if (!article && intensifiers.has(head.key)) {
    // "so tired", "pretty busy", "a bit sick"
    if (transientStatesEn.has(key(s, m + 1)) || intensifiers.has(key(s, m + 1))) return undefined;
  }
  if (vagueObjectsEn.has(head.low) || placeStops.has(head.key) || (head.key.endsWith("ing") && !article))
    return undefined;
  for (let n2 = m; n2 < s.toks.length; n2++) {
    const w = key(s, n2);
    if (
      w === "today" ||
      w === "tonight" ||
      w === "now" ||
      w === "right" ||
      (w === "at" && key(s, n2 + 1) === "the" && key(s, n2 + 2) === "moment")
    ) {
      if (!article) return undefined;
    }
  }
  // "a huge Lakers fan", "a big fan of jazz" (above): a liking
  for (let f = m; f < m + 5 && f < s.toks.length; f++) {
    if (key(s, f) !== "fan" && key(s, f) !== "fans") continue;
    let from = m;
    while (["big", "huge", "great", "massive", "real", "total", "die-hard", "diehard"].includes(key(s, from)))
      from++;
    if (f > from && key(s, f + 1) !== "of") {
      return { preds: [{ relation: "likes", objects: [objectOf(s, from, f)] }], next: f + 1 };
    }
  }
  const list = readObjectList(s, lexEn, j, { kind: "thing" });
  if (list.objects.length === 0) return undefined;
  // "taller than me": a comparison, not a trait
  if (key(s, list.next) === "than") return undefined;
  // "I'm the mother of two", "she's Tom's sister": kinship of someone else, not a trait
  for (const o of list.objects)
    if (familyRelations.has(kinEn.get(key(s, o.start))?.relation ?? "")) return undefined;
  const preds: Pred[] = [{ relation: "is", objects: list.objects }];
  let next = list.next;
  // "a nurse at the hospital", "a student at Oxford"
  if (
    (key(s, next) === "at" || key(s, next) === "for") &&
    list.objects.length === 1 &&
    article &&
    matchTime(s.toks, next, "en") < 0
  ) {
    const place = readObjectList(s, lexEn, next + 1, { kind: "place" });
    if (place.objects.length > 0) {
      const student = /\bstudent$/i.test(list.objects[0]?.text ?? "");
      preds.push({ relation: student ? "studies_at" : "works_at", objects: place.objects });
      next = place.next;
    }
  }
  return { preds, next };
}

/** "right now", "today", "this week", "at the moment" in the rest of the clause: a passing state. */
function transientAfter(s: SentenceState, i: number): boolean {
  for (let n = i; n < s.toks.length && s.toks[n]?.text !== ","; n++) {
    const w = key(s, n);
    if (w === "today" || w === "tonight" || w === "now" || w === "moment" || w === "tomorrow") return true;
    if (w === "this" && ["week", "weekend", "morning", "afternoon", "evening"].includes(key(s, n + 1)))
      return true;
  }
  return false;
}

/** "Blue is my…": a common word capitalised only because it opens the sentence is written lowercase. */
function sentenceCase(s: SentenceState, object: ObjectPhrase): string {
  const first = s.toks[object.start];
  if (object.start !== 0 || first === undefined || !knownWords.has(first.key)) return object.text;
  return object.text.charAt(0).toLowerCase() + object.text.slice(1);
}

function subjectAsObject(subject: Subject): ObjectPhrase {
  return { text: subject.display, start: 0, end: 0, long: false };
}

/** "This is my sister Lucy" → `(user, sister, Lucy)`. */
function readIntroduction(s: SentenceState, i: number): number | undefined {
  const k = key(s, i);
  let at = -1;
  if ((k === "this" || k === "here") && key(s, i + 1) === "is") at = i + 2;
  else if (k === "meet") at = i + 1;
  if (at < 0 || key(s, at) !== "my") return undefined;
  const p = readPossessed(s, at);
  if (p?.subject.kin === undefined) return undefined;
  const name = readName(s, lexEn, p.next, false);
  if (name === undefined) return undefined;
  s.topic = nameWithKin(s, p.subject, name.text, false);
  return name.end;
}

/** "Blue is my favorite color" → `(user, favorite_color, blue)`. */
function readReversedFavorite(s: SentenceState, i: number): number | undefined {
  for (let e = i + 1; e < Math.min(s.toks.length, i + 7); e++) {
    const k = key(s, e);
    if (s.toks[e]?.kind === "punct") return undefined;
    if (k !== "is" && k !== "are" && k !== "'s") continue;
    if (key(s, e + 1) !== "my" || !favoriteWordsEn.has(key(s, e + 2))) return undefined;
    const thing = favoriteThingsEn.get(key(s, e + 3));
    if (thing === undefined) return undefined;
    const object = readObject(s, lexEn, i, { kind: "thing", stopAt: copulaStops });
    if (object === undefined || object.end !== e) return undefined;
    addFact(s, s.user, `favorite_${thing}`, sentenceCase(s, object), {});
    return e + 4;
  }
  return undefined;
}
