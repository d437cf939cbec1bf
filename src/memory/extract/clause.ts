/**
 * What the Spanish and English rules share: who a clause is about, the sentence being read, and how a
 * predicate becomes facts.
 */
import type { KinEntry } from "./lexicon.js";
import type { Token } from "./tokens.js";
import type { ExtractedFact, Language } from "../types.js";

/** Who a clause is about. */
export interface Subject {
  /** As written in a fact: "usuario", "hermana de usuario", "user's sister", "Lucía". */
  display: string;
  kind: "user" | "name" | "kin" | "thing";
  /** For a relative or pet of the speaker: how they are related ("sister", "dog"). */
  kin?: KinEntry;
  /** Whose relative or pet: "usuario", or "hermana de usuario" for "el perro de mi hermana". */
  owner?: string;
  /**
   * "mi nombre", "my sister's birthday", "mi color favorito": an attribute of another subject, whose value
   * the copula gives ("mi nombre es Ana" → `(usuario, name, Ana)`).
   */
  attr?: { kind: "name" | "birthday" | "favorite" | "value"; of: Subject; relation: string };
  /**
   * "Tengo una hermana." gave `(usuario, has, hermana)`; when a later "Se llama Marta" names her, that fact
   * says less than the name and is taken back.
   */
  introducedBy?: string;
  plural: boolean;
  gender?: "f" | "m";
  /** Confidence taken off facts about this subject: it was inferred, or its name was guessed. */
  penalty: number;
}

/** An object as read from the text. */
export interface ObjectPhrase {
  text: string;
  /** Index of the first token of the object, articles excluded. */
  start: number;
  /** Index after the last token. */
  end: number;
  /** More than four words: a long, possibly vague object. */
  long: boolean;
}

/** One sentence being read. */
export interface SentenceState {
  text: string;
  toks: Token[];
  lang: Language;
  /** The speaker's subject in this language: "usuario" or "user". */
  user: string;
  facts: ExtractedFact[];
  /** The third person last talked about, from this or an earlier sentence ("ella", "she"). */
  topic?: Subject;
  /** The people last named together ("Hugo y Martina", "Noah and Ava"), for "they" / a plural verb. */
  group?: Subject[];
  /** Confidence taken off every fact of the sentence (a typo in a trigger word, a hedge). */
  penalty: number;
  /** Index in `facts` of this sentence's first fact. */
  firstFact?: number;
}

/**
 * "me encantan los gatos pero soy alérgico", "I adore cats but I'm allergic to them": the thing `subject` was
 * last said to like or dislike in this sentence, for an object left out or said as a pronoun.
 */
export function lastThingOf(s: SentenceState, subject: string): ObjectPhrase | undefined {
  for (let n = s.facts.length - 1; n >= (s.firstFact ?? 0); n--) {
    const f = s.facts[n];
    if (f === undefined || f.subject !== subject || f.negated) continue;
    if (f.relation === "likes" || f.relation === "dislikes")
      return { text: f.object, start: 0, end: 0, long: false };
  }
  return undefined;
}

/** Base confidence of a direct pattern with an explicit subject (CONVENTIONS.md). */
export const directConfidence = 0.9;
const minConfidence = 0.6;

/** The speaker as a subject. */
export function userSubject(s: SentenceState, penalty = 0): Subject {
  return { display: s.user, kind: "user", plural: false, penalty };
}

/** A named person, pet or place as a subject. */
export function nameSubject(display: string, penalty = 0, gender?: "f" | "m"): Subject {
  const subject: Subject = { display, kind: "name", plural: false, penalty };
  if (gender !== undefined) subject.gender = gender;
  return subject;
}

/** "hermana de usuario" / "user's sister": an unnamed relative, pet or thing of the speaker. */
export function possessedSubject(
  s: SentenceState,
  noun: string,
  kin: KinEntry | undefined,
  owner: string = s.user,
): Subject {
  const display = s.lang === "es" ? `${noun} de ${owner}` : `${owner}'s ${noun}`;
  const subject: Subject = {
    display,
    kind: kin ? "kin" : "thing",
    plural: kin?.plural ?? false,
    penalty: 0,
    owner,
  };
  if (kin !== undefined) subject.kin = kin;
  if (kin?.gender !== undefined) subject.gender = kin.gender;
  return subject;
}

/** Adds one fact, unless the same (subject, relation, object, polarity) is already there. */
export function addFact(
  s: SentenceState,
  subject: string,
  relation: string,
  object: string,
  options: { negated?: boolean; penalty?: number; when?: string | undefined; long?: boolean },
): ExtractedFact | undefined {
  const cleanObject = object.replace(/\s+/g, " ").trim();
  const cleanSubject = subject.replace(/\s+/g, " ").trim();
  if (cleanObject.length === 0 || cleanSubject.length === 0 || cleanObject.length > 120) return undefined;
  const negated = options.negated ?? false;
  for (const f of s.facts) {
    if (
      f.subject === cleanSubject &&
      f.relation === relation &&
      f.object === cleanObject &&
      f.negated === negated
    ) {
      return undefined;
    }
  }
  const penalty = (options.penalty ?? 0) + s.penalty + (options.long === true ? 0.1 : 0);
  const confidence = Math.round(Math.max(minConfidence, directConfidence - penalty) * 100) / 100;
  const fact: ExtractedFact = { subject: cleanSubject, relation, object: cleanObject, confidence, negated };
  if (options.when !== undefined && options.when.length > 0) fact.when = options.when;
  s.facts.push(fact);
  return fact;
}

/**
 * Facts of one predicate for each subject. `name` gives a subject its name: the speaker's own (`name`), or a
 * relative's, which becomes `(speaker, sister, Lucía)`; the subjects then become the names, which is what
 * this returns for the clauses that follow.
 */
export function emitFacts(
  s: SentenceState,
  subjects: readonly Subject[],
  relation: string,
  objects: readonly ObjectPhrase[],
  options: { negated?: boolean; penalty?: number; when?: string | undefined },
): Subject[] {
  const renamed: Subject[] = [];
  for (const subject of subjects) {
    for (const object of objects) {
      const penalty = (options.penalty ?? 0) + subject.penalty;
      const base = { negated: options.negated ?? false, penalty, when: options.when, long: object.long };
      if (relation === "name") {
        if (subject.kind === "user") {
          addFact(s, s.user, "name", object.text, base);
        } else if (subject.kind === "kin" && subject.kin !== undefined) {
          if (subject.introducedBy !== undefined)
            withdrawFact(s, subject.owner ?? s.user, "has", subject.introducedBy);
          addFact(s, subject.owner ?? s.user, subject.kin.relation, object.text, base);
          if (!options.negated) renamed.push(nameSubject(object.text, subject.penalty, subject.gender));
        }
        continue;
      }
      addFact(s, subject.display, relation, object.text, base);
    }
  }
  return renamed;
}

/** Removes a fact added earlier in the same text, if it is there. */
function withdrawFact(s: SentenceState, subject: string, relation: string, object: string): void {
  const at = s.facts.findIndex(
    (f) => f.subject === subject && f.relation === relation && f.object === object,
  );
  if (at >= 0) s.facts.splice(at, 1);
}

/**
 * The kinship seen from the other side, for "soy la hermana de Javier" / "I'm Josh's sister" →
 * `(usuario, brother|sibling, Javier)`: `gender` is the other person's, when the name tells it.
 */
export function inverseKin(relation: string, gender?: "f" | "m"): string | undefined {
  const by = (f: string, m: string, either: string) => (gender === "f" ? f : gender === "m" ? m : either);
  switch (relation) {
    case "sister":
    case "brother":
    case "sibling":
      return by("sister", "brother", "sibling");
    case "mother":
    case "father":
    case "parent":
      return by("daughter", "son", "child");
    case "son":
    case "daughter":
    case "child":
      return by("mother", "father", "parent");
    case "wife":
    case "husband":
    case "partner":
      return by("wife", "husband", "partner");
    case "aunt":
    case "uncle":
      return by("niece", "nephew", "nephew");
    case "niece":
    case "nephew":
      return by("aunt", "uncle", "uncle");
    case "grandmother":
    case "grandfather":
    case "grandparent":
      return by("granddaughter", "grandson", "grandchild");
    case "cousin":
    case "friend":
    case "colleague":
    case "neighbor":
    case "roommate":
    case "classmate":
      return relation;
    default:
      return undefined;
  }
}

/** One item of a list after "tengo" / "I have", as `respectiveNames` reads it. */
export interface ListedItem {
  preds: readonly { objects: ObjectPhrase[] }[];
  /** A relative or pet: how many ("dos perros" → 2) and what relation, and whether names followed it. */
  kin?: { relation: string; count: number; named: boolean } | undefined;
}

/**
 * "un gato y dos perros, Michi, Rex y Bruno": names given at once to several relatives or pets go to them in
 * order, as many to each as it counts (Michi the cat, Rex and Bruno the dogs).
 */
export function respectiveNames(
  items: readonly ListedItem[],
): { relation: string; objects: ObjectPhrase[]; untimed: true }[] | undefined {
  const last = items[items.length - 1];
  if (items.length < 2 || last?.kin?.named !== true) return undefined;
  const names = last.preds[0]?.objects ?? [];
  const before = items.slice(0, -1);
  if (!before.every((item) => item.kin !== undefined && !item.kin.named)) return undefined;
  const total = items.reduce((sum, item) => sum + (item.kin?.count ?? 0), 0);
  if (total !== names.length) return undefined;
  const preds: { relation: string; objects: ObjectPhrase[]; untimed: true }[] = [];
  let at = 0;
  for (const item of items) {
    const count = item.kin?.count ?? 0;
    preds.push({
      relation: item.kin?.relation ?? "pet",
      objects: names.slice(at, at + count),
      untimed: true,
    });
    at += count;
  }
  return preds;
}
