import type { GuardTechnique } from "./guard-rules.js";
import { readForGuard, scoreReading, type GuardWeights } from "./guard-scorer.js";
import shippedWeights from "./guard-weights.json" with { type: "json" };

/** Where a text comes from: the user's own turn, or something from outside it that reaches the model. */
export const guardSources = ["user", "memory", "skill", "tool", "web", "image", "file"] as const;
export type GuardSource = (typeof guardSources)[number];

/** What a hit does: refuse the request, cut the offending parts out, or let it through marked. */
export const guardActions = ["block", "sanitize", "flag"] as const;
export type GuardAction = (typeof guardActions)[number];

export interface GuardVerdict {
  verdict: "attack" | "benign";
  /** Attack probability, 0–1 (a decisive rule lifts it to at least `decisiveScore`, above any threshold). */
  score: number;
  /** The techniques the rules named; `classifier` when only the scorer saw an attack. */
  techniques: (GuardTechnique | "classifier")[];
  /** The rules that matched and the normaliser's signals: the evidence. */
  rules: string[];
  signals: string[];
}

export interface ScreenResult {
  source: GuardSource;
  verdict: GuardVerdict;
  /** `allow` for benign text; else the source's policy. */
  action: "allow" | GuardAction;
  /** The text to use: the original, or with the offending sentences removed (`sanitize`). */
  text: string;
}

export interface InjectionGuardOptions {
  /** The scorer's weights. Default: the shipped `guard-weights.json`. */
  weights?: GuardWeights;
  /** Attack threshold on the score. Default: the one chosen at training. */
  threshold?: number;
  /** What a hit does, per source. Default: `flag` for the user's own turn, `sanitize` for everything else. */
  policy?: Partial<Record<GuardSource, GuardAction>>;
  /** Characters read: the first and last halves of this many (an override at the end of a long text counts). */
  maxChars?: number;
  /** Called for every screened text (metrics, audit). */
  onScreen?: (result: ScreenResult) => void;
}

export const defaultGuardPolicy: Readonly<Record<GuardSource, GuardAction>> = {
  user: "flag",
  memory: "sanitize",
  skill: "sanitize",
  tool: "sanitize",
  web: "sanitize",
  image: "sanitize",
  file: "sanitize",
};

/** What replaces a sentence the guard cut out. */
export const removedMarker = "[removed by the injection guard]";

/**
 * The prompt-injection guard: normalisation (confusables, invisible characters, leetspeak, encodings,
 * spacing), Spanish and English rules, and a trained scorer. `check` classifies a text; `screen` applies the
 * source's policy. Synchronous and cheap (a fraction of a millisecond for a chat message).
 */
export class InjectionGuard {
  readonly #weights: GuardWeights;
  readonly #threshold: number;
  readonly #policy: Record<GuardSource, GuardAction>;
  readonly #maxChars: number;
  readonly #onScreen: ((result: ScreenResult) => void) | undefined;

  constructor(options: InjectionGuardOptions = {}) {
    this.#weights = options.weights ?? (shippedWeights as GuardWeights);
    this.#threshold = options.threshold ?? this.#weights.threshold;
    this.#policy = { ...defaultGuardPolicy, ...options.policy };
    this.#maxChars = options.maxChars ?? 32_000;
    this.#onScreen = options.onScreen;
  }

  get threshold(): number {
    return this.#threshold;
  }

  /** What a hit from `source` does under this guard's policy. */
  policyFor(source: GuardSource): GuardAction {
    return this.#policy[source];
  }

  /** Classifies one text. Never throws; empty text is benign. */
  check(text: string): GuardVerdict {
    const read = this.#bounded(text);
    if (read.trim() === "") return { verdict: "benign", score: 0, techniques: [], rules: [], signals: [] };
    const reading = readForGuard(read);
    const { normalized, rules } = reading;
    const score = scoreReading(this.#weights, reading);
    const attack = score >= this.#threshold;
    return {
      verdict: attack ? "attack" : "benign",
      score: Math.round(score * 1e4) / 1e4,
      techniques: attack ? (rules.techniques.length > 0 ? rules.techniques : ["classifier"]) : [],
      rules: rules.rules,
      signals: normalized.signals,
    };
  }

  /** Classifies a text from `source` and applies that source's policy. */
  screen(text: string, source: GuardSource): ScreenResult {
    const verdict = this.check(text);
    let result: ScreenResult;
    if (verdict.verdict === "benign") result = { source, verdict, action: "allow", text };
    else {
      const action = this.#policy[source];
      result = { source, verdict, action, text: action === "sanitize" ? this.sanitize(text) : text };
    }
    this.#onScreen?.(result);
    return result;
  }

  /**
   * The text without its offending sentences (each replaced by a marker); the whole text becomes the marker when
   * what is left still reads as an attack (an instruction split across sentences).
   */
  sanitize(text: string): string {
    const pieces = text.split(/(?<=[.!?。\n])\s+/u);
    const kept = pieces.map((piece) => (this.check(piece).verdict === "attack" ? removedMarker : piece));
    const joined = kept.join(" ");
    return this.check(joined.replaceAll(removedMarker, "")).verdict === "attack" ? removedMarker : joined;
  }

  #bounded(text: string): string {
    if (typeof text !== "string") return "";
    if (text.length <= this.#maxChars) return text;
    const half = Math.floor(this.#maxChars / 2);
    return `${text.slice(0, half)}\n${text.slice(-half)}`;
  }
}
