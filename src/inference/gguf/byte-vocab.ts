import type { GgufMetadataValue } from "./gguf-format.js";

/**
 * The ChatML chat template (as Qwen2.5 and many others ship it, without a default system prompt).
 * node-llama-cpp recognises it as equivalent to its `ChatMLChatWrapper` and picks that wrapper.
 */
export const chatMlTemplate =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** The special tokens of the byte vocabulary, after the 256 byte tokens, in id order. */
export const byteVocabSpecialTokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] as const;

/** Token ids of the byte vocabulary: ids 0–255 are the bytes 0x00–0xFF themselves. */
export const byteVocabTokenIds = {
  endOfText: 256,
  imStart: 257,
  imEnd: 258,
} as const;

/** Tokens in the byte vocabulary (256 bytes + 3 special tokens). */
export const byteVocabSize = 256 + byteVocabSpecialTokens.length;

/** llama.cpp's token types (`llama_token_type`) as stored in `tokenizer.ggml.token_type`. */
const tokenTypeNormal = 1;
const tokenTypeControl = 3;

/**
 * GPT-2's byte-level mapping from a byte to a printable Unicode character: printable Latin-1 bytes map
 * to themselves, the rest to U+0100 onwards. llama.cpp's BPE tokenizer expects tokens in this form and
 * maps them back to bytes when detokenizing.
 */
export function createByteToUnicodeTable(): string[] {
  const direct: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) direct.push(b);
  for (let b = 0xa1; b <= 0xac; b++) direct.push(b);
  for (let b = 0xae; b <= 0xff; b++) direct.push(b);
  const table = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = String.fromCodePoint(direct.includes(b) ? b : 256 + extra++);
  }
  return table;
}

/**
 * The `tokenizer.*` metadata of a tiny byte-level vocabulary: one token per byte (id = byte value) plus
 * `<|endoftext|>` (BOS, padding), `<|im_start|>` and `<|im_end|>` (EOS), with the ChatML template.
 * Any UTF-8 text round-trips through tokenize/detokenize, at one token per byte.
 *
 * It is a `gpt2` (byte-level BPE) tokenizer with no merges and the `qwen2` pre-tokenizer: llama.cpp
 * requires the merges key even when empty, rejects unknown pre-tokenizer names, and `qwen2` does not
 * "clean up" spaces before punctuation on detokenize (the `gpt-2` one would turn "a ?" into "a?").
 * No BOS is added to prompts (`add_bos_token` false), as with Qwen models.
 */
export function createByteVocabMetadata(): Array<[string, GgufMetadataValue]> {
  const tokens = [...createByteToUnicodeTable(), ...byteVocabSpecialTokens];
  const tokenTypes = tokens.map((_, id) => (id < 256 ? tokenTypeNormal : tokenTypeControl));
  return [
    ["tokenizer.ggml.model", { type: "string", value: "gpt2" }],
    ["tokenizer.ggml.pre", { type: "string", value: "qwen2" }],
    ["tokenizer.ggml.tokens", { type: "array", itemType: "string", value: tokens }],
    ["tokenizer.ggml.token_type", { type: "array", itemType: "int32", value: tokenTypes }],
    ["tokenizer.ggml.merges", { type: "array", itemType: "string", value: [] }],
    ["tokenizer.ggml.bos_token_id", { type: "uint32", value: byteVocabTokenIds.endOfText }],
    ["tokenizer.ggml.eos_token_id", { type: "uint32", value: byteVocabTokenIds.imEnd }],
    ["tokenizer.ggml.padding_token_id", { type: "uint32", value: byteVocabTokenIds.endOfText }],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: false }],
    ["tokenizer.chat_template", { type: "string", value: chatMlTemplate }],
  ];
}
