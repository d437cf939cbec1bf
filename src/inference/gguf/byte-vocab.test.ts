import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  ChatMLChatWrapper,
  getLlama,
  LlamaChatSession,
  resolveChatWrapper,
  type Llama,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  byteVocabSize,
  byteVocabTokenIds,
  createByteToUnicodeTable,
  createByteVocabMetadata,
} from "./byte-vocab.js";
import { synthesizeModel } from "./synth.js";

let dir: string;
let llama: Llama;
let model: LlamaModel;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "sarai-gguf-vocab-"));
  const { path: modelPath } = await synthesizeModel({ outPath: path.join(dir, "byte.gguf"), layers: 1 });
  llama = await getLlama({ gpu: false });
  model = await llama.loadModel({ modelPath });
});
afterAll(async () => {
  await model?.dispose();
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe("byte vocabulary", () => {
  it("maps every byte to its own printable character, as GPT-2 does", () => {
    const table = createByteToUnicodeTable();
    expect(new Set(table).size).toBe(256);
    expect(table[0x41]).toBe("A");
    expect(table[0x20]).toBe("Ġ");
    expect(table[0x0a]).toBe("Ċ");
    expect(table[0xe1]).toBe("á");
  });

  it("declares its tokens with the types llama.cpp checks", () => {
    const metadata = new Map(createByteVocabMetadata());
    const tokens = metadata.get("tokenizer.ggml.tokens");
    expect(tokens?.type === "array" && tokens.itemType === "string" ? tokens.value.length : 0).toBe(
      byteVocabSize,
    );
    expect(metadata.get("tokenizer.ggml.token_type")).toMatchObject({ type: "array", itemType: "int32" });
    expect(metadata.get("tokenizer.ggml.merges")).toEqual({ type: "array", itemType: "string", value: [] });
  });

  describe("in node-llama-cpp", () => {
    for (const text of [
      "mi hermana Lucía vive en Málaga 😀",
      "¿Qué tal? ¡Muy bien! ñÑ ü",
      "a ? b , c 'll  dos  espacios\n\ttab",
      "日本語のテキスト",
    ]) {
      it(`round-trips ${JSON.stringify(text)} at one token per byte`, () => {
        const tokens = model.tokenize(text);
        expect(tokens).toEqual([...Buffer.from(text, "utf8")]);
        expect(model.detokenize(tokens)).toBe(text);
      });
    }

    it("reads ChatML special tokens as single tokens only when asked to", () => {
      const text = "<|im_start|>user\nhola<|im_end|>";
      expect(model.tokenize(text, true)).toEqual([
        byteVocabTokenIds.imStart,
        ...Buffer.from("user\nhola"),
        byteVocabTokenIds.imEnd,
      ]);
      expect(model.tokenize(text)).toHaveLength(Buffer.byteLength(text));
    });

    it("ends a turn at <|im_end|> and has no automatic BOS", () => {
      expect(model.tokens.eos).toBe(byteVocabTokenIds.imEnd);
      expect(model.isEogToken(byteVocabTokenIds.imEnd as Token)).toBe(true);
      expect(model.tokens.bosString).toBe("<|endoftext|>");
      expect(model.tokenize("hola")[0]).toBe("h".charCodeAt(0));
    });

    it("makes node-llama-cpp pick the ChatML chat wrapper", async () => {
      expect(resolveChatWrapper(model)).toBeInstanceOf(ChatMLChatWrapper);
      // One token per byte: node-llama-cpp's default system prompt alone is about 300 tokens.
      const context = await model.createContext({ contextSize: 1024, threads: 1 });
      try {
        const session = new LlamaChatSession({ contextSequence: context.getSequence() });
        expect(session.chatWrapper).toBeInstanceOf(ChatMLChatWrapper);
        const answer = await session.prompt("Hola, ¿cómo estás?", { maxTokens: 8, temperature: 0 });
        expect(Buffer.byteLength(answer)).toBeGreaterThan(0);
        expect(session.getChatHistory().at(-1)).toMatchObject({ type: "model" });
      } finally {
        await context.dispose();
      }
    });
  });
});
