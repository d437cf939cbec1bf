import { AppError } from "../../shared/index.js";
import { ggufTensorTypeInfo, type GgufTensorType } from "./gguf-format.js";

const q8BlockSize = ggufTensorTypeInfo.Q8_0.blockSize;
const q8BlockBytes = ggufTensorTypeInfo.Q8_0.bytesPerBlock;

const float32Scratch = new Float32Array(1);
const uint32Scratch = new Uint32Array(float32Scratch.buffer);

/** Converts a number to IEEE half-precision bits, rounding to nearest even (as ggml's FP32_TO_FP16). */
export function convertToHalfBits(value: number): number {
  float32Scratch[0] = value;
  const bits = uint32Scratch[0] ?? 0;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    let half = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/** Converts IEEE half-precision bits to a number. */
export function convertFromHalfBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Bytes a tensor of `elementCount` values takes in `type` (without alignment padding). */
export function getTensorByteLength(type: GgufTensorType, elementCount: number): number {
  const info = ggufTensorTypeInfo[type];
  return (elementCount / info.blockSize) * info.bytesPerBlock;
}

/**
 * Throws unless `shape` (ggml order: `shape[0]` is the contiguous row length) can be stored as `type`.
 * Q8_0 packs each row in blocks of 32 values, so its row length must be a multiple of 32.
 */
export function assertTensorShapeFits(name: string, shape: readonly number[], type: GgufTensorType): void {
  const rowLength = shape[0] ?? 0;
  const blockSize = ggufTensorTypeInfo[type].blockSize;
  if (rowLength % blockSize !== 0) {
    throw new AppError(
      "INVALID_REQUEST",
      `tensor "${name}" has rows of ${rowLength} values, but ${type} needs a row length that is a multiple of ${blockSize}; ` +
        `use F16 or F32, or pick a width/ffn that is a multiple of ${blockSize}`,
      { param: name },
    );
  }
}

/**
 * Encodes a stream of float values into one tensor type, chunk by chunk. Chunks may have any length:
 * Q8_0 keeps an incomplete block until the next chunk completes it.
 */
export class TensorEncoder {
  readonly #type: GgufTensorType;
  readonly #pending = new Float32Array(q8BlockSize);
  #pendingLength = 0;

  constructor(type: GgufTensorType) {
    this.#type = type;
  }

  /** Encodes `values`; the result may be empty when Q8_0 is still waiting for a full block. */
  encode(values: Float32Array): Uint8Array {
    switch (this.#type) {
      case "F32":
        return encodeFloat32(values);
      case "F16":
        return encodeFloat16(values);
      case "Q8_0":
        return this.#encodeQ8(values);
    }
  }

  /** Throws if a Q8_0 block was left incomplete (the value count was not a multiple of 32). */
  finish(): void {
    if (this.#pendingLength !== 0) {
      throw new AppError(
        "INTERNAL",
        `Q8_0 tensor data ended inside a block (${this.#pendingLength} values left)`,
      );
    }
  }

  #encodeQ8(values: Float32Array): Uint8Array {
    const blockCount = Math.floor((this.#pendingLength + values.length) / q8BlockSize);
    const out = new Uint8Array(blockCount * q8BlockBytes);
    let index = 0;
    let block = 0;
    if (this.#pendingLength > 0) {
      const take = Math.min(q8BlockSize - this.#pendingLength, values.length);
      this.#pending.set(values.subarray(0, take), this.#pendingLength);
      this.#pendingLength += take;
      index = take;
      if (this.#pendingLength === q8BlockSize) {
        quantizeQ8Block(this.#pending, 0, out, 0);
        this.#pendingLength = 0;
        block = 1;
      }
    }
    for (; block < blockCount; block++, index += q8BlockSize) {
      quantizeQ8Block(values, index, out, block * q8BlockBytes);
    }
    const rest = values.length - index;
    if (rest > 0) {
      this.#pending.set(values.subarray(index), this.#pendingLength);
      this.#pendingLength += rest;
    }
    return out;
  }
}

/** ggml's quantize_row_q8_0_ref for one block: f16 scale, then 32 int8 values rounded half away from zero. */
function quantizeQ8Block(values: Float32Array, start: number, out: Uint8Array, offset: number): void {
  const end = start + q8BlockSize;
  let absMax = 0;
  for (let i = start; i < end; i++) {
    const abs = Math.abs(values[i]!);
    if (abs > absMax) absMax = abs;
  }
  const scale = absMax / 127;
  const inverse = scale === 0 ? 0 : 1 / scale;
  const scaleBits = convertToHalfBits(scale);
  out[offset] = scaleBits & 0xff;
  out[offset + 1] = scaleBits >>> 8;
  // Two's complement bytes: a Uint8Array store keeps the low 8 bits of a negative integer.
  for (let i = 0, at = offset + 2; i < q8BlockSize; i++, at++) {
    const scaled = values[start + i]! * inverse;
    out[at] = scaled >= 0 ? Math.floor(scaled + 0.5) : -Math.floor(0.5 - scaled);
  }
}

function encodeFloat32(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

function encodeFloat16(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const bits = convertToHalfBits(values[i]!);
    out[i * 2] = bits & 0xff;
    out[i * 2 + 1] = bits >>> 8;
  }
  return out;
}

/** Decodes Q8_0 blocks back to floats (for tests and inspection). */
export function decodeQ8Blocks(bytes: Uint8Array): Float32Array {
  const blockCount = Math.floor(bytes.length / q8BlockBytes);
  const out = new Float32Array(blockCount * q8BlockSize);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let block = 0; block < blockCount; block++) {
    const offset = block * q8BlockBytes;
    const scale = convertFromHalfBits(view.getUint16(offset, true));
    for (let i = 0; i < q8BlockSize; i++) out[block * q8BlockSize + i] = scale * view.getInt8(offset + 2 + i);
  }
  return out;
}
