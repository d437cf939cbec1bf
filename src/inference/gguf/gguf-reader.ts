import { createReadStream } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { AppError } from "../../shared/index.js";
import {
  alignGgufOffset,
  findGgufTensorType,
  ggufDefaultAlignment,
  ggufMagic,
  ggufValueTypeCodes,
  type GgufMetadataValue,
  type GgufScalarType,
  type GgufTensorType,
} from "./gguf-format.js";
import { getTensorByteLength } from "./tensor-encoding.js";

/** One tensor as the header describes it. */
export interface GgufTensorInfo {
  name: string;
  /** ggml order: `shape[0]` is the row length. */
  shape: number[];
  /** The ggml_type code as stored. */
  typeCode: number;
  /** The type, when it is one this module can encode (F32, F16, Q8_0). */
  type: GgufTensorType | undefined;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  /** Data size in bytes, when the type is known. */
  byteLength: number | undefined;
}

/** A GGUF file's header with its metadata types kept, so values can be copied into another file as they were. */
export interface GgufHeader {
  version: number;
  /** Metadata in file order. */
  metadata: Map<string, GgufMetadataValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute byte offset where tensor data starts. */
  dataOffset: number;
  /** File size in bytes. */
  fileByteLength: number;
}

const initialReadBytes = 1 << 20;
const typeByCode = new Map<number, GgufScalarType | "array">(
  Object.entries(ggufValueTypeCodes).map(([name, code]) => [code, name as GgufScalarType | "array"]),
);

/** Thrown inside the parser when the header runs past the bytes read so far. */
class NeedMoreBytes extends Error {}

/**
 * Reads a GGUF (v2 or v3) file's header: metadata with its types, and tensor infos. Only the header is
 * read (it grows the read until the header fits), never the tensor data.
 * Throws `MODEL_INVALID_FILE` for a file that is not GGUF and `MODEL_TRUNCATED` when the tensor table
 * points past the end of the file.
 */
export async function readGgufHeader(filePath: string): Promise<GgufHeader> {
  let handle: FileHandle;
  try {
    handle = await open(filePath, "r");
  } catch (error) {
    throw new AppError("MODEL_NOT_FOUND", `cannot open GGUF file ${filePath}`, {
      cause: error,
      param: filePath,
    });
  }
  try {
    const { size } = await handle.stat();
    let readBytes = Math.min(initialReadBytes, size);
    for (;;) {
      const buffer = Buffer.alloc(readBytes);
      const { bytesRead } = await handle.read(buffer, 0, readBytes, 0);
      try {
        return parseGgufHeader(buffer.subarray(0, bytesRead), size, filePath);
      } catch (error) {
        if (!(error instanceof NeedMoreBytes)) throw error;
        if (readBytes >= size) {
          throw new AppError(
            "MODEL_INVALID_FILE",
            `GGUF header of ${filePath} runs past the end of the file`,
            { param: filePath },
          );
        }
        readBytes = Math.min(readBytes * 4, size);
      }
    }
  } finally {
    await handle.close();
  }
}

/**
 * Streams one tensor's raw data from a GGUF file, for copying it into another file unchanged.
 * Throws `INVALID_REQUEST` if the header has no such tensor or its type is unknown.
 */
export function readGgufTensorBytes(
  filePath: string,
  header: GgufHeader,
  name: string,
): AsyncIterable<Uint8Array> {
  const tensor = header.tensors.find((candidate) => candidate.name === name);
  if (tensor?.byteLength === undefined) {
    throw new AppError("INVALID_REQUEST", `GGUF file ${filePath} has no tensor "${name}" of a known type`, {
      param: name,
    });
  }
  if (tensor.byteLength === 0) return (async function* () {})();
  return createReadStream(filePath, {
    start: tensor.offset,
    end: tensor.offset + tensor.byteLength - 1,
    highWaterMark: 1 << 20,
  });
}

function parseGgufHeader(buffer: Buffer, fileByteLength: number, filePath: string): GgufHeader {
  const reader = new HeaderCursor(buffer);
  if (buffer.length < 8 || reader.uint32() !== ggufMagic) {
    throw new AppError("MODEL_INVALID_FILE", `${filePath} is not a GGUF file (wrong magic bytes)`, {
      param: filePath,
    });
  }
  const version = reader.uint32();
  if (version !== 2 && version !== 3) {
    throw new AppError(
      "MODEL_INVALID_FILE",
      `${filePath} has GGUF version ${version}; only 2 and 3 are read`,
      { param: filePath },
    );
  }
  const tensorCount = reader.count();
  const metadataCount = reader.count();
  const metadata = new Map<string, GgufMetadataValue>();
  for (let i = 0; i < metadataCount; i++) {
    const key = reader.string();
    metadata.set(key, reader.metadataValue(key));
  }
  const alignmentValue = metadata.get("general.alignment");
  const alignment =
    alignmentValue?.type === "uint32" && alignmentValue.value > 0
      ? alignmentValue.value
      : ggufDefaultAlignment;
  const relative: Array<Omit<GgufTensorInfo, "offset"> & { relativeOffset: number }> = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = reader.string();
    const dimensionCount = reader.uint32();
    const shape: number[] = [];
    for (let d = 0; d < dimensionCount; d++) shape.push(reader.count());
    const typeCode = reader.uint32();
    const relativeOffset = reader.count();
    const type = findGgufTensorType(typeCode);
    const elements = shape.reduce((product, dimension) => product * dimension, 1);
    const byteLength = type === undefined ? undefined : getTensorByteLength(type, elements);
    relative.push({ name, shape, typeCode, type, relativeOffset, byteLength });
  }
  const dataOffset = alignGgufOffset(reader.position, alignment);
  const tensors = relative.map(({ relativeOffset, ...tensor }) => ({
    ...tensor,
    offset: dataOffset + relativeOffset,
  }));
  for (const tensor of tensors) {
    if (tensor.offset + (tensor.byteLength ?? 0) > fileByteLength) {
      throw new AppError(
        "MODEL_TRUNCATED",
        `${filePath} ends at byte ${fileByteLength}, but tensor "${tensor.name}" needs bytes up to ${tensor.offset + (tensor.byteLength ?? 0)}`,
        { param: filePath },
      );
    }
  }
  return { version, metadata, tensors, alignment, dataOffset, fileByteLength };
}

class HeaderCursor {
  readonly #buffer: Buffer;
  #position = 0;

  constructor(buffer: Buffer) {
    this.#buffer = buffer;
  }

  get position(): number {
    return this.#position;
  }

  uint32(): number {
    const at = this.#advance(4);
    return this.#buffer.readUInt32LE(at);
  }

  /** A uint64 that must fit a JavaScript number (counts, lengths, offsets). */
  count(): number {
    const value = Number(this.#buffer.readBigUInt64LE(this.#advance(8)));
    if (!Number.isSafeInteger(value)) throw new AppError("MODEL_INVALID_FILE", "GGUF count is out of range");
    return value;
  }

  string(): string {
    const length = this.count();
    const at = this.#advance(length);
    return this.#buffer.toString("utf8", at, at + length);
  }

  metadataValue(key: string): GgufMetadataValue {
    const type = this.#valueType(key);
    if (type !== "array") return this.#scalar(type, key);
    const itemType = this.#valueType(key);
    if (itemType === "array") {
      throw new AppError(
        "MODEL_INVALID_FILE",
        `GGUF metadata "${key}" is an array of arrays (not supported)`,
        { param: key },
      );
    }
    const length = this.count();
    const items: unknown[] = new Array<unknown>(length);
    for (let i = 0; i < length; i++) items[i] = this.#scalar(itemType, key).value;
    // The items were read with `itemType`, so the pairing below is sound.
    return { type: "array", itemType, value: items } as GgufMetadataValue;
  }

  #valueType(key: string): GgufScalarType | "array" {
    const code = this.uint32();
    const type = typeByCode.get(code);
    if (type === undefined) {
      throw new AppError("MODEL_INVALID_FILE", `GGUF metadata "${key}" has unknown value type ${code}`, {
        param: key,
      });
    }
    return type;
  }

  #scalar(type: GgufScalarType, key: string): GgufMetadataValue {
    const b = this.#buffer;
    switch (type) {
      case "uint8":
        return { type, value: b.readUInt8(this.#advance(1)) };
      case "int8":
        return { type, value: b.readInt8(this.#advance(1)) };
      case "uint16":
        return { type, value: b.readUInt16LE(this.#advance(2)) };
      case "int16":
        return { type, value: b.readInt16LE(this.#advance(2)) };
      case "uint32":
        return { type, value: b.readUInt32LE(this.#advance(4)) };
      case "int32":
        return { type, value: b.readInt32LE(this.#advance(4)) };
      case "float32":
        return { type, value: b.readFloatLE(this.#advance(4)) };
      case "float64":
        return { type, value: b.readDoubleLE(this.#advance(8)) };
      case "uint64":
        return { type, value: b.readBigUInt64LE(this.#advance(8)) };
      case "int64":
        return { type, value: b.readBigInt64LE(this.#advance(8)) };
      case "bool":
        return { type, value: b.readUInt8(this.#advance(1)) !== 0 };
      case "string":
        return { type, value: this.string() };
      default:
        throw new AppError("MODEL_INVALID_FILE", `GGUF metadata "${key}" has unknown type ${String(type)}`);
    }
  }

  #advance(bytes: number): number {
    const at = this.#position;
    if (at + bytes > this.#buffer.length) throw new NeedMoreBytes();
    this.#position = at + bytes;
    return at;
  }
}
