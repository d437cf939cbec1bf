import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  ChatMLChatWrapper,
  getLlama,
  resolveChatWrapper,
  type Llama,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readGgufHeader } from "./gguf-reader.js";
import { loadQwen2TokenizerMetadata, qwen2VocabSize, resolveQwen2VocabPath } from "./qwen2-vocab.js";
import { synthesizeModel, type SynthResult } from "./synth.js";

// The vocabulary is extracted once into the default cache (<os tmpdir>/sarai-gguf-cache) and kept
// between runs; the models go to a temp folder that is removed.
let dir: string;
let llama: Llama;
let model: LlamaModel;
let result: SynthResult;
let loadMs: number;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "sarai-gguf-qwen2-"));
  // Small on purpose: the 151,936-row embedding and output head dominate both synthesis and compute.
  result = await synthesizeModel({
    outPath: path.join(dir, "qwen2.gguf"),
    tokenizer: "qwen2",
    layers: 1,
    width: 32,
    heads: 2,
    kvHeads: 1,
    ffn: 32,
  });
  llama = await getLlama({ gpu: false });
  const started = performance.now();
  model = await llama.loadModel({ modelPath: result.path });
  loadMs = performance.now() - started;
});
afterAll(async () => {
  await model?.dispose();
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe("qwen2 vocabulary", () => {
  it("is extracted from node-llama-cpp's llama.cpp bundle with its tokenizer keys", async () => {
    const vocabPath = await resolveQwen2VocabPath();
    expect(path.basename(vocabPath)).toMatch(/^ggml-vocab-qwen2-node-llama-cpp-.+\.gguf$/);
    const metadata = new Map(await loadQwen2TokenizerMetadata());
    expect(metadata.get("tokenizer.ggml.model")?.value).toBe("gpt2");
    expect(metadata.get("tokenizer.ggml.pre")?.value).toBe("qwen2");
    expect([...metadata.keys()].every((key) => key.startsWith("tokenizer."))).toBe(true);
  });

  it("gives a model with 151,936 tokens that loads", async ({ annotate }) => {
    expect(result.vocabularySize).toBe(qwen2VocabSize);
    const header = await readGgufHeader(result.path);
    expect(header.tensors.find((t) => t.name === "output.weight")?.shape).toEqual([32, qwen2VocabSize]);
    expect(model.detokenize([151_935 as Token], true)).toBe("[PAD151935]");
    await annotate(
      `qwen2 model: ${result.byteLength} bytes, synth ${result.durationMs.toFixed(0)} ms, load ${loadMs.toFixed(0)} ms`,
    );
  });

  it("tokenizes Spanish text into multi-byte tokens and back", () => {
    const text = "mi hermana Lucía vive en Málaga 😀";
    const tokens = model.tokenize(text);
    expect(tokens.length).toBeLessThan(Buffer.byteLength(text) / 2);
    expect(model.detokenize(tokens)).toBe(text);
    expect(model.tokenize("<|im_end|>", true)).toEqual([151_645]);
  });

  it("makes node-llama-cpp pick the ChatML chat wrapper", () => {
    expect(resolveChatWrapper(model)).toBeInstanceOf(ChatMLChatWrapper);
  });
});
