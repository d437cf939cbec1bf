import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { GgmlType, LlamaLogLevel, getLlama } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { AppError } from "../shared/index.js";
import { getGgmlTypeSize, inspectModelFile, listModelFiles } from "./model-file.js";

// A minimal GGUF v3 writer, enough for headers and tensor tables. Tensor byte sizes are given by each test,
// computed by hand from ggml's block layouts, so the tests do not reuse the code under test.
type GgufValue =
  | { type: "u32"; value: number }
  | { type: "u64"; value: bigint }
  | { type: "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "strings"; value: string[] };

interface TensorSpec {
  name: string;
  dims: number[];
  type: number;
  /** Bytes of data, computed by hand. */
  bytes: number;
}

interface WrittenGguf {
  buffer: Buffer;
  /** Where the header (key/values and tensor infos) ends, before the alignment padding. */
  headerEnd: number;
  /** Where the tensor data section starts. */
  dataOffset: number;
  /** dataOffset + the end of the last tensor: the smallest valid file size. */
  dataEnd: number;
}

const valueTypes = { u32: 4, f32: 6, bool: 7, string: 8, array: 9, u64: 10 } as const;

function encodeString(text: string): Buffer {
  const bytes = Buffer.from(text, "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(bytes.length));
  return Buffer.concat([length, bytes]);
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}

function u64(value: bigint | number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(BigInt(value));
  return buffer;
}

function encodeValue(value: GgufValue): Buffer {
  switch (value.type) {
    case "u32":
      return Buffer.concat([u32(valueTypes.u32), u32(value.value)]);
    case "u64":
      return Buffer.concat([u32(valueTypes.u64), u64(value.value)]);
    case "f32": {
      const buffer = Buffer.alloc(4);
      buffer.writeFloatLE(value.value);
      return Buffer.concat([u32(valueTypes.f32), buffer]);
    }
    case "bool":
      return Buffer.concat([u32(valueTypes.bool), Buffer.from([value.value ? 1 : 0])]);
    case "string":
      return Buffer.concat([u32(valueTypes.string), encodeString(value.value)]);
    case "strings":
      return Buffer.concat([
        u32(valueTypes.array),
        u32(valueTypes.string),
        u64(value.value.length),
        ...value.value.map(encodeString),
      ]);
  }
}

function writeGguf(metadata: Record<string, GgufValue>, tensors: TensorSpec[], alignment = 32): WrittenGguf {
  const align = (offset: number) => Math.ceil(offset / alignment) * alignment;
  const entries = Object.entries(metadata);
  const parts: Buffer[] = [Buffer.from("GGUF", "latin1"), u32(3), u64(tensors.length), u64(entries.length)];
  for (const [key, value] of entries) parts.push(encodeString(key), encodeValue(value));

  let relativeOffset = 0;
  const tensorOffsets: number[] = [];
  for (const tensor of tensors) {
    tensorOffsets.push(relativeOffset);
    parts.push(encodeString(tensor.name), u32(tensor.dims.length), ...tensor.dims.map((d) => u64(d)));
    parts.push(u32(tensor.type), u64(relativeOffset));
    relativeOffset = align(relativeOffset + tensor.bytes);
  }
  const headerLength = parts.reduce((sum, part) => sum + part.length, 0);
  const dataOffset = align(headerLength);
  parts.push(Buffer.alloc(dataOffset - headerLength));

  let dataEnd = dataOffset;
  tensors.forEach((tensor, index) => {
    const start = dataOffset + (tensorOffsets[index] ?? 0);
    const current = parts.reduce((sum, part) => sum + part.length, 0);
    parts.push(Buffer.alloc(start - current));
    parts.push(Buffer.alloc(tensor.bytes, index + 1));
    dataEnd = start + tensor.bytes;
  });
  return { buffer: Buffer.concat(parts), headerEnd: headerLength, dataOffset, dataEnd };
}

const tokens = ["<unk>", "a", "b", "c", "d", "e", "f", "g", "h", "<eos>"];

function createModelMetadata(extra: Record<string, GgufValue> = {}): Record<string, GgufValue> {
  return {
    "general.architecture": { type: "string", value: "qwen2" },
    "general.name": { type: "string", value: "Tiny Test Model" },
    "general.alignment": { type: "u32", value: 32 },
    "general.file_type": { type: "u32", value: 15 }, // MOSTLY_Q4_K_M
    "qwen2.context_length": { type: "u32", value: 4096 },
    "qwen2.embedding_length": { type: "u32", value: 256 },
    "qwen2.block_count": { type: "u32", value: 2 },
    "qwen2.attention.head_count": { type: "u32", value: 4 },
    "tokenizer.ggml.model": { type: "string", value: "gpt2" },
    "tokenizer.ggml.tokens": { type: "strings", value: tokens },
    ...extra,
  };
}

// Q4_K: 256-element blocks of 144 bytes. Q8_0: 32-element blocks of 34 bytes. F16: 2 bytes. F32: 4 bytes.
const modelTensors: TensorSpec[] = [
  { name: "token_embd.weight", dims: [256, 10], type: GgmlType.Q4_K, bytes: 10 * 144 },
  { name: "blk.0.attn_q.weight", dims: [256, 256], type: GgmlType.Q4_K, bytes: 256 * 144 },
  { name: "blk.1.ffn_down.weight", dims: [64, 3], type: GgmlType.Q8_0, bytes: 3 * 2 * 34 },
  { name: "blk.1.attn_norm.weight", dims: [8, 3], type: GgmlType.F16, bytes: 8 * 3 * 2 },
  { name: "output_norm.weight", dims: [5], type: GgmlType.F32, bytes: 5 * 4 },
];
const modelParameterCount = 256 * 10 + 256 * 256 + 64 * 3 + 8 * 3 + 5;

let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "sarai-model-file-"));
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function writeFile(name: string, content: Buffer | string): Promise<string> {
  const filePath = path.join(dir, name);
  await fs.mkdir(path.dirname(filePath), { recursive: true });
  await fs.writeFile(filePath, content);
  return filePath;
}

async function catchAppError(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error("expected an AppError, but the call succeeded");
}

describe("model-file", () => {
  describe("inspectModelFile", () => {
    it("describes a complete GGUF file from its header and tensor table", async () => {
      const gguf = writeGguf(createModelMetadata(), modelTensors);
      const filePath = await writeFile("good.gguf", gguf.buffer);

      const info = await inspectModelFile(filePath);

      expect(info).toEqual({
        path: filePath,
        fileName: "good.gguf",
        sizeBytes: gguf.buffer.length,
        ggufVersion: 3,
        architecture: "qwen2",
        name: "Tiny Test Model",
        quantization: "Q4_K_M",
        vocabularySize: 10,
        contextLength: 4096,
        embeddingLength: 256,
        blockCount: 2,
        tensorCount: 5,
        parameterCount: modelParameterCount,
        expectedMinSizeBytes: gguf.dataEnd,
        split: undefined,
      });
      // The last tensor (F32, 20 bytes) ends the file exactly: the writer adds no padding after it.
      expect(gguf.buffer.length).toBe(gguf.dataEnd);
    });

    it("resolves a relative path to an absolute one", async () => {
      const filePath = await writeFile(
        "relative.gguf",
        writeGguf(createModelMetadata(), modelTensors).buffer,
      );
      const info = await inspectModelFile(path.relative(process.cwd(), filePath));
      expect(info.path).toBe(filePath);
    });

    it("fails with MODEL_NOT_FOUND naming a missing file", async () => {
      const filePath = path.join(dir, "missing.gguf");
      const error = await catchAppError(inspectModelFile(filePath));
      expect(error.code).toBe("MODEL_NOT_FOUND");
      expect(error.param).toBe(filePath);
      expect(error.message).toContain(filePath);
    });

    it("fails with MODEL_INVALID_FILE for a file without the GGUF magic", async () => {
      const filePath = await writeFile("text.gguf", "hello, this is not a model");
      const error = await catchAppError(inspectModelFile(filePath));
      expect(error.code).toBe("MODEL_INVALID_FILE");
      expect(error.param).toBe(filePath);
      expect(error.message).toContain("0x68656c6c"); // "hell"
    });

    it("fails with MODEL_INVALID_FILE for an empty file", async () => {
      const filePath = await writeFile("empty.gguf", "");
      const error = await catchAppError(inspectModelFile(filePath));
      expect(error.code).toBe("MODEL_INVALID_FILE");
      expect(error.message).toContain("empty");
    });

    it("fails with MODEL_INVALID_FILE for a directory", async () => {
      const dirPath = path.join(dir, "folder.gguf");
      await fs.mkdir(dirPath, { recursive: true });
      const error = await catchAppError(inspectModelFile(dirPath));
      expect(error.code).toBe("MODEL_INVALID_FILE");
      expect(error.message).toContain("not a regular file");
    });

    it("fails with MODEL_INVALID_FILE for an unsupported GGUF version", async () => {
      const buffer = Buffer.from(writeGguf(createModelMetadata(), modelTensors).buffer);
      buffer.writeUInt32LE(7, 4);
      const filePath = await writeFile("version7.gguf", buffer);
      const error = await catchAppError(inspectModelFile(filePath));
      expect(error.code).toBe("MODEL_INVALID_FILE");
      expect(error.message).toContain("version 7");
    });

    it("fails with MODEL_INVALID_FILE when the header counts are garbage", async () => {
      const garbage = Buffer.concat([Buffer.from("GGUF", "latin1"), u32(3), Buffer.alloc(400, 0xff)]);
      const filePath = await writeFile("garbage.gguf", garbage);
      const error = await catchAppError(inspectModelFile(filePath));
      expect(error.code).toBe("MODEL_INVALID_FILE");
      expect(error.message).toContain("unreadable GGUF header");
    });

    it("fails with MODEL_INVALID_FILE for a tensor type llama.cpp dropped", async () => {
      const tensors = [{ name: "old.weight", dims: [32, 2], type: GgmlType.Q4_2, bytes: 40 }];
      const filePath = await writeFile("q4_2.gguf", writeGguf(createModelMetadata(), tensors).buffer);
      const error = await catchAppError(inspectModelFile(filePath));
      expect(error.code).toBe("MODEL_INVALID_FILE");
      expect(error.message).toContain("Q4_2");
    });

    it("fails with MODEL_TRUNCATED, giving expected and actual bytes, when tensor data is missing", async () => {
      const gguf = writeGguf(createModelMetadata(), modelTensors);
      const cut = gguf.buffer.length - 1000;
      const filePath = await writeFile("truncated.gguf", gguf.buffer.subarray(0, cut));

      const error = await catchAppError(inspectModelFile(filePath));

      expect(error.code).toBe("MODEL_TRUNCATED");
      expect(error.param).toBe(filePath);
      expect(error.message).toContain(`expected at least ${gguf.dataEnd} bytes`);
      expect(error.message).toContain(`the file has ${cut}`);
    });

    it("counts a single missing byte of the last tensor as truncation", async () => {
      const gguf = writeGguf(createModelMetadata(), modelTensors);
      const filePath = await writeFile("one-byte-short.gguf", gguf.buffer.subarray(0, gguf.dataEnd - 1));
      const error = await catchAppError(inspectModelFile(filePath));
      expect(error.code).toBe("MODEL_TRUNCATED");
      expect(error.message).toContain(`${gguf.dataEnd} bytes but the file has ${gguf.dataEnd - 1}`);
    });

    it("fails with MODEL_TRUNCATED when the file ends inside its header", async () => {
      const gguf = writeGguf(createModelMetadata(), modelTensors);
      const filePath = await writeFile(
        "header-cut.gguf",
        gguf.buffer.subarray(0, Math.floor(gguf.dataOffset / 2)),
      );
      const error = await catchAppError(inspectModelFile(filePath));
      expect(error.code).toBe("MODEL_TRUNCATED");
      expect(error.message).toContain("ends inside its header");
    });

    it("accepts a file without tensors that ends right after its header, as vocabulary-only files do", async () => {
      const gguf = writeGguf(createModelMetadata(), []);
      expect(gguf.headerEnd % 32).not.toBe(0); // so the missing padding is really missing
      const filePath = await writeFile("vocab-only.gguf", gguf.buffer.subarray(0, gguf.headerEnd));
      const info = await inspectModelFile(filePath);
      expect(info).toMatchObject({ tensorCount: 0, parameterCount: 0, expectedMinSizeBytes: gguf.headerEnd });
      const short = await writeFile("vocab-only-short.gguf", gguf.buffer.subarray(0, gguf.headerEnd - 1));
      expect((await catchAppError(inspectModelFile(short))).code).toBe("MODEL_TRUNCATED");
    });

    it("sizes every quantised type by its block layout", async () => {
      // One tensor per type, each the last in its file, each checked at exactly its size and one byte less.
      const cases: Array<{ type: GgmlType; dims: number[]; bytes: number }> = [
        { type: GgmlType.Q4_0, dims: [64, 3], bytes: 2 * 18 * 3 },
        { type: GgmlType.Q8_0, dims: [96, 2], bytes: 3 * 34 * 2 },
        { type: GgmlType.Q2_K, dims: [256, 2], bytes: 84 * 2 },
        { type: GgmlType.Q3_K, dims: [512], bytes: 2 * 110 },
        { type: GgmlType.Q4_K, dims: [256, 2, 3], bytes: 144 * 6 },
        { type: GgmlType.Q5_K, dims: [256, 2], bytes: 176 * 2 },
        { type: GgmlType.Q6_K, dims: [256, 3], bytes: 210 * 3 },
        { type: GgmlType.IQ4_XS, dims: [256, 1], bytes: 136 },
        { type: GgmlType.F16, dims: [7, 5], bytes: 70 },
        { type: GgmlType.BF16, dims: [3], bytes: 6 },
      ];
      for (const { type, dims, bytes } of cases) {
        const gguf = writeGguf(createModelMetadata(), [{ name: "t.weight", dims, type, bytes }]);
        const name = `type-${GgmlType[type]}`;
        const exact = await writeFile(`${name}.gguf`, gguf.buffer.subarray(0, gguf.dataEnd));
        await expect(inspectModelFile(exact), name).resolves.toMatchObject({
          expectedMinSizeBytes: gguf.dataEnd,
        });
        const short = await writeFile(`${name}-short.gguf`, gguf.buffer.subarray(0, gguf.dataEnd - 1));
        expect((await catchAppError(inspectModelFile(short))).code, name).toBe("MODEL_TRUNCATED");
      }
    });

    it("names the dominant tensor type when the file has no general.file_type", async () => {
      const metadata = createModelMetadata();
      delete metadata["general.file_type"];
      const filePath = await writeFile("no-file-type.gguf", writeGguf(metadata, modelTensors).buffer);
      expect((await inspectModelFile(filePath)).quantization).toBe("Q4_K");
    });

    it("reports the part of a split model", async () => {
      const metadata = createModelMetadata({
        "split.no": { type: "u32", value: 0 },
        "split.count": { type: "u32", value: 3 },
      });
      const filePath = await writeFile("model-00001-of-00003.gguf", writeGguf(metadata, modelTensors).buffer);
      expect((await inspectModelFile(filePath)).split).toEqual({ part: 1, count: 3 });
    });
  });

  describe("getGgmlTypeSize", () => {
    it("agrees with llama.cpp's own block and type sizes for every ggml type", async () => {
      const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
      try {
        // node-llama-cpp keeps these bindings internal; they are the only source of llama.cpp's own numbers.
        const bindings = (
          llama as unknown as {
            _bindings: {
              getBlockSizeForGgmlType(type: number): number | undefined;
              getTypeSizeForGgmlType(type: number): number | undefined;
            };
          }
        )._bindings;
        const types = Object.values(GgmlType).filter((value): value is GgmlType => typeof value === "number");
        expect(types.length).toBeGreaterThan(40);
        for (const type of types) {
          const blockSize = bindings.getBlockSizeForGgmlType(type) ?? 0;
          const typeSize = bindings.getTypeSizeForGgmlType(type) ?? 0;
          const expected = blockSize === 0 || typeSize === 0 ? undefined : { blockSize, typeSize };
          expect(getGgmlTypeSize(type), GgmlType[type]).toEqual(expected);
        }
      } finally {
        await llama.dispose();
      }
    });
  });

  describe("listModelFiles", () => {
    it("lists every *.gguf with its info or its error, skipping temporaries and hidden files", async () => {
      const listDir = path.join(dir, "list");
      await fs.mkdir(listDir);
      const gguf = writeGguf(createModelMetadata(), modelTensors);
      await fs.writeFile(path.join(listDir, "b-good.gguf"), gguf.buffer);
      await fs.writeFile(path.join(listDir, "a-truncated.gguf"), gguf.buffer.subarray(0, gguf.dataEnd - 10));
      await fs.writeFile(path.join(listDir, "c-text.GGUF"), "not a model");
      await fs.writeFile(path.join(listDir, "d-downloading.gguf.ipull"), gguf.buffer.subarray(0, 100));
      await fs.writeFile(path.join(listDir, "e.gguf.partial"), gguf.buffer.subarray(0, 100));
      await fs.writeFile(path.join(listDir, ".hidden.gguf"), gguf.buffer);
      await fs.writeFile(path.join(listDir, "notes.txt"), "hello");
      await fs.mkdir(path.join(listDir, "f-folder.gguf"));

      const entries = await listModelFiles(listDir);

      expect(entries.map((entry) => [entry.fileName, entry.ok])).toEqual([
        ["a-truncated.gguf", false],
        ["b-good.gguf", true],
        ["c-text.GGUF", false],
      ]);
      const [truncated, good, text] = entries;
      expect(truncated?.ok === false && truncated.error.code).toBe("MODEL_TRUNCATED");
      expect(good?.ok === true && good.info.parameterCount).toBe(modelParameterCount);
      expect(good?.path).toBe(path.join(listDir, "b-good.gguf"));
      expect(text?.ok === false && text.error.code).toBe("MODEL_INVALID_FILE");
    });

    it("returns an empty list for a models directory that does not exist yet", async () => {
      await expect(listModelFiles(path.join(dir, "never-created"))).resolves.toEqual([]);
    });

    it("fails with MODEL_NOT_FOUND when the path is a file", async () => {
      const filePath = await writeFile("plain.txt", "x");
      const error = await catchAppError(listModelFiles(filePath));
      expect(error.code).toBe("MODEL_NOT_FOUND");
      expect(error.param).toBe(filePath);
    });
  });
});
