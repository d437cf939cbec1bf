import { randomUUID } from "node:crypto";
import { mkdir, open, rename, rm, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { AppError } from "../../shared/index.js";
import {
  alignGgufOffset,
  ggufDefaultAlignment,
  ggufMagic,
  ggufMaxDimensions,
  ggufMaxTensorNameBytes,
  ggufTensorTypeInfo,
  ggufValueTypeCodes,
  ggufVersion,
  type GgufMetadataValue,
  type GgufScalarType,
  type GgufTensorType,
} from "./gguf-format.js";
import { assertTensorShapeFits, getTensorByteLength, TensorEncoder } from "./tensor-encoding.js";

/**
 * Where a tensor's data comes from. Both kinds are read lazily, once, while the file is written, so a
 * large model never sits in memory whole.
 */
export type GgufTensorData =
  /** Float values in ggml order (`shape[0]` fastest), in chunks of any length; encoded to the tensor type. */
  | { readonly kind: "values"; readonly read: () => Iterable<Float32Array> }
  /** Bytes already encoded in the tensor type (for example copied from another GGUF file). */
  | { readonly kind: "bytes"; readonly read: () => AsyncIterable<Uint8Array> | Iterable<Uint8Array> };

/** One tensor to write. */
export interface GgufTensorSpec {
  /** At most 63 UTF-8 bytes (ggml's limit), unique in the file. */
  readonly name: string;
  /** ggml order, like ggml's `ne`: `shape[0]` is the contiguous row length. One to four dimensions. */
  readonly shape: readonly number[];
  readonly type: GgufTensorType;
  readonly data: GgufTensorData;
}

export interface GgufWriterOptions {
  /**
   * Data alignment in bytes. Default 32 (what llama.cpp assumes). Any other value is also written as
   * `general.alignment`.
   */
  alignment?: number;
}

/** What {@link GgufWriter.write} wrote. */
export interface GgufWriteResult {
  path: string;
  /** File size in bytes. */
  byteLength: number;
  /** Bytes before the first tensor's data (header, metadata, tensor infos, padding). */
  dataOffset: number;
}

/** Bytes of encoded tensor data collected before each write to disk. */
const writeChunkBytes = 1 << 20;

/**
 * Writes a GGUF v3 file: header, typed metadata, tensor infos, then each tensor's data aligned to 32
 * bytes. Tensor data is streamed to disk chunk by chunk; only the header is built in memory.
 * The file appears atomically: it is written to a temporary file beside `path`, then renamed.
 *
 * @example
 * const writer = new GgufWriter();
 * writer.setMetadata("general.architecture", { type: "string", value: "llama" });
 * writer.addTensor({ name: "output_norm.weight", shape: [64], type: "F32", data: { kind: "values", read: () => [ones] } });
 * await writer.write("/tmp/model.gguf");
 */
export class GgufWriter {
  readonly #alignment: number;
  readonly #metadata = new Map<string, GgufMetadataValue>();
  readonly #tensors: GgufTensorSpec[] = [];

  constructor(options: GgufWriterOptions = {}) {
    const alignment = options.alignment ?? ggufDefaultAlignment;
    if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) {
      throw new AppError(
        "INVALID_REQUEST",
        `GGUF alignment must be a positive multiple of 8, got ${alignment}`,
        { param: "alignment" },
      );
    }
    this.#alignment = alignment;
    if (alignment !== ggufDefaultAlignment) {
      this.#metadata.set("general.alignment", { type: "uint32", value: alignment });
    }
  }

  /** Sets one metadata key; setting a key again replaces its value but keeps its first position. */
  setMetadata(key: string, value: GgufMetadataValue): this {
    assertMetadataValue(key, value);
    this.#metadata.set(key, value);
    return this;
  }

  /** Adds a tensor; tensors are written in the order they were added. */
  addTensor(tensor: GgufTensorSpec): this {
    const { name, shape, type } = tensor;
    if (Buffer.byteLength(name) > ggufMaxTensorNameBytes || name === "") {
      throw new AppError("INVALID_REQUEST", `tensor name "${name}" must have 1 to 63 bytes`, { param: name });
    }
    if (this.#tensors.some((existing) => existing.name === name)) {
      throw new AppError("INVALID_REQUEST", `tensor "${name}" was added twice`, { param: name });
    }
    if (
      shape.length < 1 ||
      shape.length > ggufMaxDimensions ||
      !shape.every((d) => Number.isSafeInteger(d) && d > 0)
    ) {
      throw new AppError(
        "INVALID_REQUEST",
        `tensor "${name}" has shape [${shape.join(", ")}]; it needs 1 to 4 positive integer dimensions`,
        { param: name },
      );
    }
    assertTensorShapeFits(name, shape, type);
    this.#tensors.push({ ...tensor, shape: [...shape] });
    return this;
  }

  /**
   * Writes the file to `filePath` (creating its folder) and resolves when it is complete and renamed
   * into place. On failure the temporary file is removed and nothing appears at `filePath`.
   */
  async write(filePath: string): Promise<GgufWriteResult> {
    const { header, offsets, dataOffset } = this.#encodeHeader();
    await mkdir(path.dirname(filePath), { recursive: true });
    const tempPath = `${filePath}.${randomUUID()}.tmp`;
    let handle: FileHandle | undefined;
    try {
      handle = await open(tempPath, "w");
      const sink = new ChunkedSink(handle);
      await sink.append(header);
      let position = dataOffset;
      for (const [index, tensor] of this.#tensors.entries()) {
        const tensorOffset = dataOffset + (offsets[index] ?? 0);
        await sink.append(new Uint8Array(tensorOffset - position));
        const expected = getTensorByteLength(tensor.type, countElements(tensor.shape));
        const written = await writeTensorData(sink, tensor);
        if (written !== expected) {
          throw new AppError(
            "INTERNAL",
            `tensor "${tensor.name}" produced ${written} bytes of data, expected ${expected} for shape [${tensor.shape.join(", ")}] ${tensor.type}`,
            { param: tensor.name },
          );
        }
        position = tensorOffset + written;
      }
      await sink.append(new Uint8Array(alignGgufOffset(position, this.#alignment) - position));
      await sink.flush();
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(tempPath, filePath);
      return { path: filePath, byteLength: sink.byteLength, dataOffset };
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await rm(tempPath, { force: true }).catch(() => undefined);
      if (error instanceof AppError) throw error;
      throw new AppError("INTERNAL", `could not write GGUF file ${filePath}: ${String(error)}`, {
        cause: error,
        param: filePath,
      });
    }
  }

  #encodeHeader(): { header: Uint8Array; offsets: number[]; dataOffset: number } {
    const out = new ByteBuilder();
    out.uint32(ggufMagic);
    out.uint32(ggufVersion);
    out.uint64(BigInt(this.#tensors.length));
    out.uint64(BigInt(this.#metadata.size));
    for (const [key, value] of this.#metadata) {
      out.string(key);
      out.uint32(ggufValueTypeCodes[value.type]);
      writeMetadataValue(out, value);
    }
    const offsets: number[] = [];
    let offset = 0;
    for (const tensor of this.#tensors) {
      offsets.push(offset);
      out.string(tensor.name);
      out.uint32(tensor.shape.length);
      for (const dimension of tensor.shape) out.uint64(BigInt(dimension));
      out.uint32(ggufTensorTypeInfo[tensor.type].code);
      out.uint64(BigInt(offset));
      offset = alignGgufOffset(
        offset + getTensorByteLength(tensor.type, countElements(tensor.shape)),
        this.#alignment,
      );
    }
    const dataOffset = alignGgufOffset(out.length, this.#alignment);
    out.bytes(new Uint8Array(dataOffset - out.length));
    return { header: out.toBytes(), offsets, dataOffset };
  }
}

/** Writes a whole GGUF file in one call; see {@link GgufWriter}. */
export async function writeGgufFile(
  filePath: string,
  content: {
    metadata: Iterable<readonly [string, GgufMetadataValue]>;
    tensors: Iterable<GgufTensorSpec>;
  },
  options: GgufWriterOptions = {},
): Promise<GgufWriteResult> {
  const writer = new GgufWriter(options);
  for (const [key, value] of content.metadata) writer.setMetadata(key, value);
  for (const tensor of content.tensors) writer.addTensor(tensor);
  return writer.write(filePath);
}

/** The number of values in a tensor of this shape. */
export function countElements(shape: readonly number[]): number {
  return shape.reduce((product, dimension) => product * dimension, 1);
}

async function writeTensorData(sink: ChunkedSink, tensor: GgufTensorSpec): Promise<number> {
  let written = 0;
  if (tensor.data.kind === "bytes") {
    for await (const chunk of tensor.data.read()) {
      await sink.append(chunk);
      written += chunk.length;
    }
    return written;
  }
  const encoder = new TensorEncoder(tensor.type);
  for (const values of tensor.data.read()) {
    const encoded = encoder.encode(values);
    await sink.append(encoded);
    written += encoded.length;
  }
  encoder.finish();
  return written;
}

function assertMetadataValue(key: string, value: GgufMetadataValue): void {
  if (key === "") throw new AppError("INVALID_REQUEST", "GGUF metadata key must not be empty");
  const items: readonly unknown[] = value.type === "array" ? value.value : [value.value];
  const itemType: GgufScalarType = value.type === "array" ? value.itemType : value.type;
  for (const item of items) {
    if (!isValidScalar(itemType, item)) {
      throw new AppError(
        "INVALID_REQUEST",
        `GGUF metadata "${key}": ${String(item)} is not a valid ${itemType}`,
        { param: key },
      );
    }
  }
}

const integerRanges: Partial<Record<GgufScalarType, readonly [number, number]>> = {
  uint8: [0, 0xff],
  int8: [-0x80, 0x7f],
  uint16: [0, 0xffff],
  int16: [-0x8000, 0x7fff],
  uint32: [0, 0xffffffff],
  int32: [-0x80000000, 0x7fffffff],
};

function isValidScalar(type: GgufScalarType, item: unknown): boolean {
  switch (type) {
    case "string":
      return typeof item === "string";
    case "bool":
      return typeof item === "boolean";
    case "float32":
    case "float64":
      return typeof item === "number";
    case "uint64":
      return typeof item === "bigint" && item >= 0n && item < 1n << 64n;
    case "int64":
      return typeof item === "bigint" && item >= -(1n << 63n) && item < 1n << 63n;
    default: {
      const [min, max] = integerRanges[type] ?? [0, 0];
      return typeof item === "number" && Number.isInteger(item) && item >= min && item <= max;
    }
  }
}

function writeMetadataValue(out: ByteBuilder, value: GgufMetadataValue): void {
  if (value.type === "array") {
    out.uint32(ggufValueTypeCodes[value.itemType]);
    out.uint64(BigInt(value.value.length));
    for (const item of value.value) writeScalar(out, value.itemType, item);
    return;
  }
  writeScalar(out, value.type, value.value);
}

function writeScalar(out: ByteBuilder, type: GgufScalarType, item: number | bigint | boolean | string): void {
  switch (type) {
    case "string":
      return out.string(item as string);
    case "bool":
      return out.uint8(item === true ? 1 : 0);
    case "uint64":
      return out.uint64(item as bigint);
    case "int64":
      return out.int64(item as bigint);
    default:
      return out.number(type, item as number);
  }
}

/** A growable little-endian byte buffer for the header. */
class ByteBuilder {
  #buffer = Buffer.alloc(1 << 16);
  #length = 0;

  get length(): number {
    return this.#length;
  }

  uint8(value: number): void {
    this.#reserve(1);
    this.#length = this.#buffer.writeUInt8(value, this.#length);
  }

  uint32(value: number): void {
    this.#reserve(4);
    this.#length = this.#buffer.writeUInt32LE(value, this.#length);
  }

  uint64(value: bigint): void {
    this.#reserve(8);
    this.#length = this.#buffer.writeBigUInt64LE(value, this.#length);
  }

  int64(value: bigint): void {
    this.#reserve(8);
    this.#length = this.#buffer.writeBigInt64LE(value, this.#length);
  }

  number(type: GgufScalarType, value: number): void {
    this.#reserve(8);
    const b = this.#buffer;
    const at = this.#length;
    switch (type) {
      case "uint8":
        this.#length = b.writeUInt8(value, at);
        return;
      case "int8":
        this.#length = b.writeInt8(value, at);
        return;
      case "uint16":
        this.#length = b.writeUInt16LE(value, at);
        return;
      case "int16":
        this.#length = b.writeInt16LE(value, at);
        return;
      case "uint32":
        this.#length = b.writeUInt32LE(value, at);
        return;
      case "int32":
        this.#length = b.writeInt32LE(value, at);
        return;
      case "float32":
        this.#length = b.writeFloatLE(value, at);
        return;
      case "float64":
        this.#length = b.writeDoubleLE(value, at);
        return;
      default:
        throw new AppError("INTERNAL", `GGUF type ${type} is not a number type`);
    }
  }

  /** A GGUF string: uint64 byte length, then UTF-8 bytes without a terminator. */
  string(value: string): void {
    const byteLength = Buffer.byteLength(value);
    this.uint64(BigInt(byteLength));
    this.#reserve(byteLength);
    this.#length += this.#buffer.write(value, this.#length, "utf8");
  }

  bytes(value: Uint8Array): void {
    this.#reserve(value.length);
    this.#buffer.set(value, this.#length);
    this.#length += value.length;
  }

  toBytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < this.#length + extra) size *= 2;
    const grown = Buffer.alloc(size);
    this.#buffer.copy(grown, 0, 0, this.#length);
    this.#buffer = grown;
  }
}

/** Collects small appends into ~1 MiB writes. */
class ChunkedSink {
  readonly #handle: FileHandle;
  readonly #chunk = Buffer.alloc(writeChunkBytes);
  #chunkLength = 0;
  #byteLength = 0;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  get byteLength(): number {
    return this.#byteLength;
  }

  async append(bytes: Uint8Array): Promise<void> {
    this.#byteLength += bytes.length;
    if (bytes.length >= writeChunkBytes) {
      await this.flush();
      await this.#writeAll(bytes);
      return;
    }
    if (this.#chunkLength + bytes.length > writeChunkBytes) await this.flush();
    this.#chunk.set(bytes, this.#chunkLength);
    this.#chunkLength += bytes.length;
  }

  async flush(): Promise<void> {
    if (this.#chunkLength === 0) return;
    await this.#writeAll(this.#chunk.subarray(0, this.#chunkLength));
    this.#chunkLength = 0;
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesWritten } = await this.#handle.write(bytes, offset, bytes.length - offset);
      offset += bytesWritten;
    }
  }
}
