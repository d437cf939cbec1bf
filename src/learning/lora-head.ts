import { createHash } from "node:crypto";
import { createSeededRandom as seededRandom } from "../inference/gguf/index.js";

/**
 * The output head, `logits = W · h`, as llama.cpp stores it: `weight[o * nIn + i]` (ggml shape `[nIn, nOut]`).
 */
export interface OutputHead {
  nIn: number;
  nOut: number;
  weight: Float32Array;
}

/**
 * A LoRA on the output head: `logits = (W + (alpha / rank) · B · A) · h`. `a` is `rank × nIn` (`a[k * nIn + i]`,
 * ggml shape `[nIn, rank]`), `b` is `nOut × rank` (`b[o * rank + k]`, ggml shape `[rank, nOut]`): the layout of
 * llama.cpp's `output.weight.lora_a` and `.lora_b`.
 */
export interface LoraHead {
  rank: number;
  alpha: number;
  nIn: number;
  nOut: number;
  a: Float32Array;
  b: Float32Array;
}

/** One next-token prediction to learn or score: the hidden state that feeds the head, and the token that follows. */
export interface HeadPosition {
  hidden: Float32Array;
  target: number;
  /**
   * An anchor: training keeps the base head's whole distribution here (the loss is the KL divergence from the base
   * head's softmax) instead of teaching `target`. Scoring still reads `target`.
   */
  anchor?: boolean;
}

export interface NllResult {
  /** Mean negative log-likelihood per token, in nats. */
  nll: number;
  /** `exp(nll)`. */
  perplexity: number;
  /** Positions whose most likely token is the target. */
  top1: number;
  tokens: number;
}

/** Mean NLL of the targets under the head with `lora` applied (none: the base head). */
export function scoreHead(
  head: OutputHead,
  lora: LoraHead | undefined,
  positions: readonly HeadPosition[],
): NllResult {
  if (positions.length === 0) return { nll: 0, perplexity: 1, top1: 0, tokens: 0 };
  const logits = new Float64Array(head.nOut);
  const u = new Float64Array(lora?.rank ?? 0);
  let total = 0;
  let top1 = 0;
  for (const position of positions) {
    computeLogits(head, lora, position.hidden, logits, u);
    const { logSumExp, argmax } = summarise(logits);
    total += logSumExp - (logits[position.target] ?? 0);
    if (argmax === position.target) top1 += 1;
  }
  const nll = total / positions.length;
  return { nll, perplexity: Math.exp(nll), top1, tokens: positions.length };
}

export interface TrainOptions {
  rank: number;
  /** LoRA alpha; the update is scaled by `alpha / rank`. */
  alpha: number;
  learningRate: number;
  /** Optimizer steps at most. */
  steps: number;
  /** Positions per step. */
  batchSize: number;
  /** Decoupled weight decay (AdamW) on A and B. */
  weightDecay: number;
  /** How much an anchor position's KL counts against a taught position's cross-entropy. Default 1. */
  anchorWeight?: number;
  /** Seeds A's initialisation and the batch order. */
  seed: string;
  /** Stops early (keeping what was learnt) once this many ms have passed. */
  timeBudgetMs?: number;
  /** Called after each step; returning `false` stops (cancelled). */
  onStep?: (progress: StepProgress) => boolean | void;
  /** Resumes from a state saved by an earlier run with the same data and options. */
  resume?: TrainerState | undefined;
  /** How often `onCheckpoint` gets the state, in steps. */
  checkpointEvery?: number;
  onCheckpoint?: (state: TrainerState) => void;
  now?: () => number;
}

export interface StepProgress {
  step: number;
  steps: number;
  /** Mean loss of this step's batch. */
  loss: number;
  elapsedMs: number;
}

/** Everything needed to go on with a training run: the adapter, Adam's moments and where the run was. */
export interface TrainerState {
  /** Identifies the data and options; a state with another key is not resumed. */
  key: string;
  step: number;
  lora: LoraHead;
  mA: Float32Array;
  vA: Float32Array;
  mB: Float32Array;
  vB: Float32Array;
}

export interface TrainResult {
  lora: LoraHead;
  steps: number;
  /** Why it stopped before `steps`, if it did. */
  stopped?: "time_budget" | "cancelled";
  /** Loss of the first and last step. */
  firstLoss: number;
  lastLoss: number;
  resumedFrom?: number;
  elapsedMs: number;
}

const beta1 = 0.9;
const beta2 = 0.999;
const epsilon = 1e-8;

/**
 * Trains a LoRA on the output head by AdamW on the cross-entropy of the targets. The hidden states are fixed
 * (the adapter changes only the head), so a position costs one head product; `W · h` is computed once per
 * position and kept. A starts small and random (seeded), B at zero: the untrained adapter changes nothing.
 * Runs to the end in one go; {@link trainLoraHeadSteps} is the same run one step at a time.
 */
export function trainLoraHead(
  head: OutputHead,
  positions: readonly HeadPosition[],
  options: TrainOptions,
): TrainResult {
  const run = trainLoraHeadSteps(head, positions, options);
  for (;;) {
    const next = run.next();
    if (next.done === true) return next.value;
  }
}

/**
 * {@link trainLoraHead} as a generator that yields after every step (its progress) and between positions while it
 * prepares (`undefined`), so a caller can give the event loop back (a server keeps answering while it trains) and
 * write checkpoints as it goes.
 */
export function* trainLoraHeadSteps(
  head: OutputHead,
  positions: readonly HeadPosition[],
  options: TrainOptions,
): Generator<StepProgress | undefined, TrainResult, void> {
  if (positions.length === 0) throw new RangeError("no positions to train on");
  if (!(Number.isInteger(options.rank) && options.rank >= 1))
    throw new RangeError("rank must be an integer ≥ 1");
  if (!(Number.isInteger(options.batchSize) && options.batchSize >= 1))
    throw new RangeError("batchSize must be an integer ≥ 1");
  const now = options.now ?? (() => performance.now());
  const started = now();
  const key = trainingKey(head, positions, options);
  const resume = options.resume?.key === key ? cloneState(options.resume) : undefined;
  const resumedFrom = resume?.step;
  const state = resume ?? initialState(key, head, options);
  const { lora, mA, vA, mB, vB } = state;
  const { rank, nIn, nOut } = lora;
  const scale = lora.alpha / rank;
  // W · h once per position; a bare `yield` between positions lets a caller give the event loop a turn.
  const baseLogits: Float32Array[] = [];
  for (const position of positions) {
    const out = new Float32Array(nOut);
    const { weight } = head;
    for (let o = 0; o < nOut; o++) {
      let sum = 0;
      const row = o * nIn;
      for (let i = 0; i < nIn; i++) sum += (weight[row + i] ?? 0) * (position.hidden[i] ?? 0);
      out[o] = sum;
    }
    baseLogits.push(out);
    yield undefined;
  }
  const anchorWeight = options.anchorWeight ?? 1;
  const random = seededRandom(`${options.seed}:order`);
  const order = positions.map((_, index) => index);
  const gA = new Float64Array(rank * nIn);
  const gB = new Float64Array(nOut * rank);
  const logits = new Float64Array(nOut);
  const u = new Float64Array(rank);
  const gu = new Float64Array(rank);
  let cursor = order.length;
  // The batch order of a resumed run continues as the first run's would have.
  for (let skipped = 0; skipped < state.step * Math.min(options.batchSize, order.length); skipped++) {
    if (cursor >= order.length) {
      shuffle(order, random);
      cursor = 0;
    }
    cursor += 1;
  }
  let firstLoss = Number.NaN;
  let lastLoss = Number.NaN;
  let stopped: TrainResult["stopped"];
  const batchSize = Math.min(options.batchSize, order.length);
  while (state.step < options.steps) {
    gA.fill(0);
    gB.fill(0);
    let loss = 0;
    for (let n = 0; n < batchSize; n++) {
      if (cursor >= order.length) {
        shuffle(order, random);
        cursor = 0;
      }
      const index = order[cursor++] as number;
      const position = positions[index] as HeadPosition;
      const h = position.hidden;
      // u = A h; logits = W h + scale · B u
      for (let k = 0; k < rank; k++) {
        let sum = 0;
        const row = k * nIn;
        for (let i = 0; i < nIn; i++) sum += (lora.a[row + i] ?? 0) * (h[i] ?? 0);
        u[k] = sum;
      }
      const base = baseLogits[index] as Float32Array;
      for (let o = 0; o < nOut; o++) {
        let sum = 0;
        const row = o * rank;
        for (let k = 0; k < rank; k++) sum += (lora.b[row + k] ?? 0) * (u[k] ?? 0);
        logits[o] = (base[o] ?? 0) + scale * sum;
      }
      const { logSumExp } = summarise(logits);
      const baseLogSumExp = position.anchor === true ? logSumExpOf(base) : 0;
      const weight = position.anchor === true ? anchorWeight : 1;
      if (position.anchor === true) {
        // KL(base ‖ adapted) = Σ p (log p − log q)
        for (let o = 0; o < nOut; o++) {
          const logP = (base[o] ?? 0) - baseLogSumExp;
          loss += anchorWeight * Math.exp(logP) * (logP - ((logits[o] ?? 0) - logSumExp));
        }
      } else {
        loss += logSumExp - (logits[position.target] ?? 0);
      }
      // dL/dlogits = softmax − target distribution (one-hot, or the base softmax for an anchor);
      // gB = scale · g uᵀ; gu = scale · Bᵀ g; gA = gu hᵀ
      gu.fill(0);
      for (let o = 0; o < nOut; o++) {
        const wanted =
          position.anchor === true ? Math.exp((base[o] ?? 0) - baseLogSumExp) : o === position.target ? 1 : 0;
        const g = weight * (Math.exp((logits[o] ?? 0) - logSumExp) - wanted);
        if (g === 0) continue;
        const row = o * rank;
        for (let k = 0; k < rank; k++) {
          gB[row + k] = (gB[row + k] ?? 0) + scale * g * (u[k] ?? 0);
          gu[k] = (gu[k] ?? 0) + scale * g * (lora.b[row + k] ?? 0);
        }
      }
      for (let k = 0; k < rank; k++) {
        const row = k * nIn;
        const guk = gu[k] ?? 0;
        for (let i = 0; i < nIn; i++) gA[row + i] = (gA[row + i] ?? 0) + guk * (h[i] ?? 0);
      }
    }
    state.step += 1;
    adamStep(lora.a, gA, mA, vA, state.step, options, batchSize);
    adamStep(lora.b, gB, mB, vB, state.step, options, batchSize);
    lastLoss = loss / batchSize;
    if (Number.isNaN(firstLoss)) firstLoss = lastLoss;
    const elapsedMs = now() - started;
    if (options.checkpointEvery !== undefined && state.step % options.checkpointEvery === 0)
      options.onCheckpoint?.(state);
    const progress = { step: state.step, steps: options.steps, loss: lastLoss, elapsedMs };
    if (options.onStep?.(progress) === false) {
      stopped = "cancelled";
      break;
    }
    yield progress;
    if (
      options.timeBudgetMs !== undefined &&
      elapsedMs >= options.timeBudgetMs &&
      state.step < options.steps
    ) {
      stopped = "time_budget";
      break;
    }
  }
  options.onCheckpoint?.(state);
  return {
    lora,
    steps: state.step,
    ...(stopped === undefined ? {} : { stopped }),
    firstLoss,
    lastLoss,
    ...(resumedFrom === undefined ? {} : { resumedFrom }),
    elapsedMs: now() - started,
  };
}

function cloneState(state: TrainerState): TrainerState {
  return {
    key: state.key,
    step: state.step,
    lora: { ...state.lora, a: state.lora.a.slice(), b: state.lora.b.slice() },
    mA: state.mA.slice(),
    vA: state.vA.slice(),
    mB: state.mB.slice(),
    vB: state.vB.slice(),
  };
}

/**
 * Identifies a run: the head's size, the positions and the options that change the result (put the model's hash in
 * the seed to tell two models of one size apart).
 */
export function trainingKey(
  head: OutputHead,
  positions: readonly HeadPosition[],
  options: Pick<
    TrainOptions,
    "rank" | "alpha" | "learningRate" | "batchSize" | "weightDecay" | "seed" | "anchorWeight"
  >,
): string {
  const hash = createHash("sha256");
  hash.update(
    JSON.stringify([
      head.nIn,
      head.nOut,
      options.rank,
      options.alpha,
      options.learningRate,
      options.batchSize,
    ]),
  );
  hash.update(
    JSON.stringify([options.weightDecay, options.seed, positions.length, options.anchorWeight ?? 1]),
  );
  for (const position of positions) {
    hash.update(Buffer.from(position.hidden.buffer, position.hidden.byteOffset, position.hidden.byteLength));
    hash.update(`${position.target}${position.anchor === true ? "a" : ""}`);
  }
  return hash.digest("hex").slice(0, 32);
}

function initialState(key: string, head: OutputHead, options: TrainOptions): TrainerState {
  const { rank } = options;
  const { nIn, nOut } = head;
  const random = seededRandom(`${options.seed}:init`);
  const a = new Float32Array(rank * nIn);
  const spread = 1 / Math.sqrt(nIn);
  for (let index = 0; index < a.length; index++) a[index] = (random() * 2 - 1) * spread;
  return {
    key,
    step: 0,
    lora: { rank, alpha: options.alpha, nIn, nOut, a, b: new Float32Array(nOut * rank) },
    mA: new Float32Array(a.length),
    vA: new Float32Array(a.length),
    mB: new Float32Array(nOut * rank),
    vB: new Float32Array(nOut * rank),
  };
}

function adamStep(
  param: Float32Array,
  gradSum: Float64Array,
  m: Float32Array,
  v: Float32Array,
  step: number,
  options: TrainOptions,
  batchSize: number,
): void {
  const correction1 = 1 - beta1 ** step;
  const correction2 = 1 - beta2 ** step;
  const { learningRate, weightDecay } = options;
  for (let index = 0; index < param.length; index++) {
    const g = (gradSum[index] ?? 0) / batchSize;
    const mi = beta1 * (m[index] ?? 0) + (1 - beta1) * g;
    const vi = beta2 * (v[index] ?? 0) + (1 - beta2) * g * g;
    m[index] = mi;
    v[index] = vi;
    const p = param[index] ?? 0;
    param[index] =
      p - learningRate * (mi / correction1 / (Math.sqrt(vi / correction2) + epsilon) + weightDecay * p);
  }
}

function computeLogits(
  head: OutputHead,
  lora: LoraHead | undefined,
  h: Float32Array,
  out: Float64Array,
  u: Float64Array,
): void {
  const { nIn, nOut, weight } = head;
  for (let o = 0; o < nOut; o++) {
    let sum = 0;
    const row = o * nIn;
    for (let i = 0; i < nIn; i++) sum += (weight[row + i] ?? 0) * (h[i] ?? 0);
    out[o] = sum;
  }
  if (lora === undefined) return;
  const { rank } = lora;
  const scale = lora.alpha / rank;
  for (let k = 0; k < rank; k++) {
    let sum = 0;
    const row = k * nIn;
    for (let i = 0; i < nIn; i++) sum += (lora.a[row + i] ?? 0) * (h[i] ?? 0);
    u[k] = sum;
  }
  for (let o = 0; o < nOut; o++) {
    let sum = 0;
    const row = o * rank;
    for (let k = 0; k < rank; k++) sum += (lora.b[row + k] ?? 0) * (u[k] ?? 0);
    out[o] = (out[o] ?? 0) + scale * sum;
  }
}

function summarise(logits: Float64Array): { logSumExp: number; argmax: number } {
  let argmax = 0;
  let max = -Infinity;
  for (let o = 0; o < logits.length; o++) {
    const value = logits[o] ?? -Infinity;
    if (value > max) {
      max = value;
      argmax = o;
    }
  }
  let sum = 0;
  for (let o = 0; o < logits.length; o++) sum += Math.exp((logits[o] ?? 0) - max);
  return { logSumExp: max + Math.log(sum), argmax };
}

function logSumExpOf(values: Float32Array): number {
  let max = -Infinity;
  for (const value of values) if (value > max) max = value;
  let sum = 0;
  for (const value of values) sum += Math.exp(value - max);
  return max + Math.log(sum);
}

function shuffle(order: number[], random: () => number): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
}
