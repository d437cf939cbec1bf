/**
 * GGUF v3 constants and the value types shared by the writer and the reader.
 * Reference: ggml's `docs/gguf.md` and `ggml/src/gguf.cpp` (the copy in node-llama-cpp's git bundle).
 */

/** "GGUF" read as a little-endian uint32. */
export const ggufMagic = 0x46554747;
/** The GGUF version this module writes (it reads 2 and 3). */
export const ggufVersion = 3;
/** The data alignment llama.cpp assumes when `general.alignment` is absent, in bytes. */
export const ggufDefaultAlignment = 32;
/** ggml's GGML_MAX_NAME minus the terminating NUL. */
export const ggufMaxTensorNameBytes = 63;
/** ggml tensors have at most four dimensions. */
export const ggufMaxDimensions = 4;

/** Scalar metadata types that hold a JavaScript number. */
export type GgufNumberType =
  "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";
/** Scalar metadata types that hold a bigint (64-bit integers). */
export type GgufBigIntType = "uint64" | "int64";
/** Every scalar metadata type; arrays hold one of these. */
export type GgufScalarType = GgufNumberType | GgufBigIntType | "bool" | "string";

/**
 * One typed metadata value. The type is explicit because llama.cpp checks it: for example
 * `tokenizer.ggml.token_type` must be an int32 array and `tokenizer.ggml.merges` a string array.
 * Arrays of arrays are not supported (no llama.cpp key uses them).
 */
export type GgufMetadataValue =
  | { readonly type: GgufNumberType; readonly value: number }
  | { readonly type: GgufBigIntType; readonly value: bigint }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "array"; readonly itemType: GgufNumberType; readonly value: readonly number[] }
  | { readonly type: "array"; readonly itemType: GgufBigIntType; readonly value: readonly bigint[] }
  | { readonly type: "array"; readonly itemType: "bool"; readonly value: readonly boolean[] }
  | { readonly type: "array"; readonly itemType: "string"; readonly value: readonly string[] };

/** The GGUF wire codes of the metadata value types. */
export const ggufValueTypeCodes = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const satisfies Record<GgufScalarType | "array", number>;

/** Tensor types this module can encode. Norm weights (1-D) should stay F32, as llama.cpp's converters do. */
export type GgufTensorType = "F32" | "F16" | "Q8_0";

/** ggml_type codes of the tensor types this module knows, with their block layout. */
export const ggufTensorTypeInfo = {
  F32: { code: 0, blockSize: 1, bytesPerBlock: 4 },
  F16: { code: 1, blockSize: 1, bytesPerBlock: 2 },
  Q8_0: { code: 8, blockSize: 32, bytesPerBlock: 34 },
} as const satisfies Record<GgufTensorType, { code: number; blockSize: number; bytesPerBlock: number }>;

/** `general.file_type` (llama_ftype) for a model whose weight matrices all have one type. */
export const ggufFileTypeCodes = { F32: 0, F16: 1, Q8_0: 7 } as const satisfies Record<
  GgufTensorType,
  number
>;

/** The tensor type with this ggml_type code, or undefined for types this module cannot encode. */
export function findGgufTensorType(code: number): GgufTensorType | undefined {
  for (const [type, info] of Object.entries(ggufTensorTypeInfo)) {
    if (info.code === code) return type as GgufTensorType;
  }
  return undefined;
}

/** Rounds `offset` up to a multiple of `alignment`. */
export function alignGgufOffset(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}
