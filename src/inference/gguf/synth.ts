import { createHash } from "node:crypto";
import { access } from "node:fs/promises";
import path from "node:path";
import { AppError } from "../../shared/index.js";
import { createByteVocabMetadata } from "./byte-vocab.js";
import {
  ggufFileTypeCodes,
  ggufTensorTypeInfo,
  type GgufMetadataValue,
  type GgufTensorType,
} from "./gguf-format.js";
import { readGgufHeader, readGgufTensorBytes, type GgufHeader } from "./gguf-reader.js";
import { countElements, GgufWriter, type GgufTensorSpec } from "./gguf-writer.js";
import { loadQwen2TokenizerMetadata, resolveDefaultGgufCacheDir } from "./qwen2-vocab.js";
import { createSeededRandom } from "./seeded-random.js";

/** How the weight matrices are stored; norm weights are always F32. */
export type SynthQuantization = GgufTensorType;

/**
 * `byte`: the built-in 259-token byte vocabulary (fast to load; one token per UTF-8 byte).
 * `qwen2`: Qwen2's real 151,936-token vocabulary, extracted from node-llama-cpp's llama.cpp bundle
 * (about 1.4 s slower to load; the output head then dominates compute).
 */
export type SynthTokenizer = "byte" | "qwen2";

export interface SynthOptions {
  /** Where to write the model. Written atomically (temporary file, then rename); the folder is created. */
  outPath: string;
  /** Transformer blocks. Default 2, or 1 for a draft. */
  layers?: number;
  /** Embedding length. Default 64. A multiple of 32 for Q8_0. For a draft it is the target's; do not set it. */
  width?: number;
  /** Feed-forward length. Default 256, or 64 for a draft. A multiple of 32 for Q8_0. */
  ffn?: number;
  /** Attention heads; `width / heads` (the head size) must be even. Default 4, or the target's for a draft. */
  heads?: number;
  /** Key/value heads (grouped-query attention); must divide `heads`. Default 2, or the target's for a draft. */
  kvHeads?: number;
  /** Training context length written to the model, in tokens. Default 4096, or the target's for a draft. */
  contextLength?: number;
  /** Default `Q8_0`, or the type of the target's block weights for a draft. */
  quantization?: SynthQuantization;
  /** Seed of the deterministic weights: the same options give a byte-identical file. Default 1. */
  seed?: number;
  /** Default `byte`. For a draft it is copied from the target; do not set it. */
  tokenizer?: SynthTokenizer;
  /**
   * Multiplier on the initial scale of each block's output projections (`attn_output`, `ffn_down`).
   * Default 0.002: the blocks then write only small values into the residual stream, so the model's
   * greedy choice mostly follows embeddings → output head, and a draft made with `draftFor` agrees
   * with it (measured 100% over 64 tokens). Use 1 for an ordinary random transformer. Ignored for a
   * draft, whose output projections are zero.
   */
  residualScale?: number;
  /**
   * Standard deviation of the logits for a normalised hidden state (scales the `output` head).
   * Default 4. Larger values make greedy choices more confident (node-llama-cpp's draft predictor
   * skips drafts below its `minConfidence`, 0.6 by default); smaller ones make sampling more varied.
   * For a draft the output head is the target's.
   */
  logitStd?: number;
  /**
   * `general.name`. Default `sarai-synth`, or the target's name + `-draft`. Caveat: node-llama-cpp
   * picks a chat wrapper from names such as "llama 3" or "mistral"; avoid those.
   */
  name?: string;
  /**
   * Path of a target model (made by this module, or any llama-architecture GGUF) to make a speculative
   * draft for: the draft copies the target's `tokenizer.*` metadata and its `token_embd`, `output_norm`
   * and `output` tensors byte for byte, and has blocks whose output projections are zero, so it computes
   * embeddings → output head exactly. Greedy draft and target then agree on nearly every token.
   */
  draftFor?: string;
  /** Cache folder for the extracted Qwen2 vocabulary. Default {@link resolveDefaultGgufCacheDir}. */
  cacheDir?: string;
}

/** The options a model was made with, after defaults (and, for a draft, the target's values). */
export interface ResolvedSynthOptions {
  layers: number;
  width: number;
  ffn: number;
  heads: number;
  kvHeads: number;
  contextLength: number;
  quantization: SynthQuantization;
  seed: number;
  /** `copied` for a draft: its tokenizer metadata comes from the target. */
  tokenizer: SynthTokenizer | "copied";
  residualScale: number;
  logitStd: number;
  name: string;
  draftFor: string | undefined;
}

export interface SynthResult {
  path: string;
  /** File size in bytes. */
  byteLength: number;
  /** Number of weights (all tensors). */
  parameterCount: number;
  /** Tokens in the vocabulary. */
  vocabularySize: number;
  options: ResolvedSynthOptions;
  /** Wall time of the synthesis in milliseconds. */
  durationMs: number;
}

/** Defaults for a fast test model (about 0.1 MiB with the byte vocabulary in Q8_0). */
export const synthDefaults = {
  layers: 2,
  width: 64,
  ffn: 256,
  heads: 4,
  kvHeads: 2,
  contextLength: 4096,
  quantization: "Q8_0",
  seed: 1,
  tokenizer: "byte",
  residualScale: 0.002,
  logitStd: 4,
  name: "sarai-synth",
} as const satisfies Omit<ResolvedSynthOptions, "draftFor">;

/** Defaults that differ for a draft (`draftFor`). */
export const synthDraftDefaults = { layers: 1, ffn: 64 } as const;

/** Bump when the generated bytes change for the same options, so cached models are regenerated. */
const synthFormatVersion = 2;
/** Logit scale of non-ASCII byte tokens in the byte vocabulary's output head (see `outputHead`). */
const nonAsciiLogitScale = 0.25;
const ropeFreqBase = 10_000;
const rmsNormEpsilon = 1e-5;
const valuesPerChunk = 1 << 16;

/**
 * Writes a random-weight llama-architecture model that llama.cpp (node-llama-cpp 3.22.1) loads and runs,
 * for tests and benchmarks without a downloaded model. Deterministic: the same options (and seed) give
 * a byte-identical file. With `draftFor`, writes a draft aligned with that target instead.
 * Throws `INVALID_REQUEST` (with `param` naming the option) for impossible shapes.
 */
export async function synthesizeModel(options: SynthOptions): Promise<SynthResult> {
  const started = performance.now();
  const plan =
    options.draftFor === undefined
      ? await planTargetModel(options)
      : await planDraftModel(options, options.draftFor);
  const { resolved, tokenizerMetadata, copiedTensors } = plan;
  const writer = new GgufWriter();
  for (const [key, value] of describeModelMetadata(resolved)) writer.setMetadata(key, value);
  for (const [key, value] of tokenizerMetadata) writer.setMetadata(key, value);
  const vocabularySize = countVocabulary(tokenizerMetadata);

  const tensors = planTensors(resolved, vocabularySize, copiedTensors);
  for (const tensor of tensors) writer.addTensor(tensor);
  const written = await writer.write(options.outPath);
  return {
    path: written.path,
    byteLength: written.byteLength,
    parameterCount: tensors.reduce((sum, tensor) => sum + countElements(tensor.shape), 0),
    vocabularySize,
    options: resolved,
    durationMs: performance.now() - started,
  };
}

/**
 * A stable file name for a model made with these options (ignoring `outPath` and `cacheDir`), e.g.
 * `sarai-synth-byte-q8_0-l2-w64-f256-3f2a….gguf`, for caching generated models between test runs.
 * Caveat: for a draft the name depends on the target's path, not its content; give targets
 * content-derived paths (such as this name) when caching drafts.
 */
export function resolveSynthCacheFileName(options: Omit<SynthOptions, "outPath">): string {
  const rest = pickModelOptions(options);
  const keyed =
    rest.draftFor === undefined
      ? { ...synthDefaults, ...rest }
      : { ...rest, draftFor: path.resolve(rest.draftFor) };
  const sorted = Object.fromEntries(Object.entries(keyed).sort(([a], [b]) => a.localeCompare(b)));
  const hash = createHash("sha256")
    .update(JSON.stringify({ synthFormatVersion, ...sorted }))
    .digest("hex")
    .slice(0, 16);
  if (rest.draftFor !== undefined) return `sarai-draft-${hash}.gguf`;
  const target = { ...synthDefaults, ...rest };
  const quantization = target.quantization.toLowerCase();
  return `sarai-synth-${target.tokenizer}-${quantization}-l${target.layers}-w${target.width}-f${target.ffn}-${hash}.gguf`;
}

/**
 * Returns the path of a cached model for these options in `cacheDir` (default
 * {@link resolveDefaultGgufCacheDir}), synthesizing it first if it is not there yet.
 */
export async function ensureSynthesizedModel(options: Omit<SynthOptions, "outPath">): Promise<string> {
  const cacheDir = options.cacheDir ?? resolveDefaultGgufCacheDir();
  const modelPath = path.join(cacheDir, resolveSynthCacheFileName(options));
  try {
    await access(modelPath);
    return modelPath;
  } catch {
    await synthesizeModel({ ...options, outPath: modelPath });
    return modelPath;
  }
}

interface ModelPlan {
  resolved: ResolvedSynthOptions;
  tokenizerMetadata: Array<[string, GgufMetadataValue]>;
  /** Tensors copied byte for byte from another file, by name. */
  copiedTensors: Map<string, GgufTensorSpec>;
}

async function planTargetModel(options: SynthOptions): Promise<ModelPlan> {
  const resolved: ResolvedSynthOptions = {
    ...synthDefaults,
    ...pickModelOptions(options),
    draftFor: undefined,
  };
  validateOptions(resolved);
  const tokenizerMetadata =
    resolved.tokenizer === "qwen2"
      ? await loadQwen2TokenizerMetadata(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir })
      : createByteVocabMetadata();
  return { resolved, tokenizerMetadata, copiedTensors: new Map() };
}

async function planDraftModel(options: SynthOptions, targetPath: string): Promise<ModelPlan> {
  for (const fixed of ["width", "tokenizer"] as const) {
    if (options[fixed] !== undefined) {
      throw new AppError(
        "INVALID_REQUEST",
        `a draft takes its ${fixed} from the target; do not set "${fixed}"`,
        { param: fixed },
      );
    }
  }
  const header = await readGgufHeader(targetPath);
  const architecture = readString(header, "general.architecture");
  if (architecture !== "llama") {
    throw new AppError(
      "INVALID_REQUEST",
      `draftFor needs a llama-architecture target; ${targetPath} is "${architecture}"`,
      { param: "draftFor" },
    );
  }
  const blockType =
    findTensor(header, "blk.0.attn_q.weight")?.type ?? findTensor(header, "token_embd.weight")?.type;
  const resolved: ResolvedSynthOptions = {
    ...synthDefaults,
    ...synthDraftDefaults,
    width: readNumber(header, "llama.embedding_length"),
    heads: readNumber(header, "llama.attention.head_count"),
    kvHeads: readNumber(header, "llama.attention.head_count_kv"),
    contextLength: readNumber(header, "llama.context_length"),
    quantization: blockType ?? synthDefaults.quantization,
    name: `${readString(header, "general.name") ?? synthDefaults.name}-draft`,
    ...pickModelOptions(options),
    tokenizer: "copied",
    residualScale: 0,
    logitStd: 0,
    draftFor: targetPath,
  };
  validateOptions(resolved);
  const tokenizerMetadata = [...header.metadata].filter(([key]) => key.startsWith("tokenizer."));
  const copiedTensors = new Map<string, GgufTensorSpec>();
  for (const name of ["token_embd.weight", "output_norm.weight", "output.weight"]) {
    const tensor = findTensor(header, name);
    if (tensor?.type === undefined) {
      throw new AppError(
        "INVALID_REQUEST",
        `draftFor target ${targetPath} has no ${name} in F32, F16 or Q8_0`,
        { param: "draftFor" },
      );
    }
    copiedTensors.set(name, {
      name,
      shape: tensor.shape,
      type: tensor.type,
      data: { kind: "bytes", read: () => readGgufTensorBytes(targetPath, header, name) },
    });
  }
  return { resolved, tokenizerMetadata, copiedTensors };
}

function describeModelMetadata(options: ResolvedSynthOptions): Array<[string, GgufMetadataValue]> {
  const headSize = options.width / options.heads;
  const u32 = (value: number): GgufMetadataValue => ({ type: "uint32", value });
  const f32 = (value: number): GgufMetadataValue => ({ type: "float32", value });
  const description =
    options.draftFor === undefined
      ? `Synthetic random-weight test model (SARAi synth v${synthFormatVersion}, seed ${options.seed})`
      : `Synthetic draft model: embeddings and output head copied from its target (SARAi synth v${synthFormatVersion})`;
  return [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.type", { type: "string", value: "model" }],
    ["general.name", { type: "string", value: options.name }],
    ["general.description", { type: "string", value: description }],
    ["general.file_type", u32(ggufFileTypeCodes[options.quantization])],
    ["general.quantization_version", u32(2)],
    ["llama.context_length", u32(options.contextLength)],
    ["llama.embedding_length", u32(options.width)],
    ["llama.block_count", u32(options.layers)],
    ["llama.feed_forward_length", u32(options.ffn)],
    ["llama.attention.head_count", u32(options.heads)],
    ["llama.attention.head_count_kv", u32(options.kvHeads)],
    ["llama.attention.key_length", u32(headSize)],
    ["llama.attention.value_length", u32(headSize)],
    // llama.cpp rejects a llama model whose rope dimension differs from the key length.
    ["llama.rope.dimension_count", u32(headSize)],
    ["llama.rope.freq_base", f32(ropeFreqBase)],
    ["llama.attention.layer_norm_rms_epsilon", f32(rmsNormEpsilon)],
  ];
}

function planTensors(
  options: ResolvedSynthOptions,
  vocabularySize: number,
  copied: Map<string, GgufTensorSpec>,
): GgufTensorSpec[] {
  const { width, ffn, heads, kvHeads, quantization, residualScale } = options;
  const kvWidth = (width / heads) * kvHeads;
  const isDraft = options.draftFor !== undefined;
  const random = (name: string, shape: number[], std: number): GgufTensorSpec => ({
    name,
    shape,
    type: quantization,
    data: {
      kind: "values",
      read: () => generateUniform(`${options.seed}/${name}`, countElements(shape), std),
    },
  });
  const constant = (name: string, shape: number[], type: GgufTensorType, value: number): GgufTensorSpec => ({
    name,
    shape,
    type,
    data: { kind: "values", read: () => generateConstant(countElements(shape), value) },
  });
  const projection = (name: string, shape: [number, number], fanIn: number): GgufTensorSpec =>
    isDraft ? constant(name, shape, quantization, 0) : random(name, shape, residualScale / Math.sqrt(fanIn));

  const tensors: GgufTensorSpec[] = [
    copied.get("token_embd.weight") ?? random("token_embd.weight", [width, vocabularySize], 1),
  ];
  for (let layer = 0; layer < options.layers; layer++) {
    const blk = `blk.${layer}`;
    tensors.push(
      constant(`${blk}.attn_norm.weight`, [width], "F32", 1),
      random(`${blk}.attn_q.weight`, [width, width], 1 / Math.sqrt(width)),
      random(`${blk}.attn_k.weight`, [width, kvWidth], 1 / Math.sqrt(width)),
      random(`${blk}.attn_v.weight`, [width, kvWidth], 1 / Math.sqrt(width)),
      projection(`${blk}.attn_output.weight`, [width, width], width),
      constant(`${blk}.ffn_norm.weight`, [width], "F32", 1),
      random(`${blk}.ffn_gate.weight`, [width, ffn], 1 / Math.sqrt(width)),
      random(`${blk}.ffn_up.weight`, [width, ffn], 1 / Math.sqrt(width)),
      projection(`${blk}.ffn_down.weight`, [ffn, width], ffn),
    );
  }
  tensors.push(
    copied.get("output_norm.weight") ?? constant("output_norm.weight", [width], "F32", 1),
    copied.get("output.weight") ?? outputHead(options, vocabularySize),
  );
  return tensors;
}

/**
 * The output head. With the byte vocabulary, the rows of tokens that are not printable ASCII (bytes ≥ 0x80,
 * control bytes) are scaled by {@link nonAsciiLogitScale}, a prior like a text model's: random weights would
 * otherwise emit stray UTF-8 continuation bytes half the time, i.e. text that is not valid UTF-8.
 */
function outputHead(options: ResolvedSynthOptions, vocabularySize: number): GgufTensorSpec {
  const { width } = options;
  const shape = [width, vocabularySize];
  const std = options.logitStd / Math.sqrt(width);
  const rowScale = (token: number) =>
    options.tokenizer === "byte" && token < 256 && (token >= 0x80 || (token < 0x20 && token !== 0x0a))
      ? nonAsciiLogitScale
      : 1;
  return {
    name: "output.weight",
    shape,
    type: options.quantization,
    data: {
      kind: "values",
      read: function* () {
        let index = 0;
        for (const chunk of generateUniform(`${options.seed}/output.weight`, countElements(shape), std)) {
          for (let i = 0; i < chunk.length; i++, index++)
            chunk[i] = (chunk[i] ?? 0) * rowScale(Math.floor(index / width));
          yield chunk;
        }
      },
    },
  };
}

function* generateUniform(seedKey: string, count: number, std: number): Generator<Float32Array> {
  const random = createSeededRandom(seedKey);
  // A uniform distribution on [-a, a] has standard deviation a / sqrt(3).
  const amplitude = std * Math.sqrt(3);
  for (let done = 0; done < count; done += valuesPerChunk) {
    const values = new Float32Array(Math.min(valuesPerChunk, count - done));
    for (let i = 0; i < values.length; i++) values[i] = (random() * 2 - 1) * amplitude;
    yield values;
  }
}

function* generateConstant(count: number, value: number): Generator<Float32Array> {
  for (let done = 0; done < count; done += valuesPerChunk) {
    yield new Float32Array(Math.min(valuesPerChunk, count - done)).fill(value);
  }
}

function validateOptions(options: ResolvedSynthOptions): void {
  const fail = (param: keyof ResolvedSynthOptions, message: string): never => {
    throw new AppError("INVALID_REQUEST", `synthetic model option "${param}": ${message}`, { param });
  };
  for (const key of ["layers", "width", "ffn", "heads", "kvHeads", "contextLength"] as const) {
    const value = options[key];
    if (!Number.isSafeInteger(value) || value < 1) fail(key, `must be a positive integer, got ${value}`);
  }
  if (!Number.isSafeInteger(options.seed)) fail("seed", `must be an integer, got ${options.seed}`);
  for (const key of ["residualScale", "logitStd"] as const) {
    if (!Number.isFinite(options[key]) || options[key] < 0)
      fail(key, `must be a finite number ≥ 0, got ${options[key]}`);
  }
  if (!(options.quantization in ggufTensorTypeInfo)) {
    fail("quantization", `must be F32, F16 or Q8_0, got ${String(options.quantization)}`);
  }
  if (!["byte", "qwen2", "copied"].includes(options.tokenizer)) {
    fail("tokenizer", `must be "byte" or "qwen2", got ${String(options.tokenizer)}`);
  }
  if (options.width % options.heads !== 0)
    fail("heads", `${options.heads} does not divide width ${options.width}`);
  if ((options.width / options.heads) % 2 !== 0) {
    fail("heads", `the head size width/heads = ${options.width / options.heads} must be even (for RoPE)`);
  }
  if (options.heads % options.kvHeads !== 0)
    fail("kvHeads", `${options.kvHeads} does not divide heads ${options.heads}`);
  const blockSize = ggufTensorTypeInfo[options.quantization].blockSize;
  for (const key of ["width", "ffn"] as const) {
    if (options[key] % blockSize !== 0) {
      fail(key, `${options[key]} is not a multiple of ${blockSize}, which ${options.quantization} rows need`);
    }
  }
}

function countVocabulary(tokenizerMetadata: Array<[string, GgufMetadataValue]>): number {
  const tokens = tokenizerMetadata.find(([key]) => key === "tokenizer.ggml.tokens")?.[1];
  if (tokens?.type !== "array" || tokens.value.length === 0) {
    throw new AppError("INVALID_REQUEST", "the tokenizer metadata has no tokenizer.ggml.tokens", {
      param: "tokenizer",
    });
  }
  return tokens.value.length;
}

function findTensor(header: GgufHeader, name: string): GgufHeader["tensors"][number] | undefined {
  return header.tensors.find((tensor) => tensor.name === name);
}

function readNumber(header: GgufHeader, key: string): number {
  const value = header.metadata.get(key);
  if (value === undefined || typeof value.value !== "number") {
    throw new AppError("INVALID_REQUEST", `draftFor target has no numeric "${key}"`, { param: "draftFor" });
  }
  return value.value;
}

function readString(header: GgufHeader, key: string): string | undefined {
  const value = header.metadata.get(key);
  return value?.type === "string" ? value.value : undefined;
}

const modelOptionKeys = [
  "layers",
  "width",
  "ffn",
  "heads",
  "kvHeads",
  "contextLength",
  "quantization",
  "seed",
  "tokenizer",
  "residualScale",
  "logitStd",
  "name",
  "draftFor",
] as const satisfies ReadonlyArray<keyof SynthOptions>;

/** The options that shape the model, without undefined values (so they do not override defaults when spread). */
function pickModelOptions(
  options: Omit<SynthOptions, "outPath">,
): Partial<Omit<SynthOptions, "outPath" | "cacheDir">> {
  const picked: Record<string, unknown> = {};
  for (const key of modelOptionKeys) {
    if (options[key] !== undefined) picked[key] = options[key];
  }
  return picked;
}
