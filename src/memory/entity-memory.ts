import { AppError } from "../shared/index.js";
import type { EntityStore, Fact, RememberResult } from "./entity-store.js";
import { detectLanguage, extractFacts } from "./extract/index.js";
import { mergeFacts, parseModelFacts, type JsonModel, buildExtractionRequest } from "./model-extraction.js";
import { normalizeKey } from "./normalize.js";
import { speakerSubjects } from "./relations.js";
import type { ExtractedFact, FactSource, Language } from "./types.js";

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
  /** When given, facts are also extracted by this model under a JSON-schema grammar and merged. */
  model?: JsonModel;
  /** Called when model extraction fails; rules still apply. */
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
  readonly #options: EntityMemoryOptions;

  constructor(options: EntityMemoryOptions) {
    this.store = options.store;
    this.#options = options;
  }

  /** Rule extraction only: synchronous, for the CLI and tests. */
  extractRules(text: string, language?: Language): ExtractionResult {
    const { text: read, truncated } = this.#cut(text);
    const detected = language ?? detectLanguage(read);
    return { language: detected, facts: extractFacts(read, detected), truncated, chars: read.length };
  }

  /** Rules, merged with the model's facts when a model is configured (its failures fall back to rules). */
  async extract(
    text: string,
    options: { language?: Language; signal?: AbortSignal } = {},
  ): Promise<ExtractionResult> {
    const result = this.extractRules(text, options.language);
    return {
      ...result,
      facts: mergeFacts(result.facts, await this.#modelFacts(text, result, options.signal)),
    };
  }

  /** Whether a model extracts facts besides the rules. */
  get hasModel(): boolean {
    return this.#options.model !== undefined;
  }

  /**
   * Extracts facts from a message with the rules and stores them with the source's confidence (user 0.9, reply
   * 0.7, scaled by the extractor's own confidence). Synchronous: a turn's facts are stored before its answer is
   * returned. From a reply, first-person facts are dropped: the assistant's "I" is not the user.
   */
  learn(options: LearnOptions): LearnResult {
    if (options.source === "assistant" && !this.#options.storeAssistantFacts) {
      return { extraction: { language: "en", facts: [], truncated: false, chars: 0 }, results: [] };
    }
    const extraction = this.extractRules(options.text, options.language);
    return { extraction, results: this.#store(extraction.facts, options) };
  }

  /**
   * The model's share of `learn`: facts the model finds that the rules did not, stored with the model's lower
   * confidence. Run it after the answer; without a model it stores nothing.
   */
  async learnFromModel(options: LearnOptions): Promise<LearnResult> {
    const extraction = this.extractRules(options.text, options.language);
    const model = await this.#modelFacts(options.text, extraction, options.signal);
    const merged = mergeFacts(extraction.facts, model);
    const modelOnly = merged.slice(extraction.facts.length);
    return { extraction: { ...extraction, facts: modelOnly }, results: this.#store(modelOnly, options) };
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
        })),
    );
  }

  async #modelFacts(text: string, rules: ExtractionResult, signal?: AbortSignal): Promise<ExtractedFact[]> {
    const model = this.#options.model;
    if (model === undefined || rules.chars === 0) return [];
    try {
      const request = buildExtractionRequest(text.slice(0, rules.chars), rules.language);
      return parseModelFacts(await model.generateJson(request, signal ?? new AbortController().signal));
    } catch (error) {
      if (signal?.aborted === true) throw error;
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
