import fs from "node:fs/promises";
import path from "node:path";

import { GgmlType, GgufFileType, readGgufFileInfo } from "node-llama-cpp";
import type { GgufFileInfo, GgufTensorInfo } from "node-llama-cpp";

import { AppError } from "../shared/index.js";

/** What {@link inspectModelFile} learns from a GGUF file's header and tensor table. */
export interface ModelFileInfo {
  /** Absolute path. */
  readonly path: string;
  readonly fileName: string;
  /** The file's size on disk, in bytes. */
  readonly sizeBytes: number;
  /** The GGUF format version (2 or 3). */
  readonly ggufVersion: number;
  /** `general.architecture`, e.g. `qwen2`, `llama`, `lfm2`. */
  readonly architecture: string | undefined;
  /** `general.name`, e.g. `Qwen2.5 1.5B Instruct`. */
  readonly name: string | undefined;
  /**
   * The quantization: the `general.file_type` name without its `MOSTLY_` prefix (`Q4_K_M`, `Q8_0`, `F16`); when
   * the file has no file type, the ggml type holding most parameters (`Q4_K`).
   */
  readonly quantization: string | undefined;
  /** Tokens in the vocabulary (`tokenizer.ggml.tokens`), padding included. */
  readonly vocabularySize: number | undefined;
  /** The context length the model was trained for, in tokens. */
  readonly contextLength: number | undefined;
  readonly embeddingLength: number | undefined;
  /** Transformer blocks (layers). */
  readonly blockCount: number | undefined;
  readonly tensorCount: number;
  /** The sum of all tensors' element counts. */
  readonly parameterCount: number;
  /**
   * The smallest size the header and tensor table allow: the aligned data offset + the end of the last tensor
   * (the header's end for a file without tensors).
   */
  readonly expectedMinSizeBytes: number;
  /** For one part of a split model (`split.no` is 0-based in the file; `part` here is 1-based). */
  readonly split: { readonly part: number; readonly count: number } | undefined;
}

/** One entry of {@link listModelFiles}: a readable model, or a broken file and why. */
export type ModelFileListEntry =
  | { readonly ok: true; readonly path: string; readonly fileName: string; readonly info: ModelFileInfo }
  | { readonly ok: false; readonly path: string; readonly fileName: string; readonly error: AppError };

/** Block size (elements) and bytes per block of one ggml tensor type. */
export interface GgmlTypeSize {
  readonly blockSize: number;
  readonly typeSize: number;
}

// From ggml's `type_traits` (ggml.c); checked against llama.cpp's own values in model-file.test.ts.
// Types ggml dropped (Q4_2, Q4_3, Q4_0_4_4…) are absent: llama.cpp cannot load them.
const ggmlTypeSizes = new Map<GgmlType, GgmlTypeSize>([
  [GgmlType.F32, { blockSize: 1, typeSize: 4 }],
  [GgmlType.F16, { blockSize: 1, typeSize: 2 }],
  [GgmlType.Q4_0, { blockSize: 32, typeSize: 18 }],
  [GgmlType.Q4_1, { blockSize: 32, typeSize: 20 }],
  [GgmlType.Q5_0, { blockSize: 32, typeSize: 22 }],
  [GgmlType.Q5_1, { blockSize: 32, typeSize: 24 }],
  [GgmlType.Q8_0, { blockSize: 32, typeSize: 34 }],
  [GgmlType.Q8_1, { blockSize: 32, typeSize: 36 }],
  [GgmlType.Q2_K, { blockSize: 256, typeSize: 84 }],
  [GgmlType.Q3_K, { blockSize: 256, typeSize: 110 }],
  [GgmlType.Q4_K, { blockSize: 256, typeSize: 144 }],
  [GgmlType.Q5_K, { blockSize: 256, typeSize: 176 }],
  [GgmlType.Q6_K, { blockSize: 256, typeSize: 210 }],
  [GgmlType.Q8_K, { blockSize: 256, typeSize: 292 }],
  [GgmlType.IQ2_XXS, { blockSize: 256, typeSize: 66 }],
  [GgmlType.IQ2_XS, { blockSize: 256, typeSize: 74 }],
  [GgmlType.IQ3_XXS, { blockSize: 256, typeSize: 98 }],
  [GgmlType.IQ1_S, { blockSize: 256, typeSize: 50 }],
  [GgmlType.IQ4_NL, { blockSize: 32, typeSize: 18 }],
  [GgmlType.IQ3_S, { blockSize: 256, typeSize: 110 }],
  [GgmlType.IQ2_S, { blockSize: 256, typeSize: 82 }],
  [GgmlType.IQ4_XS, { blockSize: 256, typeSize: 136 }],
  [GgmlType.I8, { blockSize: 1, typeSize: 1 }],
  [GgmlType.I16, { blockSize: 1, typeSize: 2 }],
  [GgmlType.I32, { blockSize: 1, typeSize: 4 }],
  [GgmlType.I64, { blockSize: 1, typeSize: 8 }],
  [GgmlType.F64, { blockSize: 1, typeSize: 8 }],
  [GgmlType.IQ1_M, { blockSize: 256, typeSize: 56 }],
  [GgmlType.BF16, { blockSize: 1, typeSize: 2 }],
  [GgmlType.TQ1_0, { blockSize: 256, typeSize: 54 }],
  [GgmlType.TQ2_0, { blockSize: 256, typeSize: 66 }],
  [GgmlType.MXFP4, { blockSize: 32, typeSize: 17 }],
  [GgmlType.NVFP4, { blockSize: 64, typeSize: 36 }],
  [GgmlType.Q1_0, { blockSize: 128, typeSize: 18 }],
  [GgmlType.Q2_0, { blockSize: 64, typeSize: 18 }],
]);

const ggufMagic = "GGUF";
/** magic (4) + version (u32) + tensor count (u64) + metadata key/value count (u64). */
const fixedHeaderSize = 24;
// Far above any real model (a 70B model has ~800 tensors and ~40 keys); a corrupt count would otherwise make
// the parser loop for hours.
const maxHeaderCount = 1_000_000n;

/** The block size and bytes per block of a ggml type, or `undefined` for types llama.cpp no longer supports. */
export function getGgmlTypeSize(type: GgmlType): GgmlTypeSize | undefined {
  return ggmlTypeSizes.get(type);
}

/**
 * Validates a GGUF model file and describes it, reading only its header and tensor table.
 *
 * Throws an {@link AppError} naming the file (`param`): `MODEL_NOT_FOUND` when it does not exist,
 * `MODEL_INVALID_FILE` when it is not a GGUF file or its header cannot be read, `MODEL_TRUNCATED` when it is
 * shorter than its tensor table says (the usual sign of an interrupted download), with expected and actual bytes.
 *
 * Caveat: a complete file can still hold corrupt tensor data; only llama.cpp's load finds that.
 */
export async function inspectModelFile(filePath: string): Promise<ModelFileInfo> {
  const absolutePath = path.resolve(filePath);
  const fileName = path.basename(absolutePath);
  const stats = await statModelFile(absolutePath);
  const sizeBytes = stats.size;

  const header = await readFileStart(absolutePath, fixedHeaderSize);
  const magic = header.subarray(0, 4).toString("latin1");
  if (header.length < 4 || magic !== ggufMagic) {
    const found =
      header.length === 0 ? "the file is empty" : `it starts with 0x${header.subarray(0, 4).toString("hex")}`;
    throw new AppError(
      "MODEL_INVALID_FILE",
      `"${absolutePath}" is not a GGUF model file: ${found}, not the "GGUF" magic bytes`,
      { param: absolutePath },
    );
  }
  if (header.length < fixedHeaderSize) {
    throw truncatedError(absolutePath, fixedHeaderSize, sizeBytes, "it ends inside its header");
  }
  const ggufVersion = header.readUInt32LE(4);
  if (ggufVersion !== 2 && ggufVersion !== 3) {
    throw new AppError(
      "MODEL_INVALID_FILE",
      `"${absolutePath}" has GGUF version ${ggufVersion}; only versions 2 and 3 are supported`,
      { param: absolutePath },
    );
  }
  const headerTensorCount = header.readBigUInt64LE(8);
  const headerKeyCount = header.readBigUInt64LE(16);
  if (headerTensorCount > maxHeaderCount || headerKeyCount > maxHeaderCount) {
    throw new AppError(
      "MODEL_INVALID_FILE",
      `"${absolutePath}" has an unreadable GGUF header: ${headerTensorCount} tensors and ${headerKeyCount} metadata keys`,
      { param: absolutePath },
    );
  }

  let ggufInfo: GgufFileInfo;
  try {
    ggufInfo = await readGgufFileInfo(absolutePath, {
      sourceType: "filesystem",
      readTensorInfo: true,
      spliceSplitFiles: false,
      logWarnings: false,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AppError("MODEL_INVALID_FILE", `"${absolutePath}" has an unreadable GGUF header: ${reason}`, {
      param: absolutePath,
      cause: error,
    });
  }

  // node-llama-cpp reads past the end of a file as zero bytes, so a header cut short still "parses"; its end
  // then lies beyond the file. The alignment padding after the header is not counted: files without tensors
  // (vocabulary-only GGUFs) end right after their header.
  const headerEnd = ggufInfo.metadataSize + (ggufInfo.tensorInfoSize ?? 0);
  if (headerEnd > sizeBytes) {
    throw truncatedError(absolutePath, headerEnd, sizeBytes, "it ends inside its header");
  }

  const tensors = ggufInfo.tensorInfo ?? [];
  const dataOffset = ggufInfo.infoEndOffset ?? headerEnd;
  let dataEnd = BigInt(headerEnd);
  let parameterCount = 0n;
  const parametersByType = new Map<GgmlType, bigint>();
  for (const tensor of tensors) {
    const elements = tensor.dimensions.reduce<bigint>(
      (product, dimension) => product * BigInt(dimension),
      1n,
    );
    parameterCount += elements;
    parametersByType.set(tensor.ggmlType, (parametersByType.get(tensor.ggmlType) ?? 0n) + elements);
    const end = BigInt(dataOffset) + BigInt(tensor.offset) + computeTensorByteSize(tensor, absolutePath);
    if (end > dataEnd) dataEnd = end;
  }
  const expectedMinSizeBytes = Number(dataEnd);
  if (expectedMinSizeBytes > sizeBytes) {
    throw truncatedError(absolutePath, expectedMinSizeBytes, sizeBytes, "its tensor data is incomplete");
  }

  const metadata = ggufInfo.metadata;
  const architectureMetadata = ggufInfo.architectureMetadata as
    | Partial<Record<"context_length" | "embedding_length" | "block_count" | "vocab_size", unknown>>
    | undefined;
  const splitMetadata = (metadata as { split?: { no?: unknown; count?: unknown } }).split;
  const splitNumber = toNumber(splitMetadata?.no);
  const splitCount = toNumber(splitMetadata?.count);

  return {
    path: absolutePath,
    fileName,
    sizeBytes,
    ggufVersion,
    architecture: toString(metadata.general?.architecture),
    name: toString(metadata.general?.name),
    quantization: describeQuantization(metadata.general?.file_type, parametersByType),
    vocabularySize: metadata.tokenizer?.ggml?.tokens?.length ?? toNumber(architectureMetadata?.vocab_size),
    contextLength: toNumber(architectureMetadata?.context_length),
    embeddingLength: toNumber(architectureMetadata?.embedding_length),
    blockCount: toNumber(architectureMetadata?.block_count),
    tensorCount: tensors.length,
    parameterCount: Number(parameterCount),
    expectedMinSizeBytes,
    split:
      splitNumber !== undefined && splitCount !== undefined && splitCount > 1
        ? { part: splitNumber + 1, count: splitCount }
        : undefined,
  };
}

/**
 * Inspects every `*.gguf` file directly inside `dir`, sorted by file name. Download temporaries (`*.gguf.ipull`,
 * `*.partial`) and hidden files are skipped. A broken file becomes an entry with its error instead of failing
 * the listing.
 *
 * Returns an empty list when `dir` does not exist (no model pulled yet); throws `MODEL_NOT_FOUND` when it is not
 * a directory.
 */
export async function listModelFiles(dir: string): Promise<ModelFileListEntry[]> {
  const absoluteDir = path.resolve(dir);
  let names: string[];
  try {
    names = await fs.readdir(absoluteDir);
  } catch (error) {
    if (getErrorCode(error) === "ENOENT") return [];
    throw new AppError("MODEL_NOT_FOUND", `Cannot list models in "${absoluteDir}": ${describeError(error)}`, {
      param: absoluteDir,
      cause: error,
    });
  }

  const entries: ModelFileListEntry[] = [];
  for (const fileName of names.sort()) {
    if (fileName.startsWith(".") || !fileName.toLowerCase().endsWith(".gguf")) continue;
    const filePath = path.join(absoluteDir, fileName);
    try {
      const info = await inspectModelFile(filePath);
      entries.push({ ok: true, path: filePath, fileName, info });
    } catch (error) {
      const appError =
        error instanceof AppError
          ? error
          : new AppError("MODEL_INVALID_FILE", `Cannot read "${filePath}": ${describeError(error)}`, {
              param: filePath,
              cause: error,
            });
      // A directory named *.gguf is not a model; leave it out rather than report it.
      if (appError.code === "MODEL_INVALID_FILE" && (await isDirectory(filePath))) continue;
      entries.push({ ok: false, path: filePath, fileName, error: appError });
    }
  }
  return entries;
}

function computeTensorByteSize(tensor: GgufTensorInfo, filePath: string): bigint {
  const typeSize = ggmlTypeSizes.get(tensor.ggmlType);
  if (typeSize === undefined) {
    const typeName = (GgmlType as unknown as Record<number, string | undefined>)[tensor.ggmlType];
    throw new AppError(
      "MODEL_INVALID_FILE",
      `"${filePath}" has tensor "${tensor.name}" of ggml type ${typeName ?? tensor.ggmlType}, which llama.cpp does not support`,
      { param: filePath },
    );
  }
  const [rowLength = 1n, ...rest] = tensor.dimensions.map((dimension) => BigInt(dimension));
  const blockSize = BigInt(typeSize.blockSize);
  if (rowLength % blockSize !== 0n) {
    throw new AppError(
      "MODEL_INVALID_FILE",
      `"${filePath}" has tensor "${tensor.name}" with rows of ${rowLength} elements, not a multiple of its block size ${blockSize}`,
      { param: filePath },
    );
  }
  const rows = rest.reduce((product, dimension) => product * dimension, 1n);
  return (rowLength / blockSize) * BigInt(typeSize.typeSize) * rows;
}

function describeQuantization(
  fileType: GgufFileType | undefined,
  parametersByType: ReadonlyMap<GgmlType, bigint>,
): string | undefined {
  if (fileType !== undefined) {
    const name = (GgufFileType as unknown as Record<number, string | undefined>)[Number(fileType)];
    if (name !== undefined) return name === "ALL_F32" ? "F32" : name.replace(/^MOSTLY_/, "");
  }
  let dominant: GgmlType | undefined;
  let most = -1n;
  for (const [type, count] of parametersByType) {
    if (count > most) {
      most = count;
      dominant = type;
    }
  }
  return dominant === undefined
    ? undefined
    : (GgmlType as unknown as Record<number, string | undefined>)[dominant];
}

async function statModelFile(absolutePath: string): Promise<{ size: number }> {
  let stats;
  try {
    stats = await fs.stat(absolutePath);
  } catch (error) {
    const code = getErrorCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new AppError("MODEL_NOT_FOUND", `No model file at "${absolutePath}"`, {
        param: absolutePath,
        cause: error,
      });
    }
    throw new AppError("MODEL_INVALID_FILE", `Cannot read "${absolutePath}": ${describeError(error)}`, {
      param: absolutePath,
      cause: error,
    });
  }
  if (!stats.isFile()) {
    throw new AppError("MODEL_INVALID_FILE", `"${absolutePath}" is not a regular file`, {
      param: absolutePath,
    });
  }
  return stats;
}

async function readFileStart(absolutePath: string, length: number): Promise<Buffer> {
  let handle;
  try {
    handle = await fs.open(absolutePath, "r");
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } catch (error) {
    throw new AppError("MODEL_INVALID_FILE", `Cannot read "${absolutePath}": ${describeError(error)}`, {
      param: absolutePath,
      cause: error,
    });
  } finally {
    await handle?.close();
  }
}

async function isDirectory(filePath: string): Promise<boolean> {
  try {
    return (await fs.stat(filePath)).isDirectory();
  } catch {
    return false;
  }
}

function truncatedError(filePath: string, expected: number, actual: number, detail: string): AppError {
  const percent = expected > 0 ? Math.floor((actual / expected) * 100) : 0;
  return new AppError(
    "MODEL_TRUNCATED",
    `"${filePath}" is truncated: ${detail}; expected at least ${expected} bytes but the file has ${actual} ` +
      `(${percent}%). Was its download interrupted? Pull it again to resume.`,
    { param: filePath },
  );
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "bigint") return Number(value);
  return undefined;
}

function toString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function getErrorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
