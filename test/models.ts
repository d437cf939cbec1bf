import path from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { ensureSynthesizedModel, type SynthOptions } from "../src/inference/index.js";

/** Generated test models are cached here between runs; nothing in it is committed. */
export const testModelsDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  ".cache",
  "test-models",
);

/** The fast default test model: byte vocabulary, width 64, 2 blocks, Q8_0 (about 0.2 MiB). */
export const tinyModelOptions: Omit<SynthOptions, "outPath"> = { seed: 1 };

/** A larger model whose generation takes long enough to abort in the middle of it. */
export const slowModelOptions: Omit<SynthOptions, "outPath"> = { seed: 7, width: 256, layers: 4, ffn: 2048 };

export function ensureTestModel(options: Omit<SynthOptions, "outPath"> = tinyModelOptions): Promise<string> {
  return ensureSynthesizedModel({ ...options, cacheDir: testModelsDir });
}

let llama: Promise<Llama> | undefined;

/** One llama.cpp binding per test file, as SARAi itself creates it. */
export function getTestLlama(): Promise<Llama> {
  llama ??= getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  return llama;
}
