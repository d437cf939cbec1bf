import { createRandom } from "../shared/index.js";
import type { NormalizedText } from "./guard-normalize.js";
import type { RuleMatch } from "./guard-rules.js";

/**
 * The guard's third layer: a logistic regression over hashed features of the text's readings — character
 * 3–5-grams, words and word pairs — plus the rules that matched and the normaliser's signals. Trained at build
 * time (`npm run train:guard`) on `bench/data/guard-train.jsonl`; the weights ship as
 * `src/security/guard-weights.json`.
 */

/** Feature space: 2^15 hashed buckets (collisions among ~40k distinct features cost little here). */
export const featureBuckets = 1 << 15;

/** The least score of a text a strong rule decides: above any threshold training may choose (at most 0.95). */
export const decisiveScore = 0.99;

export interface GuardWeights {
  version: 1;
  buckets: number;
  bias: number;
  /** Score at or above which a text is an attack (chosen on out-of-fold training scores). */
  threshold: number;
  /** Dense weights, rounded; `buckets` long. */
  weights: number[];
  /** How the weights were made: corpus, its hash, sizes, out-of-fold figures. */
  trainedOn: Record<string, unknown>;
}

/** A sparse feature vector: bucket → value. */
export type Features = Map<number, number>;

/** FNV-1a, 32 bits. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The features of one text, from its normalised readings and the rules that matched. */
export function extractFeatures(normalized: NormalizedText, rules: RuleMatch): Features {
  const grams = new Map<number, number>();
  const bump = (key: string) => {
    const bucket = hash(key) % featureBuckets;
    grams.set(bucket, (grams.get(bucket) ?? 0) + 1);
  };
  for (const reading of [normalized.folded, ...normalized.variants]) {
    const padded = ` ${reading.replace(/[^\p{L}\p{N}]+/gu, " ").trim()} `;
    for (let n = 3; n <= 5; n++) {
      for (let i = 0; i + n <= padded.length; i++) bump(`c${padded.slice(i, i + n)}`);
    }
    const words = padded.trim().split(" ");
    for (let i = 0; i < words.length; i++) {
      bump(`w${words[i]}`);
      if (i + 1 < words.length) bump(`b${words[i]} ${words[i + 1]}`);
    }
  }
  // Sublinear counts, unit length: a long document is not more of an attack for being long.
  let norm = 0;
  for (const [bucket, count] of grams) {
    const value = Math.log1p(count);
    grams.set(bucket, value);
    norm += value * value;
  }
  norm = Math.sqrt(norm) || 1;
  const features: Features = new Map();
  for (const [bucket, value] of grams) features.set(bucket, value / norm);
  const flag = (key: string) => {
    const bucket = hash(key) % featureBuckets;
    features.set(bucket, (features.get(bucket) ?? 0) + 1);
  };
  for (const id of rules.rules) flag(`rule:${id}`);
  for (const signal of normalized.signals) flag(`signal:${signal}`);
  if (rules.analysis) flag("analysis");
  if (rules.decisive) flag("decisive");
  return features;
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
