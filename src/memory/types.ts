/** Where a fact came from. `user_input` and `assistant` are taken from a turn; `manual` is added by hand. */
export type FactSource = "user_input" | "assistant" | "skill" | "manual";
export const factSources: readonly FactSource[] = ["user_input", "assistant", "skill", "manual"];

/**
 * Which extractor found a fact: the rules, the model, or `both` when both found it. A fact added by hand (or
 * imported without it) has none.
 */
export type FactExtractor = "rules" | "model" | "both";
export const factExtractors: readonly FactExtractor[] = ["rules", "model", "both"];

/** The languages the rule extractor understands. */
export type Language = "es" | "en";

/**
 * One fact as the extractor produces it, before it is stored: (subject, relation, object) with a polarity.
 * See `extract/CONVENTIONS.md` for how subjects, relations and objects are written.
 */
export interface ExtractedFact {
  /** Display form: a name as written (capitalised), or `user` / `usuario` for the speaker. */
  subject: string;
  /** A canonical relation id in English snake_case (`lives_in`, `works_at`, `likes`, `sister`, …). */
  relation: string;
  /** Display form of the object, without leading articles. */
  object: string;
  /** 0..1: how sure the extractor is. */
  confidence: number;
  /** True when the utterance denies the relation ("no vive en Madrid"); the relation stays the positive one. */
  negated: boolean;
  /** Time expression attached to the fact when it is not the object itself ("desde 2019", "on Monday"). */
  when?: string;
  /** Which extractor found it, once rules and model output are merged (`mergeFacts`). */
  extractor?: FactExtractor;
}
