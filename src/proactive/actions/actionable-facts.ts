import { detectLanguage, type Fact, type Language } from "../../memory/index.js";

/**
 * Which facts an idle suggestion may be built from: dated things the user told SARAi that are coming up.
 *
 * - **Yearly dates** — `birthday`, `born_on`, `anniversary` (and `*_anniversary`, `*_birthday`): the object is
 *   the date ("3 de mayo", "May 3rd", "14/02"); actionable when its next occurrence is today or within the
 *   horizon (default 7 days). A date that cannot be read is not actionable: nobody can tell it is near.
 * - **Events** — `appointment`, `meeting`, `reminder`, `deadline`, `exam`, `trip`, `travels_to`, `flight`,
 *   `event`, `plans`: the date is the `when` qualifier ("el viernes a las 10", "on July 5", "tomorrow"),
 *   read relative to when the fact was last stated (`updatedAt`): "el viernes" said on a Tuesday is that
 *   week's Friday. Actionable when that day is today or within the horizon; past ones are not. An event with
 *   no readable date counts only while it is fresh (stated in the last 48 hours: "tengo cita con el médico").
 * - **Any other fact** whose `when` reads as a date in the window ("me mudo a Sevilla el 1 de diciembre").
 *   Habitual times ("los lunes", "every Friday", "desde 2019") are not dates.
 *
 * Negated and historic (closed) facts never count. Days are local calendar days of the server.
 */
export interface ActionableFact {
  fact: Fact;
  kind: "yearly" | "event";
  /** Local midnight of the day it falls on; undefined for a fresh event with no readable date. */
  dueAt: number | undefined;
  /** Whole days from today (0 = today); undefined with `dueAt`. */
  inDays: number | undefined;
}

export interface ActionableFactsOptions {
  /** How far ahead a date still counts, in days. Default: `7`. */
  horizonDays?: number;
  /** How long an event with no readable date stays actionable after it was stated, in ms. Default: 48 h. */
  freshMs?: number;
}

const yearlyRelations = new Set(["birthday", "born_on", "anniversary"]);
const eventRelations = new Set([
  "appointment",
  "meeting",
  "reminder",
  "deadline",
  "exam",
  "trip",
  "travels_to",
  "flight",
  "event",
  "plans",
]);

const day = 86_400_000;

/** The actionable facts among `facts`, soonest first (undated fresh events last). */
export function actionableFacts(
  facts: readonly Fact[],
  now: number,
  options: ActionableFactsOptions = {},
): ActionableFact[] {
  const horizonDays = options.horizonDays ?? 7;
  const freshMs = options.freshMs ?? 2 * day;
  const today = startOfDay(now);
  const found: ActionableFact[] = [];
  for (const fact of facts) {
    if (fact.negated || fact.validTo !== null) continue;
    const kind = classifyRelation(fact.relation);
    const lang = factLanguage(fact);
    if (kind === "yearly") {
      const date = readDate(fact.object, lang, now);
      if (date === undefined) continue;
      const due = date.yearly ? nextYearly(date, today) : date.at;
      pushIfNear(found, fact, "yearly", due, today, horizonDays);
      continue;
    }
    const date = fact.when === null ? undefined : readDate(fact.when, lang, fact.updatedAt);
    if (date !== undefined) {
      const due = date.yearly ? nextYearly(date, startOfDay(fact.updatedAt)) : date.at;
      pushIfNear(found, fact, "event", due, today, horizonDays);
    } else if (kind === "event" && now - fact.updatedAt <= freshMs && !isHabitual(fact.when ?? "")) {
      found.push({ fact, kind: "event", dueAt: undefined, inDays: undefined });
    }
  }
  return found.sort(
    (a, b) => (a.dueAt ?? Infinity) - (b.dueAt ?? Infinity) || b.fact.updatedAt - a.fact.updatedAt,
  );
}

function classifyRelation(relation: string): "yearly" | "event" | "other" {
  if (yearlyRelations.has(relation) || /_(?:anniversary|birthday)$/.test(relation)) return "yearly";
  if (eventRelations.has(relation)) return "event";
  return "other";
}

function pushIfNear(
  found: ActionableFact[],
  fact: Fact,
  kind: ActionableFact["kind"],
  due: number,
  today: number,
  horizonDays: number,
): void {
  const inDays = Math.round((due - today) / day);
  if (inDays >= 0 && inDays <= horizonDays) found.push({ fact, kind, dueAt: due, inDays });
}

/** The language a fact was told in: the speaker's subject says it (`usuario`/`user`), else its words. */
export function factLanguage(fact: Pick<Fact, "subject" | "object" | "when">): Language {
  if (/\busuario\b/i.test(fact.subject)) return "es";
  if (/\buser\b/i.test(fact.subject)) return "en";
  return detectLanguage(`${fact.subject} ${fact.object} ${fact.when ?? ""}`);
}

/** A date read from text: an exact day, or a month and day that come back every year. */
interface ReadDate {
  /** Local midnight of the day (for `yearly`, in the reference year). */
  at: number;
  yearly: boolean;
  month: number;
  dayOfMonth: number;
}

const monthNames: Readonly<Record<string, number>> = {
  enero: 0,
  febrero: 1,
  marzo: 2,
  abril: 3,
  mayo: 4,
  junio: 5,
  julio: 6,
  agosto: 7,
  septiembre: 8,
  setiembre: 8,
  octubre: 9,
  noviembre: 10,
  diciembre: 11,
  january: 0,
  february: 1,
  march: 2,
  april: 3,
  may: 4,
  june: 5,
  july: 6,
  august: 7,
  september: 8,
  october: 9,
  november: 10,
  december: 11,
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  sept: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};

const weekdayNumbers: Readonly<Record<string, number>> = {
  domingo: 0,
  lunes: 1,
  martes: 2,
  miercoles: 3,
  jueves: 4,
  viernes: 5,
  sabado: 6,
  sunday: 0,
  monday: 1,
  tuesday: 2,
  wednesday: 3,
  thursday: 4,
  friday: 5,
  saturday: 6,
};

const monthPattern = Object.keys(monthNames).join("|");
const weekdayPattern = Object.keys(weekdayNumbers).join("|");
/** "3 de mayo de 2027", "el 3 de mayo". */
const dayOfMonthEs = new RegExp(`\\b(\\d{1,2}) de (${monthPattern})\\b(?: de(?:l)? (\\d{4}))?`);
/** "May 3rd, 2027", "May 3". */
const monthDayEn = new RegExp(`\\b(${monthPattern})\\.? (\\d{1,2})(?:st|nd|rd|th)?\\b(?:,? (\\d{4}))?`);
/** "3rd of May", "3 May 2027". */
const dayMonthEn = new RegExp(`\\b(\\d{1,2})(?:st|nd|rd|th)?(?: of)? (${monthPattern})\\b(?:,? (\\d{4}))?`);
const numericDate = /\b(\d{1,2})[/-](\d{1,2})(?:[/-](\d{4}|\d{2}))?\b/;
const weekdayRe = new RegExp(`\\b(${weekdayPattern})\\b`);
/** Times that recur or lie in the past: no single day to remind of. */
const habitualRe =
  /\b(?:los|todos|cada|every|each|desde|since|hace|ago|durante|siempre|always|usually|normalmente)\b|\b(?:sundays|mondays|tuesdays|wednesdays|thursdays|fridays|saturdays)\b/;

function isHabitual(text: string): boolean {
  return habitualRe.test(fold(text));
}

function fold(text: string): string {
  return text
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9/\s-]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * Reads the day a time expression names, relative to `reference` (epoch ms) for words such as "mañana" or
 * "el viernes". Undefined when it names no single day.
 */
export function readDate(text: string, lang: Language, reference: number): ReadDate | undefined {
  const t = fold(text);
  if (t === "" || isHabitual(t)) return undefined;
  const base = startOfDay(reference);
  const ref = new Date(base);
  const exact = (offsetDays: number): ReadDate => {
    const date = new Date(ref.getFullYear(), ref.getMonth(), ref.getDate() + offsetDays);
    return { at: date.getTime(), yearly: false, month: date.getMonth(), dayOfMonth: date.getDate() };
  };
  const dated = (dayOfMonth: number, month: number, year: string | undefined): ReadDate | undefined => {
    if (month < 0 || month > 11 || dayOfMonth < 1 || dayOfMonth > daysIn(month)) return undefined;
    const fullYear = year === undefined ? undefined : year.length === 2 ? 2000 + Number(year) : Number(year);
    const date = new Date(fullYear ?? ref.getFullYear(), month, dayOfMonth);
    if (date.getDate() !== dayOfMonth) return undefined; // 29 February in a common year
    return { at: date.getTime(), yearly: fullYear === undefined, month, dayOfMonth };
  };

  let m = dayOfMonthEs.exec(t) ?? dayMonthEn.exec(t);
  if (m !== null) return dated(Number(m[1]), monthNames[m[2] as string] ?? -1, m[3]);
  m = monthDayEn.exec(t);
  if (m !== null) return dated(Number(m[2]), monthNames[m[1] as string] ?? -1, m[3]);
  m = numericDate.exec(t);
  if (m !== null) {
    const a = Number(m[1]);
    const b = Number(m[2]);
    // Day first in Spanish and whenever the first number cannot be a month; month first in English.
    const dayFirst = lang === "es" || a > 12;
    return dated(dayFirst ? a : b, (dayFirst ? b : a) - 1, m[3]);
  }
  if (/\b(?:pasado manana|day after tomorrow)\b/.test(t)) return exact(2);
  // "mañana" alone is tomorrow; "por/esta/de la mañana" is a morning.
  if (/\btomorrow\b|(?<!\b(?:la|esta|por) )\bmanana\b/.test(t)) return exact(1);
  if (
    /\b(?:today|tonight|hoy|esta noche|esta tarde|esta manana|this (?:morning|afternoon|evening))\b/.test(t)
  ) {
    return exact(0);
  }
  m = /\b(?:in|en|dentro de) (\d{1,2}) (?:days|dias)\b/.exec(t);
  if (m !== null) return exact(Number(m[1]));
  if (/\b(?:this weekend|este fin de semana)\b/.test(t)) return exact((6 - ref.getDay() + 7) % 7);
  if (/\b(?:next week|la semana que viene|la proxima semana|la semana proxima)\b/.test(t)) return exact(7);
  m = weekdayRe.exec(t);
  if (m !== null) {
    const target = weekdayNumbers[m[1] as string] ?? 0;
    let ahead = (target - ref.getDay() + 7) % 7;
    if (ahead === 0 && /\b(?:next|proximo|que viene)\b/.test(t)) ahead = 7;
    return exact(ahead);
  }
  return undefined;
}

function daysIn(month: number): number {
  return [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month] ?? 31;
}

/** The next day on or after `from` (local midnight) that a yearly date falls on. */
function nextYearly(date: ReadDate, from: number): number {
  const year = new Date(from).getFullYear();
  for (let y = year; y <= year + 8; y++) {
    const at = new Date(y, date.month, date.dayOfMonth);
    if (at.getDate() === date.dayOfMonth && at.getTime() >= from) return at.getTime();
  }
  return Infinity;
}

/** Local midnight of the day `time` falls on. */
export function startOfDay(time: number): number {
  const d = new Date(time);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}
