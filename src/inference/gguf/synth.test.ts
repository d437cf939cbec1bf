import { createHash } from "node:crypto";
import { copyFile, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { getLlama, readGgufFileInfo, type Llama, type LlamaModel, type Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { byteVocabSize } from "./byte-vocab.js";
import { readGgufHeader, readGgufTensorBytes } from "./gguf-reader.js";
import {
  ensureSynthesizedModel,
  resolveSynthCacheFileName,
  synthesizeModel,
  type SynthResult,
} from "./synth.js";

let dir: string;
let llama: Llama;
let target: SynthResult;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "sarai-gguf-synth-"));
  llama = await getLlama({ gpu: false });
  target = await synthesizeModel({ outPath: path.join(dir, "target.gguf") });
});
afterAll(async () => {
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function hashFile(filePath: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(filePath))
    .digest("hex");
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

/** Greedy continuation of `prompt`, EOG tokens included so the length is fixed. */
async function generateGreedy(model: LlamaModel, prompt: string, count: number): Promise<Token[]> {
  // One thread: on two shared cores llama.cpp's default (4 threads) is up to 100× slower per token.
  const context = await model.createContext({ contextSize: 256, threads: 1 });
  try {
    const tokens: Token[] = [];
    for await (const token of context.getSequence().evaluate(model.tokenize(prompt), {
      temperature: 0,
      yieldEogToken: true,
    })) {
      tokens.push(token);
      if (tokens.length >= count) break;
    }
    return tokens;
  } finally {
    await context.dispose();
  }
}

/** For each token of `continuation`, whether `model`'s greedy choice after the preceding text equals it. */
async function measureAgreement(model: LlamaModel, prompt: Token[], continuation: Token[]): Promise<number> {
  const context = await model.createContext({ contextSize: 256, threads: 1 });
  try {
    const input = [...prompt, ...continuation.slice(0, -1)];
    const results = await context
      .getSequence()
      .controlledEvaluate(
        input.map((token, index) =>
          index >= prompt.length - 1
            ? [token, { generateNext: { token: true, options: { temperature: 0 } } }]
            : token,
        ),
      );
    return continuation.filter((token, i) => results[prompt.length - 1 + i]?.next.token === token).length;
  } finally {
    await context.dispose();
  }
}

describe("synthesizeModel", () => {
  describe("with default options", () => {
    it("writes a llama model that node-llama-cpp loads quickly", async ({ annotate }) => {
      const started = performance.now();
      const model = await llama.loadModel({ modelPath: target.path });
      const loadMs = performance.now() - started;
      try {
        expect(model.fileInfo.metadata.general.architecture).toBe("llama");
        expect(model.tokens.eosString).toBe("<|im_end|>");
        await annotate(
          `load ${loadMs.toFixed(0)} ms, ${target.byteLength} bytes, synth ${target.durationMs.toFixed(0)} ms`,
        );
        expect(loadMs).toBeLessThan(5_000);
      } finally {
        await model.dispose();
      }
    });

    it("reports its size, weights and resolved options", async () => {
      const { size } = await stat(target.path);
      expect(target.byteLength).toBe(size);
      const perLayer = 64 * 64 * 2 + 64 * 32 * 2 + 64 * 256 * 3 + 64 * 2;
      expect(target.parameterCount).toBe(2 * 64 * byteVocabSize + 2 * perLayer + 64);
      expect(target.vocabularySize).toBe(byteVocabSize);
      expect(target.options).toMatchObject({
        layers: 2,
        width: 64,
        ffn: 256,
        quantization: "Q8_0",
        tokenizer: "byte",
      });
      const info = await readGgufFileInfo(target.path);
      expect(info.architectureMetadata).toMatchObject({
        block_count: 2,
        embedding_length: 64,
        feed_forward_length: 256,
        attention: { head_count: 4, head_count_kv: 2, key_length: 16, value_length: 16 },
        rope: { dimension_count: 16 },
      });
    });

    it("generates the same tokens greedily on two runs", async () => {
      const model = await llama.loadModel({ modelPath: target.path });
      try {
        const first = await generateGreedy(model, "Hola, ¿qué tal?", 32);
        const second = await generateGreedy(model, "Hola, ¿qué tal?", 32);
        expect(first).toHaveLength(32);
        expect(second).toEqual(first);
      } finally {
        await model.dispose();
      }
    });
  });

  describe("determinism", () => {
    it("writes byte-identical files for the same seed and different ones for another seed", async () => {
      const again = await synthesizeModel({ outPath: path.join(dir, "again.gguf") });
      const otherSeed = await synthesizeModel({ outPath: path.join(dir, "seed-2.gguf"), seed: 2 });
      expect(await hashFile(again.path)).toBe(await hashFile(target.path));
      expect(otherSeed.byteLength).toBe(target.byteLength);
      expect(await hashFile(otherSeed.path)).not.toBe(await hashFile(target.path));
    });
  });

  describe("quantization", () => {
    for (const quantization of ["F32", "F16", "Q8_0"] as const) {
      it(`writes ${quantization} weights that load and generate`, async ({ annotate }) => {
        const result = await synthesizeModel({
          outPath: path.join(dir, `${quantization}.gguf`),
          quantization,
        });
        const header = await readGgufHeader(result.path);
        expect(header.tensors.find((t) => t.name === "blk.0.ffn_up.weight")?.type).toBe(quantization);
        expect(header.tensors.find((t) => t.name === "blk.0.attn_norm.weight")?.type).toBe("F32");
        const model = await llama.loadModel({ modelPath: result.path });
        try {
          expect(await generateGreedy(model, "Málaga", 8)).toHaveLength(8);
        } finally {
          await model.dispose();
        }
        await annotate(`${quantization}: ${result.byteLength} bytes`);
      });
    }

    it("rejects Q8_0 with a width that is not a multiple of 32, naming the option", async () => {
      const attempt = synthesizeModel({
        outPath: path.join(dir, "w48.gguf"),
        width: 48,
        heads: 4,
        kvHeads: 2,
      });
      await expect(attempt).rejects.toMatchObject({ code: "INVALID_REQUEST", param: "width" });
      await expect(attempt).rejects.toThrow(/48 is not a multiple of 32, which Q8_0 rows need/);
      const f16 = await synthesizeModel({
        outPath: path.join(dir, "w48.gguf"),
        width: 48,
        quantization: "F16",
      });
      expect(f16.options.width).toBe(48);
    });

    it("rejects impossible attention shapes", async () => {
      const outPath = path.join(dir, "bad.gguf");
      await expect(synthesizeModel({ outPath, heads: 5 })).rejects.toMatchObject({ param: "heads" });
      await expect(synthesizeModel({ outPath, heads: 4, kvHeads: 3 })).rejects.toMatchObject({
        param: "kvHeads",
      });
      await expect(synthesizeModel({ outPath, layers: 0 })).rejects.toMatchObject({ param: "layers" });
    });
  });

  describe("draftFor", () => {
    let draft: SynthResult;
    beforeAll(async () => {
      draft = await synthesizeModel({ outPath: path.join(dir, "draft.gguf"), draftFor: target.path });
    });

    it("copies the target's tokenizer, embeddings and output head into a one-block model", async () => {
      const [targetHeader, draftHeader] = await Promise.all([
        readGgufHeader(target.path),
        readGgufHeader(draft.path),
      ]);
      const tokenizerOf = (header: typeof targetHeader): unknown[] =>
        [...header.metadata].filter(([key]) => key.startsWith("tokenizer."));
      expect(tokenizerOf(draftHeader)).toEqual(tokenizerOf(targetHeader));
      expect(draftHeader.metadata.get("llama.block_count")?.value).toBe(1);
      for (const name of ["token_embd.weight", "output_norm.weight", "output.weight"]) {
        const [fromTarget, fromDraft] = await Promise.all([
          collect(readGgufTensorBytes(target.path, targetHeader, name)),
          collect(readGgufTensorBytes(draft.path, draftHeader, name)),
        ]);
        expect(fromDraft.equals(fromTarget)).toBe(true);
      }
      expect(draft.options).toMatchObject({
        layers: 1,
        width: 64,
        quantization: "Q8_0",
        tokenizer: "copied",
      });
    });

    it("agrees with the target's greedy choice on at least 90% of 64 tokens", async ({ annotate }) => {
      const [targetModel, draftModel] = await Promise.all([
        llama.loadModel({ modelPath: target.path }),
        llama.loadModel({ modelPath: draft.path }),
      ]);
      try {
        const prompt = "Érase una vez, en Málaga, ";
        const continuation = await generateGreedy(targetModel, prompt, 64);
        const agreed = await measureAgreement(draftModel, targetModel.tokenize(prompt), continuation);
        await annotate(`draft/target greedy agreement ${agreed}/${continuation.length}`);
        expect(continuation).toHaveLength(64);
        expect(agreed / continuation.length).toBeGreaterThanOrEqual(0.9);
      } finally {
        await Promise.all([targetModel.dispose(), draftModel.dispose()]);
      }
    });

    it("depends on the target's content, not its file name", async () => {
      const copy = path.join(dir, "copy-of-target.gguf");
      await copyFile(target.path, copy);
      const fromCopy = await synthesizeModel({
        outPath: path.join(dir, "draft-of-copy.gguf"),
        draftFor: copy,
      });
      expect(await hashFile(fromCopy.path)).toBe(await hashFile(draft.path));
    });

    it("refuses a width or tokenizer, which must be the target's", async () => {
      const outPath = path.join(dir, "bad-draft.gguf");
      await expect(synthesizeModel({ outPath, draftFor: target.path, width: 128 })).rejects.toMatchObject({
        code: "INVALID_REQUEST",
        param: "width",
      });
      await expect(
        synthesizeModel({ outPath, draftFor: target.path, tokenizer: "byte" }),
      ).rejects.toMatchObject({ param: "tokenizer" });
    });
  });

  describe("caching", () => {
    it("names a model by its options, defaults included", () => {
      const name = resolveSynthCacheFileName({});
      expect(name).toMatch(/^sarai-synth-byte-q8_0-l2-w64-f256-[0-9a-f]{16}\.gguf$/);
      expect(resolveSynthCacheFileName({ width: 64, layers: 2, seed: 1 })).toBe(name);
      expect(resolveSynthCacheFileName({ seed: 2 })).not.toBe(name);
      expect(resolveSynthCacheFileName({ cacheDir: "/elsewhere" })).toBe(name);
      expect(resolveSynthCacheFileName({ draftFor: "/models/t.gguf" })).toMatch(
        /^sarai-draft-[0-9a-f]{16}\.gguf$/,
      );
    });

    it("synthesizes a cached model once and reuses it", async () => {
      const cacheDir = path.join(dir, "cache");
      const first = await ensureSynthesizedModel({ cacheDir, layers: 1 });
      const { mtimeMs } = await stat(first);
      const second = await ensureSynthesizedModel({ cacheDir, layers: 1 });
      expect(second).toBe(first);
      expect((await stat(second)).mtimeMs).toBe(mtimeMs);
      expect(path.basename(first)).toBe(resolveSynthCacheFileName({ layers: 1 }));
    });
  });
});
