import { AppError } from "../shared/index.js";
import { normalizeForGuard } from "./guard-normalize.js";
import { guardRules, matchGuardRules } from "./guard-rules.js";
import {
  decidingRules,
  extractFeatures,
  featureBuckets,
  readForGuard,
  scoreReading,
  trainLogisticRegression,
  type GuardReading,
  type GuardWeights,
  type TrainingExample,
} from "./guard-scorer.js";

/** One labelled text of a guard corpus (`bench/data/guard-*.jsonl`). */
export interface GuardExample {
  id: string;
  text: string;
  lang: "es" | "en";
  label: "attack" | "benign";
  /** The attack technique, or the benign category. */
  technique: string;
  source: string;
}

/** Parses a JSON Lines guard corpus; a bad line is an error naming the file, the line and the field. */
export function parseGuardCorpus(text: string, file: string): GuardExample[] {
  const examples: GuardExample[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new AppError("INVALID_REQUEST", `${file}:${i + 1}: not JSON (${(error as Error).message})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new AppError("INVALID_REQUEST", `${file}:${i + 1}: not a JSON object`);
    }
    const item = value as Partial<GuardExample>;
    if (typeof item.text !== "string") {
      throw new AppError("INVALID_REQUEST", `${file}:${i + 1}: "text" must be a string`, { param: "text" });
    }
    if (item.label !== "attack" && item.label !== "benign") {
      throw new AppError("INVALID_REQUEST", `${file}:${i + 1}: "label" must be "attack" or "benign"`, {
        param: "label",
      });
    }
    examples.push({
      id: typeof item.id === "string" ? item.id : `${file}:${i + 1}`,
      text: item.text,
      lang: item.lang === "es" ? "es" : "en",
      label: item.label,
      technique: typeof item.technique === "string" ? item.technique : "",
      source: typeof item.source === "string" ? item.source : "user",
    });
  }
  return examples;
}

/** The scorer's features of a text and whether a strong rule matched outside an analysis of attacks. */
export function guardFeatures(text: string): { features: TrainingExample["features"]; decisive: boolean } {
  const normalized = normalizeForGuard(text);
  const rules = matchGuardRules([normalized.folded, ...normalized.variants]);
  return { features: extractFeatures(normalized, rules), decisive: rules.decisive };
}

export interface TrainGuardOptions {
  /**
   * The threshold keeps out-of-fold false positives at or under this share of the benign texts of each language.
   * Default: 0.03.
   */
  maxFalsePositiveRate?: number;
  folds?: number;
  corpusName?: string;
  corpusSha256?: string;
}

/**
 * Strong rules never seen deciding a benign text (outside quotation marks and outside an analysis of attacks) and seen
 * deciding at least three attacks.
 */
export function chooseDecisiveRules(
  readings: readonly { reading: GuardReading; attack: boolean }[],
): string[] {
  const strong = new Set(guardRules.filter((rule) => rule.strong).map((rule) => rule.id));
  const attacks = new Map<string, number>();
  const benign = new Set<string>();
  for (const { reading, attack } of readings) {
    for (const id of decidingRules(reading.rules)) {
      if (!strong.has(id)) continue;
      if (attack) attacks.set(id, (attacks.get(id) ?? 0) + 1);
      else benign.add(id);
    }
  }
  return [...attacks]
    .filter(([id, count]) => count >= 3 && !benign.has(id))
    .map(([id]) => id)
    .sort();
}

/**
 * Every text scored by a model that did not see it (k folds, text i in fold i mod k): the learned weights and the
 * decisive rules both come from the other folds.
 */
export function outOfFoldScores(
  readings: readonly { reading: GuardReading; attack: boolean }[],
  folds: number,
): number[] {
  const scores = new Array<number>(readings.length).fill(0);
  for (let fold = 0; fold < folds; fold++) {
    const train = readings.filter((_, i) => i % folds !== fold);
    const model = trainGuardModel(
      train.map(({ reading, attack }) => ({ features: reading.features, attack })),
    );
    const weights = {
      bias: model.bias,
      weights: model.weights as unknown as number[],
      decisiveRules: chooseDecisiveRules(train),
    };
    for (let i = fold; i < readings.length; i += folds) {
      scores[i] = scoreReading(weights, (readings[i] as (typeof readings)[number]).reading);
    }
  }
  return scores;
}

/** Seeds of the shuffles whose models `trainGuardModel` averages. */
const modelSeeds = [1, 2, 3];

/**
 * The guard's model: the average of logistic regressions fitted under three shuffles of the examples — a linear model
 * still, with less of one visiting order's noise (out-of-fold recall on the training split 89.5% instead of 88.8%).
 */
export function trainGuardModel(examples: readonly TrainingExample[]): {
  bias: number;
  weights: Float64Array;
} {
  const models = modelSeeds.map((seed) => trainLogisticRegression(examples, { seed }));
  const weights = new Float64Array(featureBuckets);
  for (const model of models)
    for (let i = 0; i < weights.length; i++)
      weights[i] = (weights[i] as number) + (model.weights[i] as number) / models.length;
  return { bias: models.reduce((sum, model) => sum + model.bias, 0) / models.length, weights };
}

interface Rates {
  attacks: number;
  recall: number;
  benign: number;
  falsePositiveRate: number;
}

/**
 * Trains the scorer on a corpus: out-of-fold scores (k-fold) choose the threshold, then the model and the decisive
 * rules are fitted on everything. Deterministic.
 */
export function trainGuardWeights(
  corpus: readonly GuardExample[],
  options: TrainGuardOptions = {},
): GuardWeights {
  const { maxFalsePositiveRate = 0.03, folds = 5 } = options;
  const readings = corpus.map((example) => ({
    reading: readForGuard(example.text),
    attack: example.label === "attack",
  }));
  const outOfFold = outOfFoldScores(readings, folds);
  // Stored facts (source memory) teach the scorer what a fact looks like, but they are easy: counted in the
  // false-positive budget they would let the threshold fall on the hard texts people and documents send.
  const calibrates = (i: number) => corpus[i]?.source !== "memory";
  // Per language, the smallest threshold above all but the allowed share of its benign scores; the threshold is the
  // highest of those, so no language goes over budget; never below 0.25.
  const languages = [...new Set(corpus.map((example) => example.lang))].sort();
  let cut = 0;
  for (const lang of languages) {
    const benign = outOfFold
      .filter((_, i) => corpus[i]?.lang === lang && corpus[i]?.label === "benign" && calibrates(i))
      .sort((a, b) => b - a);
    cut = Math.max(cut, benign[Math.floor(benign.length * maxFalsePositiveRate)] ?? 0);
  }
  const threshold = Math.round(Math.max(0.25, Math.min(0.95, cut + 1e-4)) * 1e4) / 1e4;
  const rates = (where: (example: GuardExample) => boolean): Rates => {
    let attacks = 0;
    let caught = 0;
    let benign = 0;
    let flagged = 0;
    corpus.forEach((example, i) => {
      if (!where(example)) return;
      const hit = (outOfFold[i] as number) >= threshold;
      if (example.label === "attack") {
        attacks++;
        if (hit) caught++;
      } else if (calibrates(i)) {
        benign++;
        if (hit) flagged++;
      }
    });
    return {
      attacks,
      recall: round(caught / Math.max(1, attacks)),
      benign,
      falsePositiveRate: round(flagged / Math.max(1, benign)),
    };
  };
  const all = rates(() => true);
  const model = trainGuardModel(
    readings.map(({ reading, attack }) => ({ features: reading.features, attack })),
  );
  const techniques = [...new Set(corpus.map((example) => example.technique))].sort();
  return {
    version: 2,
    buckets: featureBuckets,
    bias: round(model.bias),
    threshold,
    decisiveRules: chooseDecisiveRules(readings),
    weights: Array.from(model.weights, round),
    trainedOn: {
      corpus: options.corpusName ?? "unnamed",
      ...(options.corpusSha256 === undefined ? {} : { sha256: options.corpusSha256 }),
      examples: corpus.length,
      attacks: all.attacks,
      folds,
      outOfFoldRecall: all.recall,
      outOfFoldFalsePositiveRate: all.falsePositiveRate,
      outOfFoldByLanguage: Object.fromEntries(
        languages.map((lang) => {
          const { recall, falsePositiveRate } = rates((example) => example.lang === lang);
          return [lang, { recall, falsePositiveRate }];
        }),
      ),
      // Recall per attack technique, false-positive rate per benign category (stored facts included).
      outOfFoldByTechnique: Object.fromEntries(
        techniques.map((technique) => {
          const group = corpus
            .map((example, i) => ({ example, score: outOfFold[i] as number }))
            .filter(({ example }) => example.technique === technique);
          const hits = group.filter(({ score }) => score >= threshold).length;
          return [technique, round(hits / Math.max(1, group.length))];
        }),
      ),
    },
  };
}

function round(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}
