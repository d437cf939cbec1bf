import type { LlamaModel } from "node-llama-cpp";
import type { SpeculativeStats } from "./speculative.js";

/**
 * Why a draft model cannot serve a main model, or undefined when it can. Drafted token ids are checked by
 * the main model as its own ids, so both must share one vocabulary: the same tokenizer type and size, the
 * same special tokens, and the same text for every token.
 */
export function draftIncompatibility(main: LlamaModel, draft: LlamaModel): string | undefined {
  if (main.vocabularyType !== draft.vocabularyType) {
    return `vocabulary types differ (main ${main.vocabularyType}, draft ${draft.vocabularyType})`;
  }
  const mainTokens = vocabularyOf(main);
  const draftTokens = vocabularyOf(draft);
  if (mainTokens.length !== draftTokens.length) {
    return `vocabulary sizes differ (main ${mainTokens.length} tokens, draft ${draftTokens.length})`;
  }
  for (const name of ["bos", "eos", "eot", "sep", "nl"] as const) {
    const a = main.tokens[name];
    const b = draft.tokens[name];
    if (a !== b) return `special token ${name} differs (main ${String(a)}, draft ${String(b)})`;
  }
  if (main.tokens.shouldPrependBosToken !== draft.tokens.shouldPrependBosToken) {
    return "one model prepends a BOS token and the other does not";
  }
  for (let id = 0; id < mainTokens.length; id++) {
    if (mainTokens[id] !== draftTokens[id]) {
      return `token ${id} differs (main ${JSON.stringify(mainTokens[id])}, draft ${JSON.stringify(draftTokens[id])})`;
    }
  }
  return undefined;
}

function vocabularyOf(model: LlamaModel): readonly string[] {
  const tokens = model.fileInfo.metadata.tokenizer?.ggml?.tokens;
  if (Array.isArray(tokens)) return tokens as readonly string[];
  // No token list in the metadata: compare what the tokenizer renders instead.
  const size = model.fileInfo.tensorInfo?.find((t) => t.name === "token_embd.weight")?.dimensions[1];
  const count = typeof size === "bigint" ? Number(size) : (size ?? 0);
  return Array.from({ length: count }, (_, id) => model.detokenize([id as never], true));
}

export interface DraftPairOptions {
  /** Requests in a row that fall back before the pair is paused. */
  fallbackAfter: number;
  /** How long a paused pair decodes plain before it probes the draft again, in ms. */
  cooldownMs: number;
  now?: () => number;
}

export type DraftPairState =
  | { state: "active" }
  | { state: "paused"; until: number; reason: string }
  | { state: "refused"; reason: string };

/**
 * The health of one main/draft pair across requests: the rolling acceptance and speedup the metrics show, the
 * draft length the next request starts with, and when the pair decodes plain for a while because the draft
 * keeps missing (paused), or for good because it cannot serve this main model (refused).
 */
export class DraftPair {
  readonly #options: DraftPairOptions;
  readonly #now: () => number;
  #state: DraftPairState = { state: "active" };
  #lowInARow = 0;
  #acceptance: number | undefined;
  #speculativeMsPerToken: number | undefined;
  #plainMsPerToken: number | undefined;
  #draftTokens: number | undefined;

  constructor(options: DraftPairOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Whether the next request may speculate; a paused pair whose cooldown is over probes again. */
  get state(): DraftPairState {
    if (this.#state.state === "paused" && this.#now() >= this.#state.until) this.#state = { state: "active" };
    return this.#state;
  }

  /** Decodes without the draft for `ms` (after a stall, or when the draft keeps missing). */
  pause(ms: number, reason: string): void {
    if (this.#state.state === "refused") return;
    this.#state = { state: "paused", until: this.#now() + ms, reason };
  }

  refuse(reason: string): void {
    this.#state = { state: "refused", reason };
  }

  /** Rolling share of drafted tokens the main model kept. */
  get acceptanceRate(): number | undefined {
    return this.#acceptance;
  }

  /** Rolling speculative tokens/s over plain tokens/s, both measured on this pair's requests. */
  get speedup(): number | undefined {
    if (this.#speculativeMsPerToken === undefined || this.#plainMsPerToken === undefined) return undefined;
    return this.#plainMsPerToken / this.#speculativeMsPerToken;
  }

  /** The draft length the next request starts with: where the last one ended. */
  get draftTokens(): number | undefined {
    return this.#draftTokens;
  }

  /** Records the speed of a generation that ran without the draft (paused pair, grammar): the baseline. */
  recordPlain(milliseconds: number, tokens: number): void {
    if (tokens > 0) this.#plainMsPerToken = ema(this.#plainMsPerToken, milliseconds / tokens, 0.2);
  }

  /** Records a finished request; returns true when this request paused the pair. */
  record(stats: SpeculativeStats): boolean {
    if (stats.drafted > 0) this.#acceptance = ema(this.#acceptance, stats.accepted / stats.drafted, 0.2);
    if (stats.speculativeTokens > 0) {
      this.#speculativeMsPerToken = ema(
        this.#speculativeMsPerToken,
        stats.speculativeMs / stats.speculativeTokens,
        0.2,
      );
    }
    if (stats.plainTokens > 0) {
      this.#plainMsPerToken = ema(this.#plainMsPerToken, stats.plainMs / stats.plainTokens, 0.2);
    }
    this.#draftTokens = stats.finalDraftTokens;
    if (!stats.fellBack) {
      this.#lowInARow = 0;
      return false;
    }
    this.#lowInARow++;
    if (this.#lowInARow < this.#options.fallbackAfter || this.#state.state !== "active") return false;
    this.#lowInARow = 0;
    this.#draftTokens = undefined;
    this.#state = {
      state: "paused",
      until: this.#now() + this.#options.cooldownMs,
      reason: `the draft's acceptance stayed under the floor for ${this.#options.fallbackAfter} requests`,
    };
    return true;
  }
}

function ema(previous: number | undefined, value: number, weight: number): number {
  return previous === undefined ? value : previous + weight * (value - previous);
}
