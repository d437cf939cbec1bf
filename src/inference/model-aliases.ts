/**
 * The catalogue of model aliases SARAi knows by name: the seeds' model set. Every URI names an exact file in
 * the publisher's own GGUF repository on Hugging Face, so the local file name is known without the network.
 */

/** What a model is meant for. A hint for configuration, not a restriction. */
export type ModelRole = "main" | "draft" | "fallback";

/**
 * The tokenizer a model uses. Speculative decoding needs the draft and the main model to share one: llama.cpp
 * compares their token texts and refuses pairs whose vocabularies differ by more than 128 entries.
 */
export type VocabularyFamily = "qwen2" | "lfm2";

/** One catalogue entry. */
export interface ModelAlias {
  /** The short name users type, e.g. `qwen2.5-1.5b`. Lower case. */
  readonly name: string;
  readonly description: string;
  readonly role: ModelRole;
  /** An `hf:<user>/<repo>/<file>.gguf` URI; for split models, the first part. */
  readonly uri: string;
  /** The download size in bytes, rounded; all parts together for split models. */
  readonly approxSizeBytes: number;
  /** Parameters, from the model card, rounded. */
  readonly approxParameters: number;
  /** The GGUF `general.architecture` value. */
  readonly architecture: string;
  readonly quantization: string;
  /** The context length the model was trained for, in tokens (the GGUF `<arch>.context_length`). */
  readonly contextLength: number;
  readonly vocabulary: {
    readonly family: VocabularyFamily;
    /**
     * The number of tokens in the GGUF vocabulary, which is the embedding matrix's row count. For Qwen2.5 this
     * includes padding: the tokenizer itself has 151,665 tokens (151,643 BPE + 22 special).
     */
    readonly size: number;
  };
  /** Names of the main models this one can draft for in speculative decoding. Empty when it is no draft. */
  readonly draftFor: readonly string[];
  readonly license: string;
}

/** The most a draft's vocabulary may differ in size from its main model's (llama.cpp's `SPEC_VOCAB_MAX_SIZE_DIFFERENCE`). */
export const maxDraftVocabularySizeDifference = 128;

const qwen2Vocabulary = { family: "qwen2", size: 151_936 } as const;

/** Every alias, main models first, smallest first. */
export const modelAliases: readonly ModelAlias[] = Object.freeze([
  {
    name: "qwen2.5-1.5b",
    description: "Qwen2.5 1.5B Instruct, Q4_K_M: the default main model, fast on any recent CPU",
    role: "main",
    uri: "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf",
    approxSizeBytes: 1_120_000_000,
    approxParameters: 1_540_000_000,
    architecture: "qwen2",
    quantization: "Q4_K_M",
    contextLength: 32_768,
    vocabulary: qwen2Vocabulary,
    draftFor: [],
    license: "Apache-2.0",
  },
  {
    name: "qwen2.5-3b",
    description: "Qwen2.5 3B Instruct, Q4_K_M: better answers, about half the speed of 1.5B",
    role: "main",
    uri: "hf:Qwen/Qwen2.5-3B-Instruct-GGUF/qwen2.5-3b-instruct-q4_k_m.gguf",
    approxSizeBytes: 2_104_932_768,
    approxParameters: 3_090_000_000,
    architecture: "qwen2",
    quantization: "Q4_K_M",
    contextLength: 32_768,
    vocabulary: qwen2Vocabulary,
    draftFor: [],
    license: "Qwen Research License (not Apache-2.0)",
  },
  {
    name: "qwen2.5-7b",
    description: "Qwen2.5 7B Instruct, Q4_K_M: the largest main model; needs about 6 GB of RAM",
    role: "main",
    // The publisher splits this file in two; the downloader fetches both parts and llama.cpp loads them from the first.
    uri: "hf:Qwen/Qwen2.5-7B-Instruct-GGUF/qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf",
    approxSizeBytes: 4_680_000_000,
    approxParameters: 7_610_000_000,
    architecture: "qwen2",
    quantization: "Q4_K_M",
    contextLength: 32_768,
    // The 7B model pads its embedding matrix to 152,064 rows; the token texts are the same as the smaller models'.
    vocabulary: { family: "qwen2", size: 152_064 },
    draftFor: [],
    license: "Apache-2.0",
  },
  {
    name: "qwen2.5-0.5b",
    description: "Qwen2.5 0.5B Instruct, Q4_K_M: the draft model for speculative decoding with Qwen2.5 mains",
    role: "draft",
    uri: "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf",
    approxSizeBytes: 491_000_000,
    approxParameters: 494_000_000,
    architecture: "qwen2",
    quantization: "Q4_K_M",
    contextLength: 32_768,
    vocabulary: qwen2Vocabulary,
    draftFor: ["qwen2.5-1.5b", "qwen2.5-3b", "qwen2.5-7b"],
    license: "Apache-2.0",
  },
  {
    name: "lfm2-1.2b",
    description: "Liquid LFM2 1.2B, Q4_K_M: the fallback main model; a different tokenizer, so no Qwen draft",
    role: "fallback",
    uri: "hf:LiquidAI/LFM2-1.2B-GGUF/LFM2-1.2B-Q4_K_M.gguf",
    approxSizeBytes: 730_893_248,
    approxParameters: 1_170_340_608,
    architecture: "lfm2",
    quantization: "Q4_K_M",
    contextLength: 32_768,
    vocabulary: { family: "lfm2", size: 65_536 },
    draftFor: [],
    license: "LFM Open License v1.0",
  },
] satisfies ModelAlias[]);

/** The alias used on first start, when no model is configured: the small Qwen2.5 main model. */
export const defaultModelAlias = "qwen2.5-1.5b";

/** Finds an alias by name, ignoring case. */
export function findModelAlias(
  name: string,
  aliases: readonly ModelAlias[] = modelAliases,
): ModelAlias | undefined {
  const wanted = name.trim().toLowerCase();
  return aliases.find((alias) => alias.name === wanted);
}

/**
 * Whether `draft` can draft for `main` in speculative decoding: same vocabulary family and vocabulary sizes
 * within {@link maxDraftVocabularySizeDifference}, the rule llama.cpp applies.
 */
export function isDraftCompatible(main: ModelAlias, draft: ModelAlias): boolean {
  return (
    main.vocabulary.family === draft.vocabulary.family &&
    Math.abs(main.vocabulary.size - draft.vocabulary.size) <= maxDraftVocabularySizeDifference
  );
}

/** A problem {@link checkDraftPairs} found in a catalogue. */
export interface DraftPairProblem {
  readonly draft: string;
  readonly main: string;
  readonly reason: string;
}

/**
 * Checks every `draftFor` pair of a catalogue: the main model exists, is not the draft itself, and shares the
 * draft's vocabulary. Returns the problems; an empty list means the catalogue is consistent.
 */
export function checkDraftPairs(aliases: readonly ModelAlias[] = modelAliases): DraftPairProblem[] {
  const problems: DraftPairProblem[] = [];
  for (const draft of aliases) {
    for (const mainName of draft.draftFor) {
      const main = findModelAlias(mainName, aliases);
      if (main === undefined) {
        problems.push({ draft: draft.name, main: mainName, reason: "no alias has this name" });
      } else if (main.name === draft.name) {
        problems.push({ draft: draft.name, main: mainName, reason: "a model cannot draft for itself" });
      } else if (main.vocabulary.family !== draft.vocabulary.family) {
        problems.push({
          draft: draft.name,
          main: mainName,
          reason: `vocabulary family ${draft.vocabulary.family} differs from ${main.vocabulary.family}`,
        });
      } else if (!isDraftCompatible(main, draft)) {
        problems.push({
          draft: draft.name,
          main: mainName,
          reason: `vocabulary sizes ${draft.vocabulary.size} and ${main.vocabulary.size} differ by more than ${maxDraftVocabularySizeDifference}`,
        });
      }
    }
  }
  return problems;
}
