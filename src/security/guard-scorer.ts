import { createRandom } from "../shared/index.js";
import { matchGuardCues, matchSomeGuardCues } from "./guard-cues.js";
import { normalizeForGuard, type NormalizedText } from "./guard-normalize.js";
import { matchGuardRules, splitQuotes, type RuleMatch } from "./guard-rules.js";

/**
 * The guard's third layer: a logistic regression over hashed features of the text's readings — character
 * 3–5-grams, words and word pairs — plus the rules that matched, the normaliser's signals, the cues
 * (`guard-cues.ts`) and every pair of cues, which rules and cues appear only inside quotation marks, whether the text
 * asks a question, and its length. Trained at build time (`npm run train:guard`) on `bench/data/guard-train*.jsonl`;
 * the weights ship as `src/security/guard-weights.json`.
 */

/** Feature space: 2^15 hashed buckets (collisions among the ~100k distinct features cost little here). */
export const featureBuckets = 1 << 15;

/** The least score of a text a decisive rule matches: above any threshold training may choose (at most 0.95). */
export const decisiveScore = 0.99;

/**
 * The value of a flag feature (a rule, signal, cue, pair of cues, length): a quarter of the unit-length n-grams. At
 * one, the flags outweighed the text and the scorer leaned on the rules' phrasings (out-of-fold recall on the training
 * split 86% instead of 91% at the same false positives).
 */
export const flagValue = 0.25;

export interface GuardWeights {
  version: 2;
  buckets: number;
  bias: number;
  /** Score at or above which a text is an attack (chosen on out-of-fold training scores). */
  threshold: number;
  /**
   * Strong rules that decide on their own (lift the score to `decisiveScore`) outside an analysis of attacks: those
   * that matched at least three training attacks and no benign training text. The others are evidence for the scorer.
   */
  decisiveRules: string[];
  /** Dense weights, rounded; `buckets` long. */
  weights: number[];
  /** How the weights were made: corpus, its hash, sizes, out-of-fold figures. */
  trainedOn: Record<string, unknown>;
}

/** A sparse feature vector: bucket → value. */
export type Features = Map<number, number>;

const fnvOffset = 0x811c9dc5;
const fnvPrime = 0x01000193;

/** FNV-1a, 32 bits. */
function hash(text: string): number {
  let h = fnvOffset;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, fnvPrime);
  }
  return h >>> 0;
}

const charGramSeed = Math.imul(fnvOffset ^ "c".charCodeAt(0), fnvPrime);

/** Scratch counts for `textFeatures`, all zero between calls. */
const gramCounts = new Float64Array(featureBuckets);

/** The bucket of a named feature (a flag such as `rule:override_en` or `cue:frame+harm`). */
export function featureBucket(key: string): number {
  return hash(key) % featureBuckets;
}

/**
 * The n-gram features of a text's readings: character 3–5-grams, words and word pairs, log-scaled counts, unit
 * length.
 */
export function textFeatures(readings: readonly string[]): Features {
  // Counted in a reused dense array, not a map: this loop runs three times per character of every text.
  const touched: number[] = [];
  const add = (bucket: number) => {
    if (gramCounts[bucket] === 0) touched.push(bucket);
    gramCounts[bucket] = (gramCounts[bucket] as number) + 1;
  };
  for (const reading of readings) {
    const padded = ` ${reading.replace(/[^\p{L}\p{N}]+/gu, " ").trim()} `;
    // Character 3-, 4- and 5-grams, hashed as they are read (the hash of "c" + the gram, without slicing).
    for (let i = 0; i + 3 <= padded.length; i++) {
      let h = charGramSeed;
      for (let n = 1; n <= 5 && i + n <= padded.length; n++) {
        h = Math.imul(h ^ padded.charCodeAt(i + n - 1), fnvPrime);
        if (n >= 3) add((h >>> 0) % featureBuckets);
      }
    }
    const words = padded.trim().split(" ");
    for (let i = 0; i < words.length; i++) {
      add(hash(`w${words[i] as string}`) % featureBuckets);
      if (i + 1 < words.length)
        add(hash(`b${words[i] as string} ${words[i + 1] as string}`) % featureBuckets);
    }
  }
  // Sublinear counts, unit length: a long document is not more of an attack for being long.
  let norm = 0;
  for (const bucket of touched) {
    const value = Math.log1p(gramCounts[bucket] as number);
    gramCounts[bucket] = value;
    norm += value * value;
  }
  norm = Math.sqrt(norm) || 1;
  const features: Features = new Map();
  for (const bucket of touched) {
    features.set(bucket, (gramCounts[bucket] as number) / norm);
    gramCounts[bucket] = 0;
  }
  return features;
}

/** The features of one text, from its normalised readings and the rules that matched. */
export function extractFeatures(normalized: NormalizedText, rules: RuleMatch): Features {
  const readings = [normalized.folded, ...normalized.variants];
  const features = textFeatures(readings);
  const flag = (key: string) => {
    const bucket = featureBucket(key);
    features.set(bucket, (features.get(bucket) ?? 0) + flagValue);
  };
  for (const id of rules.rules) flag(`rule:${id}`);
  for (const id of rules.quoted) flag(`quoted:${id}`);
  if (rules.quoted.length > 0) flag("quoted");
  for (const signal of normalized.signals) flag(`signal:${signal}`);
  const cues = matchGuardCues(readings);
  for (let i = 0; i < cues.length; i++) {
    flag(`cue:${cues[i] as string}`);
    for (let j = i + 1; j < cues.length; j++) flag(`cue:${cues[i] as string}+${cues[j] as string}`);
  }
  // A cue found only inside quotation marks belongs to a text being quoted.
  const { outside, quoted } = splitQuotes(normalized.folded);
  if (quoted.length > 0 && cues.length > 0) {
    const outsideCues = new Set(matchSomeGuardCues(outside, cues));
    for (const cue of cues) if (!outsideCues.has(cue)) flag(`qcue:${cue}`);
  }
  if (rules.analysis) flag("analysis");
  if (rules.decisive) flag("decisive");
  const length = normalized.folded.length;
  flag(
    length < 80
      ? "length:short"
      : length < 300
        ? "length:medium"
        : length < 1200
          ? "length:long"
          : "length:document",
  );
  return features;
}

/** A text as the scorer reads it: normalised, the rules run, its features and those of each variant alone. */
export interface GuardReading {
  normalized: NormalizedText;
  rules: RuleMatch;
  features: Features;
  /** Each variant (a decoded payload, the de-leeted text…) read as a text of its own. */
  variantFeatures: Features[];
}

/** Normalises a text, runs the rules, and extracts the features the scorer reads. */
export function readForGuard(text: string): GuardReading {
  const normalized = normalizeForGuard(text);
  const rules = matchGuardRules([normalized.folded, ...normalized.variants]);
  // A payload judged inside its wrapper is diluted by the wrapper's words; judged alone it says what it is.
  const variantFeatures = normalized.variants.map((variant) =>
    extractFeatures({ folded: variant, variants: [], signals: [] }, matchGuardRules([variant])),
  );
  return { normalized, rules, features: extractFeatures(normalized, rules), variantFeatures };
}

/**
 * The score of a reading: the learned score of the whole text or of a variant alone, whichever is higher, lifted to
 * `decisiveScore` when a decisive rule matched outside quotation marks and outside an analysis of attacks.
 */
export function scoreReading(
  weights: Pick<GuardWeights, "bias" | "weights" | "decisiveRules">,
  reading: GuardReading,
): number {
  let score = scoreFeatures(weights, reading.features);
  for (const features of reading.variantFeatures) score = Math.max(score, scoreFeatures(weights, features));
  if (decidingRules(reading.rules).some((id) => weights.decisiveRules.includes(id)))
    score = Math.max(score, decisiveScore);
  return score;
}

/** The rules that may decide a text: none in an analysis of attacks, and none matched only inside quotation marks. */
export function decidingRules(rules: RuleMatch): string[] {
  return rules.analysis ? [] : rules.rules.filter((id) => !rules.quoted.includes(id));
}

/** The attack probability a weight set gives a feature vector. */
export function scoreFeatures(weights: Pick<GuardWeights, "bias" | "weights">, features: Features): number {
  let z = weights.bias;
  for (const [bucket, value] of features) z += (weights.weights[bucket] ?? 0) * value;
  return 1 / (1 + Math.exp(-z));
}

export interface TrainingExample {
  features: Features;
  attack: boolean;
}

export interface TrainOptions {
  epochs?: number;
  /** L2 penalty per example. Default: 1e-4. */
  l2?: number;
  learningRate?: number;
  seed?: number;
}

/**
 * Fits the logistic regression with AdaGrad over seeded shuffles (deterministic for a given corpus and seed);
 * classes are weighted to count equally.
 */
export function trainLogisticRegression(
  examples: readonly TrainingExample[],
  options: TrainOptions = {},
): { bias: number; weights: Float64Array } {
  const { epochs = 40, l2 = 1e-4, learningRate = 0.5, seed = 1 } = options;
  const weights = new Float64Array(featureBuckets);
  const squares = new Float64Array(featureBuckets).fill(1e-8);
  let bias = 0;
  let biasSquares = 1e-8;
  const attacks = examples.filter((e) => e.attack).length;
  const classWeight = {
    attack: examples.length / (2 * Math.max(1, attacks)),
    benign: examples.length / (2 * Math.max(1, examples.length - attacks)),
  };
  const random = createRandom(seed);
  const order = examples.map((_, i) => i);
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    for (const index of order) {
      const example = examples[index] as TrainingExample;
      const p = scoreFeatures({ bias, weights: weights as unknown as number[] }, example.features);
      const error = (p - (example.attack ? 1 : 0)) * classWeight[example.attack ? "attack" : "benign"];
      for (const [bucket, value] of example.features) {
        const gradient = error * value + l2 * (weights[bucket] as number);
        squares[bucket] = (squares[bucket] as number) + gradient * gradient;
        weights[bucket] =
          (weights[bucket] as number) - (learningRate * gradient) / Math.sqrt(squares[bucket]);
      }
      biasSquares += error * error;
      bias -= (learningRate * error) / Math.sqrt(biasSquares);
    }
  }
  return { bias, weights };
}
