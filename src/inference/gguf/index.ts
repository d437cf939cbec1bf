export {
  alignGgufOffset,
  findGgufTensorType,
  ggufDefaultAlignment,
  ggufFileTypeCodes,
  ggufMagic,
  ggufTensorTypeInfo,
  ggufValueTypeCodes,
  ggufVersion,
} from "./gguf-format.js";
export type {
  GgufBigIntType,
  GgufMetadataValue,
  GgufNumberType,
  GgufScalarType,
  GgufTensorType,
} from "./gguf-format.js";
export { countElements, GgufWriter, writeGgufFile } from "./gguf-writer.js";
export type { GgufTensorData, GgufTensorSpec, GgufWriteResult, GgufWriterOptions } from "./gguf-writer.js";
export { readGgufHeader, readGgufTensorBytes } from "./gguf-reader.js";
export type { GgufHeader, GgufTensorInfo } from "./gguf-reader.js";
export {
  assertTensorShapeFits,
  convertFromHalfBits,
  convertToHalfBits,
  decodeQ8Blocks,
  getTensorByteLength,
  TensorEncoder,
} from "./tensor-encoding.js";
export {
  byteVocabSize,
  byteVocabSpecialTokens,
  byteVocabTokenIds,
  chatMlTemplate,
  createByteToUnicodeTable,
  createByteVocabMetadata,
} from "./byte-vocab.js";
export {
  loadQwen2TokenizerMetadata,
  qwen2VocabSize,
  resolveDefaultGgufCacheDir,
  resolveQwen2VocabPath,
} from "./qwen2-vocab.js";
export type { Qwen2VocabOptions } from "./qwen2-vocab.js";
export { createSeededRandom, hashToUint32 } from "./seeded-random.js";
export {
  ensureSynthesizedModel,
  resolveSynthCacheFileName,
  synthDefaults,
  synthDraftDefaults,
  synthesizeModel,
} from "./synth.js";
export type {
  ResolvedSynthOptions,
  SynthOptions,
  SynthQuantization,
  SynthResult,
  SynthTokenizer,
} from "./synth.js";
