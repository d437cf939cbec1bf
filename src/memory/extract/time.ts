/**
 * Time and date expressions: where one starts and ends in a token list. A date that is a fact's value
 * (birthday, born_on) becomes the object; any other time becomes the fact's `when`.
 */
import {
  monthsEn,
  monthsEs,
  numberWordsEn,
  numberWordsEs,
  timeUnitsEn,
  timeUnitsEs,
  timeWordsEn,
  timeWordsEs,
  weekdaysEn,
  weekdaysEs,
} from "./lexicon.js";
import type { Token } from "./tokens.js";
import { createTypoIndex } from "./typo.js";
import type { Language } from "../types.js";

const clockPattern = /^\d{1,2}(?:[:.]\d{2})?(?:\s?[ap]\.m\.|am|pm|h)?$/;
const ordinalPattern = /^\d{1,2}(?:st|nd|rd|th|º|ª)?$/;
const yearPattern = /^(?:1[89]|20)\d\d$/;
/** "14/02/1991", "30-11-2019", "9/4": a day and month (either order) with an optional year. */
const numericDatePattern = /^(\d{1,2})[/-](\d{1,2})(?:[/-](?:\d{4}|\d{2}))?$/;

/** True for an all-digit date such as "14/02/1991" or "9/4". */
export function isNumericDate(t: Token | undefined): boolean {
  if (t === undefined || t.kind !== "number") return false;
  const m = numericDatePattern.exec(t.key);
  if (m === null) return false;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a >= 1 && b >= 1 && a <= 31 && b <= 31 && (a <= 12 || b <= 12);
}

/** Time units typed with one slip after a number ("5 yaers", "tres mses"). */
const unitTyposEs = createTypoIndex(timeUnitsEs, 5, true);
const unitTyposEn = createTypoIndex(timeUnitsEn, 5, true);

function isUnit(t: Token | undefined, lang: Language): boolean {
  if (t === undefined || t.kind !== "word") return false;
  const units = lang === "es" ? timeUnitsEs : timeUnitsEn;
  if (units.has(t.key)) return true;
  return (lang === "es" ? unitTyposEs : unitTyposEn).correct(t.key) !== undefined;
}

/** A number written in digits or words ("34", "treinta y cuatro", "thirty-four"), and where it ends. */
export interface NumberMatch {
  value: number;
  end: number;
}

/** Reads a number at `i`: digits, or number words up to 99. */
export function readNumber(toks: readonly Token[], i: number, lang: Language): NumberMatch | undefined {
  const t = toks[i];
  if (t === undefined) return undefined;
  if (t.kind === "number") {
    const digits = /^\d{1,3}$/.exec(t.key);
    return digits ? { value: Number(digits[0]), end: i + 1 } : undefined;
  }
  const words = lang === "es" ? numberWordsEs : numberWordsEn;
  if (lang === "en" && t.key.includes("-")) {
    const [tens, ones] = t.key.split("-");
    const a = words.get(tens ?? "");
    const b = words.get(ones ?? "");
    if (a !== undefined && b !== undefined && a >= 20 && a % 10 === 0 && b < 10)
      return { value: a + b, end: i + 1 };
    return undefined;
  }
  const first = words.get(t.key);
  if (first === undefined) return undefined;
  if (first >= 30 && first % 10 === 0 && first < 100) {
    // "treinta y cuatro", "thirty four"
    const joinAt = lang === "es" && toks[i + 1]?.key === "y" ? i + 2 : lang === "en" ? i + 1 : -1;
    const second = joinAt > 0 ? words.get(toks[joinAt]?.key ?? "") : undefined;
    if (second !== undefined && second > 0 && second < 10) return { value: first + second, end: joinAt + 1 };
  }
  return { value: first, end: i + 1 };
}

/** True for a four-digit year from 1800 to 2099. */
export function isYear(t: Token | undefined): boolean {
  return t !== undefined && t.kind === "number" && yearPattern.test(t.key);
}

function isDayNumber(t: Token | undefined): boolean {
  if (t === undefined || t.kind !== "number" || !ordinalPattern.test(t.key)) return false;
  const n = parseInt(t.key, 10);
  return n >= 1 && n <= 31;
}

function isClock(t: Token | undefined): boolean {
  return t !== undefined && t.kind === "number" && clockPattern.test(t.key) && !yearPattern.test(t.key);
}

/**
 * A date at `i`, as a fact's value: "3 de mayo (de 1990)", "mayo de 1990", "1990", "May 3rd(, 1990)",
 * "3rd of May", "the 3rd of May". Returns the index after it, or -1.
 */
export function matchDate(toks: readonly Token[], i: number, lang: Language): number {
  const t = toks[i];
  if (t === undefined) return -1;
  const months = lang === "es" ? monthsEs : monthsEn;
  const year = (j: number): number => {
    // ", 1990" / "de 1990" / "of 1990" / " 1990"
    if (isYear(toks[j])) return j + 1;
    const sep = toks[j]?.key;
    if ((sep === "," || sep === "de" || sep === "del" || sep === "of") && isYear(toks[j + 1])) return j + 2;
    // "del 88": a two-digit year after "del"
    if (sep === "del" && /^\d{2}$/.test(toks[j + 1]?.text ?? "")) return j + 2;
    return j;
  };
  if (isYear(t) || isNumericDate(t)) return i + 1;
  if (lang === "en" && t.key === "the" && isDayNumber(toks[i + 1])) {
    const end = matchDate(toks, i + 1, lang);
    return end > 0 ? end : -1;
  }
  if (isDayNumber(t) || (lang === "es" && numberWordsEs.has(t.key) && t.key !== "un" && t.key !== "una")) {
    const sep = toks[i + 1]?.key;
    if ((sep === "de" || sep === "of") && months.has(toks[i + 2]?.key ?? "")) return year(i + 3);
    if (lang === "en" && months.has(toks[i + 1]?.key ?? "")) return year(i + 2);
    return -1;
  }
  if (months.has(t.key) && !(lang === "en" && t.key === "may" && !t.cap)) {
    if (lang === "en" && isDayNumber(toks[i + 1])) return year(i + 2);
    if (lang === "en" && toks[i + 1]?.key === "the" && isDayNumber(toks[i + 2])) return year(i + 3);
    return year(i + 1);
  }
  return -1;
}

/**
 * A time expression starting at `i` ("desde 2019", "el martes a las 10", "on Monday at 10am", "for five
 * years"), chained while one follows another. Returns the index after it, or -1.
 */
export function matchTime(toks: readonly Token[], i: number, lang: Language): number {
  let end = lang === "es" ? timePartEs(toks, i) : timePartEn(toks, i);
  if (end < 0) return -1;
  for (let guard = 0; guard < 6; guard++) {
    const next = lang === "es" ? timePartEs(toks, end) : timePartEn(toks, end);
    if (next < 0) break;
    end = next;
  }
  return end;
}

/** A length of time at `i` ("tres años", "five years"): the index after it, or -1. */
export function matchDuration(toks: readonly Token[], i: number, lang: Language): number {
  return lang === "es" ? durationEs(toks, i) : durationEn(toks, i);
}

/** "dos años", "un par de meses", "mucho tiempo": a length of time in Spanish; index after it, or -1. */
function durationEs(toks: readonly Token[], i: number): number {
  if (
    approximatorsEs.has(toks[i]?.key ?? "") &&
    i + 1 < toks.length &&
    !approximatorsEs.has(toks[i + 1]?.key ?? "")
  )
    return durationEs(toks, i + 1);
  const k = toks[i]?.key;
  if (k === undefined) return -1;
  if (k === "un" && toks[i + 1]?.key === "par" && toks[i + 2]?.key === "de") {
    return timeUnitsEs.has(toks[i + 3]?.key ?? "") ? i + 4 : -1;
  }
  if (k === "mucho" || k === "poco" || k === "bastante") {
    return toks[i + 1]?.key === "tiempo" ? i + 2 : i + 1;
  }
  if (k === "tiempo") return i + 1;
  let j = i;
  if (k === "unos" || k === "unas" || k === "varios" || k === "varias" || k === "muchos" || k === "muchas")
    j++;
  const n = readNumber(toks, j, "es");
  if (n !== undefined) j = n.end;
  else if (j === i) return -1;
  if (toks[j]?.key === "y" && toks[j + 1]?.key === "medio") j += 2;
  return isUnit(toks[j], "es") ? j + 1 : -1;
}

/** "about ten years", "casi dos años": words that only make a length of time approximate. */
const approximatorsEn = new Set(["about", "around", "almost", "nearly", "over", "roughly", "like", "just"]);
const approximatorsEs = new Set(["casi", "como", "aproximadamente", "apenas"]);

function durationEn(toks: readonly Token[], i: number): number {
  if (
    approximatorsEn.has(toks[i]?.key ?? "") &&
    i + 1 < toks.length &&
    !approximatorsEn.has(toks[i + 1]?.key ?? "")
  )
    return durationEn(toks, i + 1);
  const k = toks[i]?.key;
  if (k === undefined) return -1;
  let j = i;
  if (k === "a" && toks[i + 1]?.key === "couple" && toks[i + 2]?.key === "of") j = i + 3;
  else if (k === "a" && toks[i + 1]?.key === "few") j = i + 2;
  else if (k === "a" || k === "an" || k === "several" || k === "many" || k === "few" || k === "some")
    j = i + 1;
  else if (k === "the" && (toks[i + 1]?.key === "past" || toks[i + 1]?.key === "last")) {
    j = i + 2;
    const n = readNumber(toks, j, "en");
    if (n !== undefined) j = n.end;
  } else {
    const n = readNumber(toks, i, "en");
    if (n !== undefined) j = n.end;
    else if (k !== "years" && k !== "months" && k !== "ages" && k !== "decades" && k !== "weeks") return -1;
  }
  if (toks[j]?.key === "and" && toks[j + 1]?.key === "a" && toks[j + 2]?.key === "half") j += 3;
  return isUnit(toks[j], "en") ? j + 1 : -1;
}

/** Up to `max` tokens of a vague time after "desde"/"since": stops at punctuation and at clause words. */
function openEnded(toks: readonly Token[], i: number, max: number, stops: ReadonlySet<string>): number {
  let j = i;
  while (j < toks.length && j - i < max) {
    const t = toks[j];
    if (t === undefined || t.kind === "punct" || stops.has(t.key)) break;
    j++;
  }
  return j > i ? j : -1;
}

const openStopsEs = new Set(
  "y e pero o que vivo trabajo estudio vive trabaja estudia en con porque aunque cuando me te se le nos soy es son tengo tiene".split(
    " ",
  ),
);
const openStopsEn = new Set(
  "and but or i my we he she they in at with because when is am are was have has live work study".split(" "),
);
const nextLastEs = new Set(["proximo", "proxima", "pasado", "pasada", "siguiente"]);
const demonstrativesEs = new Set(["este", "esta", "estos", "estas", "cada", "todos", "todas"]);
const dayPartsEs = new Set([
  "manana",
  "tarde",
  "noche",
  "mediodia",
  "madrugada",
  "mananas",
  "tardes",
  "noches",
]);

function timePartEs(toks: readonly Token[], i: number): number {
  const t = toks[i];
  if (t === undefined) return -1;
  const k = t.key;
  const k1 = toks[i + 1]?.key ?? "";
  const k2 = toks[i + 2]?.key ?? "";
  if (k === "pasado" && k1 === "manana") return i + 2;
  if (timeWordsEs.has(k)) return i + 1;
  if (weekdaysEs.has(k)) return i + 1;
  if (isYear(t)) return i + 1;
  const date = matchDate(toks, i, "es");
  if (date > 0 && t.kind === "number") return date;
  if (monthsEs.has(k)) return date > 0 ? date : i + 1;
  switch (k) {
    case "desde":
      if (k1 === "hace") {
        const d = durationEs(toks, i + 2);
        return d > 0 ? d : -1;
      }
      return openEnded(toks, i + 1, 4, openStopsEs);
    case "hace": {
      const d = durationEs(toks, i + 1);
      return d;
    }
    case "durante": {
      const d = durationEs(toks, i + 1);
      if (d > 0) return d;
      const inner = timePartEs(toks, i + 1);
      return inner > 0 ? inner : -1;
    }
    case "dentro":
      return k1 === "de" ? durationEs(toks, i + 2) : -1;
    case "hasta": {
      const inner = timePartEs(toks, i + 1);
      return inner > 0 ? inner : -1;
    }
    case "a":
      if (k1 === "las" && isClock(toks[i + 2])) return clockTailEs(toks, i + 3);
      if (k1 === "la" && (k2 === "una" || k2 === "1")) return clockTailEs(toks, i + 3);
      if (k1 === "mediodia" || k1 === "medianoche" || k1 === "diario") return i + 2;
      if (k1 === "partir" && k2 === "de") {
        const inner = timePartEs(toks, i + 3);
        return inner > 0 ? inner : -1;
      }
      return -1;
    case "al":
      return k1 === "mediodia" ? i + 2 : -1;
    case "por":
      if ((k1 === "la" || k1 === "las") && dayPartsEs.has(k2)) return i + 3;
      return -1;
    case "de":
      if ((k1 === "la" || k1 === "las") && dayPartsEs.has(k2)) return i + 3;
      // "trabajo de noche", "enfermero de día"
      if (k1 === "noche" || k1 === "dia" || k1 === "madrugada") return i + 2;
      if (weekdaysEs.has(k1) && toks[i + 2]?.key === "a" && weekdaysEs.has(toks[i + 3]?.key ?? ""))
        return i + 4;
      // "de 9 a 5", "de 8 a 15 h"
      if (isClock(toks[i + 1]) && toks[i + 2]?.key === "a" && isClock(toks[i + 3]))
        return clockTailEs(toks, i + 4);
      return -1;
    case "en": {
      if (monthsEs.has(k1)) {
        const d = matchDate(toks, i + 1, "es");
        return d > 0 ? d : i + 2;
      }
      if (isYear(toks[i + 1])) return i + 2;
      if (["verano", "invierno", "primavera", "otono", "navidad", "navidades", "agosto"].includes(k1))
        return i + 2;
      if (k1 === "el" && (k2 === "ano" || k2 === "verano") && isYear(toks[i + 3])) return i + 4;
      const d = durationEs(toks, i + 1);
      return d;
    }
    case "el":
    case "la":
    case "los":
    case "las":
    case "este":
    case "esta":
    case "estos":
    case "estas":
    case "cada":
    case "todos":
    case "todas": {
      let j = i + 1;
      if (k === "todos" || k === "todas") {
        if (k1 === "los" || k1 === "las") j++;
        else return -1;
      }
      if (nextLastEs.has(toks[j]?.key ?? "")) j++;
      const head = toks[j];
      if (head === undefined) return -1;
      if ((k === "el" || demonstrativesEs.has(k)) && head.key === "dia" && isDayNumber(toks[j + 1])) {
        const d = matchDate(toks, j + 1, "es");
        return d > 0 ? d : j + 2;
      }
      if (k === "el" && head.kind === "number") {
        const d = matchDate(toks, j, "es");
        return d;
      }
      let qualified = j > i + 1 && nextLastEs.has(toks[j - 1]?.key ?? "");
      if (k !== "el" && k !== "la" && k !== "los" && k !== "las") qualified = true;
      let bareOk = false;
      if (
        (head.key === "fin" || head.key === "fines") &&
        toks[j + 1]?.key === "de" &&
        toks[j + 2]?.key === "semana"
      ) {
        j += 3;
        bareOk = true;
      } else if (weekdaysEs.has(head.key)) {
        j++;
        bareOk = true;
      } else if (monthsEs.has(head.key) || timeUnitsEs.has(head.key)) {
        j++;
      } else return -1;
      // "el mes que viene", "el año pasado", "la semana próxima", "el lunes por la mañana"
      const after = toks[j]?.key;
      if (after === "que" && (toks[j + 1]?.key === "viene" || toks[j + 1]?.key === "vienen")) return j + 2;
      if (after !== undefined && nextLastEs.has(after)) return j + 1;
      if (after === "por" && (toks[j + 1]?.key === "la" || toks[j + 1]?.key === "las")) {
        if (dayPartsEs.has(toks[j + 2]?.key ?? "") && (qualified || bareOk)) return j + 3;
      }
      return qualified || bareOk ? j : -1;
    }
    default:
      return -1;
  }
}

/** After "a las 10": "y media", "y cuarto", "de la mañana", "h", "en punto". */
function clockTailEs(toks: readonly Token[], j: number): number {
  let end = j;
  if (toks[end]?.key === "y" && (toks[end + 1]?.key === "media" || toks[end + 1]?.key === "cuarto")) end += 2;
  if (toks[end]?.key === "en" && toks[end + 1]?.key === "punto") end += 2;
  if (toks[end]?.key === "de" && (toks[end + 1]?.key === "la" || toks[end + 1]?.key === "las")) {
    if (dayPartsEs.has(toks[end + 2]?.key ?? "")) end += 3;
  }
  return end;
}

const nextLastEn = new Set(["next", "last", "this", "every", "each", "that", "the_following", "coming"]);
const dayPartsEn = new Set([
  "morning",
  "afternoon",
  "evening",
  "night",
  "mornings",
  "afternoons",
  "evenings",
  "nights",
]);

function timePartEn(toks: readonly Token[], i: number): number {
  const t = toks[i];
  if (t === undefined) return -1;
  const k = t.key;
  const k1 = toks[i + 1]?.key ?? "";
  const k2 = toks[i + 2]?.key ?? "";
  if (timeWordsEn.has(k)) return i + 1;
  if (weekdaysEn.has(k) && k !== "weekend" && k !== "weekends") {
    return dayPartsEn.has(k1) ? i + 2 : i + 1;
  }
  if (isYear(t)) return i + 1;
  if (monthsEn.has(k) && (t.cap || k !== "may")) {
    const d = matchDate(toks, i, "en");
    return d > 0 ? d : i + 1;
  }
  if (t.kind === "number") {
    const d = matchDate(toks, i, "en");
    if (d > 0) return d;
    const dur = durationEn(toks, i);
    if (dur > 0 && toks[dur]?.key === "ago") return dur + 1;
    return -1;
  }
  switch (k) {
    case "since":
      return openEnded(toks, i + 1, 4, openStopsEn);
    case "for": {
      const d = durationEn(toks, i + 1);
      if (d > 0) return d;
      if (k1 === "a" && k2 === "while") return i + 3;
      return -1;
    }
    case "a":
    case "an":
    case "few":
    case "several":
    case "many": {
      const d = durationEn(toks, i);
      return d > 0 && toks[d]?.key === "ago" ? d + 1 : -1;
    }
    case "during":
    case "until":
    case "till": {
      const start = k1 === "the" ? i + 2 : i + 1;
      const inner = timePartEn(toks, start);
      if (inner > 0) return inner;
      return timeUnitsEn.has(toks[start]?.key ?? "") ? start + 1 : -1;
    }
    case "at":
      if (isClock(toks[i + 1])) return clockTailEn(toks, i + 2);
      if (k1 === "noon" || k1 === "midnight" || k1 === "night" || k1 === "dawn" || k1 === "lunchtime")
        return i + 2;
      if (k1 === "the" && (k2 === "weekend" || k2 === "weekends")) return i + 3;
      return -1;
    case "on": {
      if (weekdaysEn.has(k1)) return dayPartsEn.has(k2) ? i + 3 : i + 2;
      if (k1 === "the" && (k2 === "weekend" || k2 === "weekends")) return i + 3;
      const d = matchDate(toks, i + 1, "en");
      return d > 0 ? d : -1;
    }
    case "in": {
      if (isYear(toks[i + 1])) return i + 2;
      if (monthsEn.has(k1) && (toks[i + 1]?.cap === true || k1 !== "may")) {
        const d = matchDate(toks, i + 1, "en");
        return d > 0 ? d : i + 2;
      }
      if (["summer", "winter", "spring", "autumn", "fall", "december"].includes(k1)) return i + 2;
      if (k1 === "the" && dayPartsEn.has(k2)) return i + 3;
      if (k1 === "the" && ["summer", "winter", "spring", "autumn", "fall"].includes(k2)) return i + 3;
      const d = durationEn(toks, i + 1);
      return d;
    }
    case "from":
      if (weekdaysEn.has(k1) && (k2 === "to" || k2 === "through") && weekdaysEn.has(toks[i + 3]?.key ?? "")) {
        return i + 4;
      }
      return -1;
    case "the":
      if (k1 === "day" && (k2 === "after" || k2 === "before")) {
        const k3 = toks[i + 3]?.key;
        return k3 === "tomorrow" || k3 === "yesterday" ? i + 4 : -1;
      }
      if (k1 === "other" && k2 === "day") return i + 3;
      if (isDayNumber(toks[i + 1])) {
        const d = matchDate(toks, i, "en");
        return d;
      }
      if ((k1 === "next" || k1 === "following") && timeUnitsEn.has(k2)) return i + 3;
      return -1;
    case "all":
      if (k1 === "day" || k1 === "week" || k1 === "year") return k2 === "long" ? i + 3 : i + 2;
      return -1;
    default: {
      // "two years ago"
      const ago = durationEn(toks, i);
      if (ago > 0 && toks[ago]?.key === "ago") return ago + 1;
      if (nextLastEn.has(k)) {
        let j = i + 1;
        if (k === "every" && k1 === "other") j++;
        const head = toks[j]?.key ?? "";
        if (weekdaysEn.has(head) || monthsEn.has(head) || timeUnitsEn.has(head)) {
          j++;
          if (dayPartsEn.has(toks[j]?.key ?? "")) j++;
          return j;
        }
      }
      return -1;
    }
  }
}

/** After "at 10": "am", "pm", "o'clock", "in the morning". */
function clockTailEn(toks: readonly Token[], j: number): number {
  let end = j;
  const k = toks[end]?.key;
  if (k === "am" || k === "pm" || k === "a.m." || k === "p.m.") end++;
  else if (k === "o'clock" || (k === "o" && toks[end + 1]?.key === "'clock")) end += k === "o" ? 2 : 1;
  if (toks[end]?.key === "in" && toks[end + 1]?.key === "the" && dayPartsEn.has(toks[end + 2]?.key ?? ""))
    end += 3;
  return end;
}
