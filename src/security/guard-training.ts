import { AppError } from "../shared/index.js";
import { normalizeForGuard } from "./guard-normalize.js";
import { matchGuardRules } from "./guard-rules.js";
import {
  decisiveScore,
  extractFeatures,
  featureBuckets,
  scoreFeatures,
  trainLogisticRegression,
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

/** The scorer's features of a text: the same path the guard takes. */
export function guardFeatures(text: string): { features: TrainingExample["features"]; decisive: boolean } {
  const normalized = normalizeForGuard(text);
  const rules = matchGuardRules([normalized.folded, ...normalized.variants]);
  return { features: extractFeatures(normalized, rules), decisive: rules.decisive };
}

export interface TrainGuardOptions {
  /** The threshold keeps out-of-fold false positives at or under this share of benign texts. Default: 0.03. */
  maxFalsePositiveRate?: number;
  folds?: number;
  corpusName?: string;
  corpusSha256?: string;
}

/**
 * Trains the scorer on a corpus: out-of-fold scores (k-fold) choose the threshold, then the model is fitted on
 * everything. Deterministic.
 */
export function trainGuardWeights(
  corpus: readonly GuardExample[],
  options: TrainGuardOptions = {},
): GuardWeights {
  const { maxFalsePositiveRate = 0.03, folds = 5 } = options;
  const prepared = corpus.map((example) => ({
    ...guardFeatures(example.text),
    attack: example.label === "attack",
  }));
  // Out-of-fold scores: every text scored by a model that did not see it.
  const outOfFold = new Array<number>(prepared.length);
  for (let fold = 0; fold < folds; fold++) {
    const train = prepared.filter((_, i) => i % folds !== fold);
    const model = trainLogisticRegression(train);
    for (let i = fold; i < prepared.length; i += folds) {
      const example = prepared[i] as (typeof prepared)[number];
      const learned = scoreFeatures(
        { bias: model.bias, weights: model.weights as unknown as number[] },
        example.features,
      );
      outOfFold[i] = example.decisive ? Math.max(learned, decisiveScore) : learned;
    }
  }
  // Stored facts (source memory) teach the scorer what a fact looks like, but they are easy: counted in the
  // false-positive budget they would let the threshold fall on the hard texts people and documents send.
  const benignScores = prepared
    .map((example, i) => ({
      attack: example.attack,
      calibrates: corpus[i]?.source !== "memory",
      score: outOfFold[i] as number,
    }))
    .filter((s) => !s.attack && s.calibrates)
    .map((s) => s.score)
    .sort((a, b) => b - a);
  // The smallest threshold above all but the allowed share of benign scores; never below 0.25.
  const allowed = Math.floor(benignScores.length * maxFalsePositiveRate);
  const cut = benignScores[allowed] ?? 0;
  const threshold = Math.round(Math.max(0.25, Math.min(0.95, cut + 1e-4)) * 1e4) / 1e4;
  const attacks = prepared.filter((p) => p.attack).length;
  const caught = prepared.filter((p, i) => p.attack && (outOfFold[i] as number) >= threshold).length;
  const falsePositives = benignScores.filter((score) => score >= threshold).length;
  const model = trainLogisticRegression(prepared);
  return {
    version: 1,
    buckets: featureBuckets,
    bias: round(model.bias),
    threshold,
    weights: Array.from(model.weights, round),
    trainedOn: {
      corpus: options.corpusName ?? "unnamed",
      ...(options.corpusSha256 === undefined ? {} : { sha256: options.corpusSha256 }),
      examples: prepared.length,
      attacks,
      folds,
      outOfFoldRecall: round(caught / Math.max(1, attacks)),
      outOfFoldFalsePositiveRate: round(falsePositives / Math.max(1, benignScores.length)),
    },
  };
}

function round(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}
