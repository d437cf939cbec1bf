import { normalizeKey } from "./normalize.js";
import type { ExtractedFact, Language } from "./types.js";

/** One labelled utterance: the text and every fact it states (none for questions, requests, chit-chat…). */
export interface LabelledUtterance {
  id: string;
  lang: Language;
  text: string;
  phenomena?: string[];
  facts: { subject: string; relation?: string; object: string; negated: boolean }[];
}

export interface ExtractionScore {
  utterances: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  precision: number;
  recall: number;
  f1: number;
  /** Utterances without facts that still produced some. */
  spuriousOnEmpty: number;
  byLanguage: Record<Language, { precision: number; recall: number; utterances: number }>;
  /** Utterances where the extractor missed or invented a fact. */
  misses: { id: string; text: string; missing: string[]; extra: string[] }[];
}

/** The scoring key: (subject, object, polarity), case and accents folded. Relations are not scored. */
export function factKey(fact: { subject: string; object: string; negated: boolean }): string {
  return `${normalizeKey(fact.subject)} | ${normalizeKey(fact.object)} | ${fact.negated ? "neg" : "pos"}`;
}

/** The strict scoring key: `factKey` plus the relation, so a fact filed under the wrong relation is a miss. */
export function relationFactKey(fact: {
  subject: string;
  relation?: string;
  object: string;
  negated: boolean;
}): string {
  return `${factKey(fact)} | ${normalizeKey(fact.relation ?? "")}`;
}

/**
 * Micro-averaged precision and recall of an extractor over a labelled set, matching facts as multisets of
 * `key` (default `factKey`: relations not scored).
 */
export function scoreExtraction(
  items: readonly LabelledUtterance[],
  extract: (text: string, lang: Language) => readonly ExtractedFact[],
  key: (fact: LabelledUtterance["facts"][number]) => string = factKey,
): ExtractionScore {
  const totals = { tp: 0, fp: 0, fn: 0 };
  const perLanguage = { es: { tp: 0, fp: 0, fn: 0, n: 0 }, en: { tp: 0, fp: 0, fn: 0, n: 0 } };
  let spuriousOnEmpty = 0;
  const misses: ExtractionScore["misses"] = [];
  for (const item of items) {
    const expected = item.facts.map(key);
    const got = extract(item.text, item.lang).map(key);
    const remaining = [...got];
    const missing: string[] = [];
    for (const key of expected) {
      const at = remaining.indexOf(key);
      if (at === -1) missing.push(key);
      else remaining.splice(at, 1);
    }
    const tp = expected.length - missing.length;
    const language = perLanguage[item.lang];
    language.n++;
    for (const bucket of [totals, language]) {
      bucket.tp += tp;
      bucket.fp += remaining.length;
      bucket.fn += missing.length;
    }
    if (expected.length === 0 && got.length > 0) spuriousOnEmpty++;
    if (missing.length > 0 || remaining.length > 0)
      misses.push({ id: item.id, text: item.text, missing, extra: remaining });
  }
  const ratio = (a: number, b: number) => (b === 0 ? 1 : a / b);
  const precision = ratio(totals.tp, totals.tp + totals.fp);
  const recall = ratio(totals.tp, totals.tp + totals.fn);
  const byLanguage = Object.fromEntries(
    (["es", "en"] as const).map((lang) => {
      const l = perLanguage[lang];
      return [
        lang,
        { precision: ratio(l.tp, l.tp + l.fp), recall: ratio(l.tp, l.tp + l.fn), utterances: l.n },
      ];
    }),
  ) as ExtractionScore["byLanguage"];
  return {
    utterances: items.length,
    truePositives: totals.tp,
    falsePositives: totals.fp,
    falseNegatives: totals.fn,
    precision,
    recall,
    f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
    spuriousOnEmpty,
    byLanguage,
    misses,
  };
}

/** Parses a JSON Lines labelled set, naming the line of any malformed entry. */
export function parseLabelledSet(text: string, file: string): LabelledUtterance[] {
  const items: LabelledUtterance[] = [];
  text.split("\n").forEach((line, index) => {
    if (line.trim() === "") return;
    let value: LabelledUtterance;
    try {
      value = JSON.parse(line) as LabelledUtterance;
    } catch (error) {
      throw new Error(`${file}:${index + 1}: not JSON: ${(error as Error).message}`, { cause: error });
    }
    if (
      typeof value.text !== "string" ||
      (value.lang !== "es" && value.lang !== "en") ||
      !Array.isArray(value.facts)
    )
      throw new Error(`${file}:${index + 1}: needs text, lang (es|en) and facts[]`);
    items.push(value);
  });
  return items;
}
