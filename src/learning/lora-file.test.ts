import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readGgufHeader, writeGgufFile, type GgufTensorType } from "../inference/gguf/index.js";
import { AppError } from "../shared/index.js";
import {
  loadTrainerState,
  readLoraAdapter,
  readOutputHead,
  saveTrainerState,
  writeLoraAdapter,
} from "./lora-file.js";
import { trainLoraHead, type HeadPosition, type LoraHead, type TrainerState } from "./lora-head.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "sarai-lora-file-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sequence(length: number, value: (index: number) => number): Float32Array {
  return Float32Array.from({ length }, (_, index) => value(index));
}

/** Writes a small model-like GGUF whose output head (if any) holds `weight` (`weight[o * nIn + i]`). */
async function writeModel(
  name: string,
  head: { nIn: number; nOut: number; weight: Float32Array; type: GgufTensorType } | undefined,
): Promise<string> {
  const file = path.join(dir, name);
  await writeGgufFile(file, {
    metadata: [["general.architecture", { type: "string", value: "llama" }]],
    tensors: [
      {
        name: "token_embd.weight",
        shape: [4, 3],
        type: "F32",
        data: { kind: "values", read: () => [sequence(12, (i) => i)] },
      },
      ...(head === undefined
        ? []
        : [
            {
              name: "output.weight",
              shape: [head.nIn, head.nOut],
              type: head.type,
              data: { kind: "values" as const, read: () => [head.weight] },
            },
          ]),
    ],
  });
  return file;
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

function sampleLora(): LoraHead {
  const rank = 3;
  const nIn = 5;
  const nOut = 7;
  return {
    rank,
    alpha: 16,
    nIn,
    nOut,
    a: sequence(rank * nIn, (i) => Math.sin(i + 1) / 3),
    b: sequence(nOut * rank, (i) => Math.cos(i * 1.7) * 1e-3),
  };
}

describe("lora file", () => {
  describe("readOutputHead", () => {
    const nIn = 64;
    const nOut = 3;
    const weight = sequence(nIn * nOut, (index) => Math.sin(index * 0.37) * (1 + (index % 5)) * 0.2);

    it("reads an F32 head exactly, as weight[o * nIn + i]", async () => {
      const file = await writeModel("f32.gguf", { nIn, nOut, weight, type: "F32" });
      const head = await readOutputHead(file);
      expect(head.nIn).toBe(nIn);
      expect(head.nOut).toBe(nOut);
      expect(Array.from(head.weight)).toEqual(Array.from(weight));
    });

    it("reads an F16 head", async () => {
      // Eighths between −2 and 2 are exact in half precision.
      const halves = sequence(nIn * nOut, (index) => ((index % 33) - 16) / 8);
      const file = await writeModel("f16.gguf", { nIn, nOut, weight: halves, type: "F16" });
      const head = await readOutputHead(file);
      expect([head.nIn, head.nOut]).toEqual([nIn, nOut]);
      expect(Array.from(head.weight)).toEqual(Array.from(halves));
    });

    it("reads a Q8_0 head within the quantisation error of each 32-value block", async () => {
      const file = await writeModel("q8.gguf", { nIn, nOut, weight, type: "Q8_0" });
      const head = await readOutputHead(file);
      expect([head.nIn, head.nOut]).toEqual([nIn, nOut]);
      expect(head.weight).toHaveLength(nIn * nOut);
      let exact = 0;
      for (let block = 0; block < weight.length / 32; block++) {
        const values = weight.subarray(block * 32, block * 32 + 32);
        const step = Math.max(...Array.from(values, Math.abs)) / 127;
        for (let index = block * 32; index < block * 32 + 32; index++) {
          const error = Math.abs((head.weight[index] ?? Number.NaN) - (weight[index] ?? 0));
          expect(error).toBeLessThanOrEqual(step * 0.51);
          if (error === 0) exact += 1;
        }
      }
      // Quantised, not copied: most values moved a little.
      expect(exact).toBeLessThan(weight.length / 2);
    });

    it("refuses a model without output.weight (a tied head) with LORA_UNSUPPORTED", async () => {
      const file = await writeModel("tied.gguf", undefined);
      const error = await rejection(readOutputHead(file));
      expect(error.code).toBe("LORA_UNSUPPORTED");
      expect(error.message).toContain("tied");
      expect(error.message).toContain("tied.gguf");
    });

    it("refuses a head in another ggml type with LORA_UNSUPPORTED naming the type", async () => {
      const file = await writeModel("q4k.gguf", { nIn, nOut, weight, type: "F32" });
      const bytes = await readFile(file);
      // The tensor info after the name: uint32 dimension count, two uint64 dimensions, then the uint32 type.
      const name = bytes.indexOf("output.weight");
      const typeAt = name + "output.weight".length + 4 + 16;
      expect(bytes.readUInt32LE(typeAt)).toBe(0);
      bytes.writeUInt32LE(12, typeAt);
      await writeFile(file, bytes);
      const error = await rejection(readOutputHead(file));
      expect(error.code).toBe("LORA_UNSUPPORTED");
      expect(error.message).toContain("ggml type 12");
    });
  });

  describe("writeLoraAdapter and readLoraAdapter", () => {
    it("round-trips the adapter's values, alpha, rank and shapes", async () => {
      const lora = sampleLora();
      const file = path.join(dir, "adapters", "round-trip.gguf");
      await writeLoraAdapter(file, lora, { architecture: "llama", name: "test adapter" });
      const read = await readLoraAdapter(file);
      expect(read.rank).toBe(lora.rank);
      expect(read.alpha).toBe(lora.alpha);
      expect(read.nIn).toBe(lora.nIn);
      expect(read.nOut).toBe(lora.nOut);
      expect(Array.from(read.a)).toEqual(Array.from(lora.a));
      expect(Array.from(read.b)).toEqual(Array.from(lora.b));
      // Atomic: the temporary file is gone.
      expect(await readdir(path.dirname(file))).toEqual(["round-trip.gguf"]);
    });

    it("writes a llama.cpp LoRA GGUF header", async () => {
      const lora = sampleLora();
      const file = path.join(dir, "header.gguf");
      await writeLoraAdapter(file, lora, { architecture: "qwen2" });
      const header = await readGgufHeader(file);
      expect(header.metadata.get("general.type")).toEqual({ type: "string", value: "adapter" });
      expect(header.metadata.get("adapter.type")).toEqual({ type: "string", value: "lora" });
      expect(header.metadata.get("general.architecture")).toEqual({ type: "string", value: "qwen2" });
      expect(header.metadata.get("adapter.lora.alpha")).toEqual({ type: "float32", value: 16 });
      expect(header.metadata.has("general.name")).toBe(false);
      expect(header.tensors.map(({ name, shape, type }) => ({ name, shape, type }))).toEqual([
        { name: "output.weight.lora_a", shape: [lora.nIn, lora.rank], type: "F32" },
        { name: "output.weight.lora_b", shape: [lora.rank, lora.nOut], type: "F32" },
      ]);
    });

    it("refuses a file that is not an adapter with LORA_UNSUPPORTED", async () => {
      const model = await writeModel("not-adapter.gguf", {
        nIn: 4,
        nOut: 2,
        weight: sequence(8, (i) => i),
        type: "F32",
      });
      const error = await rejection(readLoraAdapter(model));
      expect(error.code).toBe("LORA_UNSUPPORTED");
      expect(error.message).toContain("not-adapter.gguf");
    });

    it("refuses an adapter whose LoRA tensors are not F32", async () => {
      const file = path.join(dir, "f16-adapter.gguf");
      await writeGgufFile(file, {
        metadata: [
          ["general.type", { type: "string", value: "adapter" }],
          ["adapter.type", { type: "string", value: "lora" }],
          ["adapter.lora.alpha", { type: "float32", value: 8 }],
        ],
        tensors: [
          {
            name: "output.weight.lora_a",
            shape: [4, 2],
            type: "F16",
            data: { kind: "values", read: () => [new Float32Array(8)] },
          },
          {
            name: "output.weight.lora_b",
            shape: [2, 3],
            type: "F16",
            data: { kind: "values", read: () => [new Float32Array(6)] },
          },
        ],
      });
      expect((await rejection(readLoraAdapter(file))).code).toBe("LORA_UNSUPPORTED");
    });
  });

  describe("saveTrainerState and loadTrainerState", () => {
    function sampleState(): TrainerState {
      const lora = sampleLora();
      return {
        key: "0123456789abcdef0123456789abcdef",
        step: 37,
        lora,
        mA: sequence(lora.a.length, (i) => -i / 7),
        vA: sequence(lora.a.length, (i) => i * 1e-6),
        mB: sequence(lora.b.length, (i) => Math.tan(i) * 1e-2),
        vB: sequence(lora.b.length, (i) => 1 / (i + 1)),
      };
    }

    const plain = (state: TrainerState | undefined) =>
      state === undefined
        ? undefined
        : {
            ...state,
            lora: { ...state.lora, a: Array.from(state.lora.a), b: Array.from(state.lora.b) },
            mA: Array.from(state.mA),
            vA: Array.from(state.vA),
            mB: Array.from(state.mB),
            vB: Array.from(state.vB),
          };

    it("round-trips every field, in a file only its owner can read", async () => {
      const state = sampleState();
      const file = path.join(dir, "states", "round-trip.json");
      await saveTrainerState(file, state);
      const loaded = await loadTrainerState(file);
      expect(plain(loaded)).toEqual(plain(state));
      expect(loaded?.lora.a).toBeInstanceOf(Float32Array);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(await readdir(path.dirname(file))).toEqual(["round-trip.json"]);
    });

    it("resumes training from a saved state to the same adapter as an uninterrupted run", async () => {
      const positions: HeadPosition[] = Array.from({ length: 5 }, (_, p) => ({
        hidden: sequence(6, (i) => Math.sin(p * 3 + i)),
        target: (p * 2) % 4,
      }));
      const head = { nIn: 6, nOut: 4, weight: sequence(24, (i) => Math.cos(i) * 0.5) };
      const options = {
        rank: 2,
        alpha: 4,
        learningRate: 0.05,
        steps: 30,
        batchSize: 3,
        weightDecay: 0.01,
        seed: "file",
      };
      const whole = trainLoraHead(head, positions, options);
      const file = path.join(dir, "resume.json");
      let saving: Promise<void> = Promise.resolve();
      trainLoraHead(head, positions, {
        ...options,
        onStep: (progress) => progress.step < 12,
        onCheckpoint: (state) => {
          saving = saveTrainerState(file, state);
        },
      });
      await saving;
      const loaded = await loadTrainerState(file);
      expect(loaded?.step).toBe(12);
      const resumed = trainLoraHead(head, positions, { ...options, resume: loaded });
      expect(resumed.steps).toBe(30);
      expect(Array.from(resumed.lora.a)).toEqual(Array.from(whole.lora.a));
      expect(Array.from(resumed.lora.b)).toEqual(Array.from(whole.lora.b));
    });

    it("gives undefined for a missing file", async () => {
      expect(await loadTrainerState(path.join(dir, "no-such-state.json"))).toBeUndefined();
    });

    describe("gives undefined for a corrupted file", () => {
      const cases: Array<[string, (text: string) => string]> = [
        ["cut short", (text) => text.slice(0, Math.floor(text.length / 2))],
        ["not JSON", () => "\u0000\u0001garbage"],
        ["null", () => "null"],
        ["without arrays", () => JSON.stringify({ key: "k", step: 1, rank: 3, alpha: 16, nIn: 5, nOut: 7 })],
        [
          "an array of the wrong size",
          (text) => {
            const stored = JSON.parse(text) as { arrays: Record<string, string> };
            stored.arrays.vB = Buffer.from(new Float32Array(3).buffer).toString("base64");
            return JSON.stringify(stored);
          },
        ],
      ];
      for (const [label, corrupt] of cases) {
        it(label, async () => {
          const file = path.join(dir, `corrupt-${label.replaceAll(" ", "-")}.json`);
          await saveTrainerState(file, sampleState());
          expect(await loadTrainerState(file)).toBeDefined();
          await writeFile(file, corrupt(await readFile(file, "utf8")));
          expect(await loadTrainerState(file)).toBeUndefined();
        });
      }
    });
  });
});
