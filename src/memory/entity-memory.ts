import { AppError } from "../shared/index.js";
import type { EntityStore, Fact, RememberResult } from "./entity-store.js";
import { detectLanguage, extractFacts } from "./extract/index.js";
import { mergeFacts, parseModelOutput, type JsonModel, buildExtractionRequest } from "./model-extraction.js";
import { normalizeKey } from "./normalize.js";
import { normalizeRelation, speakerSubjects } from "./relations.js";
import type { ExtractedFact, FactSource, Language } from "./types.js";

/**
 * Who extracts facts: `rules` (no model), `model` (the model alone, under a JSON-schema grammar) or `both`
 * (rules at once, the model's share merged after the answer, each fact keeping which extractor found it).
 */
export type MemoryExtractor = "rules" | "model" | "both";

/** Counters of the model extractor since start. */
export interface ModelExtractionStats {
  /** Answers asked of the model. */
  requests: number;
  /** Requests that failed (an error, an invalid or malformed answer): nothing of them was stored. */
  failures: number;
  /** Items of answers dropped because they were not a valid fact. */
  invalidFacts: number;
  /** Items dropped because their relation is outside the vocabulary. */
  unknownRelations: number;
  /** Facts the model found, after validation. */
  facts: number;
}

export interface EntityMemoryOptions {
  store: EntityStore;
  /** Characters of a text the extractor reads; the rest is ignored and reported as cut. */
  maxExtractChars: number;
  /** Tokens of facts put into the system prompt (estimated at 4 characters a token). */
  recallTokens: number;
  /** Most facts put into one turn. */
  recallLimit: number;
  /** Store facts from the assistant's replies too. */
  storeAssistantFacts: boolean;
  /** The model `model` and `both` extract with, under a JSON-schema grammar; without it only the rules run. */
  model?: JsonModel;
  /** Who extracts facts. Default: `both` when a model is given, else `rules`. */
  extractor?: MemoryExtractor;
  /** Called when model extraction fails (an error or a malformed answer); counted in `modelStats`. */
  onModelError?: (error: unknown) => void;
}

export interface ExtractionResult {
  language: Language;
  facts: ExtractedFact[];
  /** True when the text was longer than the limit and only its start was read. */
  truncated: boolean;
  /** Characters read. */
  chars: number;
}

export interface LearnOptions {
  userId: string;
  text: string;
  source: FactSource;
  messageId?: string;
  language?: Language;
  signal?: AbortSignal;
}

export interface LearnResult {
  extraction: ExtractionResult;
  results: RememberResult[];
}

/** What a turn gets from memory: the facts chosen and the system-prompt block that lists them. */
export interface RecallContext {
  facts: Fact[];
  /** Empty when there is nothing to say. */
  prompt: string;
  /** Estimated tokens of `prompt`. */
  tokens: number;
}

/** Confidence a fact gets from each source when the extractor is fully sure (the 0.9 user, 0.7 reply). */
const sourceConfidence: Record<FactSource, number> = {
  user_input: 0.9,
  assistant: 0.7,
  skill: 0.8,
  manual: 0.95,
};
/** The extractor's confidence for a direct pattern; scaled to the source's. */
const fullExtractorConfidence = 0.9;
const charsPerToken = 4;
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Entity memory as the assistant uses it: facts out of text (rules, plus a model when configured), into the
 * store, and back into a turn's system prompt within a token budget.
 */
export class EntityMemory {
  readonly store: EntityStore;
  /** Who extracts facts; `rules` whenever no model was given. */
  readonly extractor: MemoryExtractor;
  readonly #options: EntityMemoryOptions;
  readonly #modelStats: ModelExtractionStats = {
    requests: 0,
    failures: 0,
    invalidFacts: 0,
    unknownRelations: 0,
    facts: 0,
  };

  constructor(options: EntityMemoryOptions) {
    this.store = options.store;
    this.#options = options;
    this.extractor = options.model === undefined ? "rules" : (options.extractor ?? "both");
  }

  /**
   * Rule extraction only: synchronous, for the CLI and tests. Relations come out canonical (`moved_to` is filed
   * under `lives_in`), each fact marked `rules`.
   */
  extractRules(text: string, language?: Language): ExtractionResult {
    const { text: read, truncated } = this.#cut(text);
    const detected = language ?? detectLanguage(read);
    const facts = extractFacts(read, detected).map((fact): ExtractedFact => ({
      ...fact,
      relation: normalizeRelation(fact.relation) ?? fact.relation,
      extractor: "rules",
    }));
    return { language: detected, facts, truncated, chars: read.length };
  }

  /**
   * Facts as the configured extractor finds them: the rules, the model's (its failures give none), or both
   * merged with their provenance (a model failure leaves the rules').
   */
  async extract(
    text: string,
    options: { language?: Language; signal?: AbortSignal } = {},
  ): Promise<ExtractionResult> {
    const result = this.extractRules(text, options.language);
    if (this.extractor === "rules") return result;
    const model = await this.#modelFacts(text, result, options.signal);
    if (this.extractor === "model")
      return { ...result, facts: model.map((fact) => ({ ...fact, extractor: "model" })) };
    return { ...result, facts: mergeFacts(result.facts, model) };
  }

  /** Whether a model extracts facts (`model` or `both` with a model). */
  get hasModel(): boolean {
    return this.extractor !== "rules";
  }

  /** The model extractor's counters since start. */
  get modelStats(): Readonly<ModelExtractionStats> {
    return { ...this.#modelStats };
  }

  /**
   * Extracts facts from a message with the rules and stores them with the source's confidence (user 0.9, reply
   * 0.7, scaled by the extractor's own confidence). Synchronous: a turn's facts are stored before its answer is
   * returned. From a reply, first-person facts are dropped: the assistant's "I" is not the user. With the
   * extractor `model` the rules are off and this stores nothing: `learnFromModel` does the work.
   */
  learn(options: LearnOptions): LearnResult {
    if (
      (options.source === "assistant" && !this.#options.storeAssistantFacts) ||
      this.extractor === "model"
    ) {
      return { extraction: { language: "en", facts: [], truncated: false, chars: 0 }, results: [] };
    }
    const extraction = this.extractRules(options.text, options.language);
    return { extraction, results: this.#store(extraction.facts, options) };
  }

  /**
   * The model's share of `learn`, to run after the answer. With `both`: facts only the model found are stored
   * with the model's lower confidence and provenance `model`, and the rule facts it also found (stored by
   * `learn`) become `both`; with `model`: every fact the model found. With `rules` it stores nothing. The
   * extraction it returns lists every fact found, each with its provenance.
   */
  async learnFromModel(options: LearnOptions): Promise<LearnResult> {
    const extraction = this.extractRules(options.text, options.language);
    if (this.extractor === "rules" || (options.source === "assistant" && !this.#options.storeAssistantFacts))
      return { extraction: { ...extraction, facts: [] }, results: [] };
    const model = await this.#modelFacts(options.text, extraction, options.signal);
    if (this.extractor === "model") {
      const facts = model.map((fact): ExtractedFact => ({ ...fact, extractor: "model" }));
      return { extraction: { ...extraction, facts }, results: this.#store(facts, options) };
    }
    const merged = mergeFacts(extraction.facts, model);
    const modelOnly = merged.slice(extraction.facts.length);
    const results = this.#store(modelOnly, options);
    for (const fact of merged.slice(0, extraction.facts.length)) {
      if (fact.extractor !== "both") continue;
      const confirmed = this.store.recordExtractor({ userId: options.userId, ...fact }, "model");
      if (confirmed !== undefined) results.push({ outcome: "reinforced", fact: confirmed, closed: [] });
    }
    return { extraction: { ...extraction, facts: merged }, results };
  }

  #store(facts: readonly ExtractedFact[], options: LearnOptions): RememberResult[] {
    const base = sourceConfidence[options.source];
    return this.store.rememberMany(
      facts
        .filter((fact) => options.source !== "assistant" || !isAboutSpeaker(fact.subject))
        .map((fact) => ({
          userId: options.userId,
          subject: fact.subject,
          relation: fact.relation,
          object: fact.object,
          negated: fact.negated,
          confidence: Math.min(base, (base * fact.confidence) / fullExtractorConfidence),
          source: options.source,
          messageId: options.messageId ?? null,
          when: fact.when ?? null,
          extractor: fact.extractor ?? "rules",
        })),
    );
  }

  async #modelFacts(text: string, rules: ExtractionResult, signal?: AbortSignal): Promise<ExtractedFact[]> {
    const model = this.#options.model;
    if (model === undefined || rules.chars === 0) return [];
    const stats = this.#modelStats;
    stats.requests++;
    try {
      const request = buildExtractionRequest(text.slice(0, rules.chars), rules.language);
      const output = parseModelOutput(
        await model.generateJson(request, signal ?? new AbortController().signal),
        rules.language,
      );
      stats.invalidFacts += output.invalid;
      stats.unknownRelations += output.unknownRelation;
      stats.facts += output.facts.length;
      if (output.malformed)
        throw new AppError("OUTPUT_INVALID", 'the model\'s fact extraction is not {"facts": [...]}');
      return output.facts;
    } catch (error) {
      if (signal?.aborted === true) throw error;
      stats.failures++;
      this.#options.onModelError?.(error);
      return [];
    }
  }

  /**
   * The facts a turn should see: those about entities the message names, then the user's strongest facts,
   * as a compact system-prompt block within the token budget.
   */
  recallContext(userId: string, message: string): RecallContext {
    const { recallLimit, recallTokens } = this.#options;
    if (recallTokens === 0) return { facts: [], prompt: "", tokens: 0 };
    const read = this.#cut(message).text;
    const named = read.trim() === "" ? [] : this.store.recall({ userId, text: read, limit: recallLimit });
    const own = this.store.recall({ userId, subject: "user", limit: recallLimit });
    const seen = new Set<number>();
    const chosen: Fact[] = [];
    const header = "Facts remembered from earlier conversations with this user (may be out of date):";
    let chars = header.length;
    for (const fact of [...named, ...own]) {
      if (seen.has(fact.id) || chosen.length >= recallLimit) continue;
      seen.add(fact.id);
      const line = formatFact(fact);
      if ((chars + line.length + 1) / charsPerToken > recallTokens) break;
      chars += line.length + 1;
      chosen.push(fact);
    }
    if (chosen.length === 0) return { facts: [], prompt: "", tokens: 0 };
    const prompt = [header, ...chosen.map(formatFact)].join("\n");
    return { facts: chosen, prompt, tokens: Math.ceil(prompt.length / charsPerToken) };
  }

  #cut(text: string): { text: string; truncated: boolean } {
    assertWellFormed(text, "text");
    const max = this.#options.maxExtractChars;
    if (text.length <= max) return { text, truncated: false };
    // Don't split a surrogate pair.
    const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 1)) ? max - 1 : max;
    return { text: text.slice(0, end), truncated: true };
  }
}

/** "- Lucía · lives in · Madrid" / "- user · NOT likes · café (since 2019)". */
export function formatFact(fact: Fact): string {
  const relation = fact.relation.replaceAll("_", " ");
  const when = fact.when === null ? "" : ` (${fact.when})`;
  return `- ${fact.subject} · ${fact.negated ? "NOT " : ""}${relation} · ${fact.object}${when}`;
}

/** Rejects text with lone surrogates: it cannot be stored as UTF-8 without silently changing it. */
export function assertWellFormed(text: string, param: string): void {
  if (typeof text !== "string") throw new AppError("INVALID_REQUEST", `${param} must be a string`, { param });
  const index = text.search(loneSurrogate);
  if (index === -1) return;
  throw new AppError(
    "INVALID_REQUEST",
    `${param} is not valid Unicode: a lone surrogate at character ${index} (invalid UTF-8 or a broken escape)`,
    { param },
  );
}

function isAboutSpeaker(subject: string): boolean {
  const key = normalizeKey(subject);
  return speakerSubjects.has(key) || key.startsWith("user's ") || key.endsWith(" de usuario");
}
