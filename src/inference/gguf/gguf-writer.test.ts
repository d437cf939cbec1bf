import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { readGgufFileInfo } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../../shared/index.js";
import type { GgufMetadataValue } from "./gguf-format.js";
import { readGgufHeader } from "./gguf-reader.js";
import { GgufWriter, writeGgufFile, type GgufTensorSpec } from "./gguf-writer.js";
import { convertFromHalfBits, decodeQ8Blocks } from "./tensor-encoding.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "sarai-gguf-writer-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const metadata: Array<[string, GgufMetadataValue]> = [
  ["general.architecture", { type: "string", value: "llama" }],
  ["test.u8", { type: "uint8", value: 200 }],
  ["test.i8", { type: "int8", value: -5 }],
  ["test.u16", { type: "uint16", value: 60_000 }],
  ["test.i16", { type: "int16", value: -30_000 }],
  ["test.u32", { type: "uint32", value: 4_000_000_000 }],
  ["test.i32", { type: "int32", value: -2_000_000_000 }],
  ["test.f32", { type: "float32", value: 1.5 }],
  ["test.f64", { type: "float64", value: Math.PI }],
  ["test.u64", { type: "uint64", value: 2n ** 40n }],
  ["test.i64", { type: "int64", value: -(2n ** 40n) }],
  ["test.flag", { type: "bool", value: true }],
  ["test.text", { type: "string", value: "ñandú en Málaga 😀" }],
  ["test.strings", { type: "array", itemType: "string", value: ["a", "Lucía", "", "😀"] }],
  ["test.ints", { type: "array", itemType: "int32", value: [1, -2, 3] }],
  ["test.floats", { type: "array", itemType: "float32", value: [0.5, -0.25] }],
  ["test.bools", { type: "array", itemType: "bool", value: [true, false] }],
  ["test.empty", { type: "array", itemType: "string", value: [] }],
];

function valuesOf(values: number[]): GgufTensorSpec["data"] {
  return { kind: "values", read: () => [Float32Array.from(values)] };
}

const q8Values = Array.from({ length: 128 }, (_, i) => Math.cos(i) * 0.1);
const tensors: GgufTensorSpec[] = [
  { name: "norm.weight", shape: [3], type: "F32", data: valuesOf([1, -2, 0.5]) },
  { name: "half.weight", shape: [5, 2], type: "F16", data: valuesOf([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) },
  { name: "q8.weight", shape: [64, 2], type: "Q8_0", data: valuesOf(q8Values) },
  {
    name: "raw.weight",
    shape: [2],
    type: "F32",
    data: { kind: "bytes", read: () => [new Uint8Array(8).fill(0)] },
  },
];

/** Reads a dotted key from node-llama-cpp's nested metadata object. */
function readNested(root: unknown, key: string): unknown {
  return key
    .split(".")
    .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], root);
}

describe("gguf writer", () => {
  describe("a file with every metadata type and three tensor types", () => {
    let filePath: string;
    beforeAll(async () => {
      filePath = path.join(dir, "all-types.gguf");
      await writeGgufFile(filePath, { metadata, tensors });
    });

    it("is read back by node-llama-cpp's own GGUF parser", async () => {
      const info = await readGgufFileInfo(filePath, { readTensorInfo: true });
      expect(info.version).toBe(3);
      expect(Number(info.tensorCount)).toBe(4);
      expect(readNested(info.metadata, "test.u32")).toBe(4_000_000_000);
      expect(readNested(info.metadata, "test.i16")).toBe(-30_000);
      expect(readNested(info.metadata, "test.f32")).toBe(1.5);
      expect(readNested(info.metadata, "test.text")).toBe("ñandú en Málaga 😀");
      expect(readNested(info.metadata, "test.strings")).toEqual(["a", "Lucía", "", "😀"]);
      expect(readNested(info.metadata, "test.ints")).toEqual([1, -2, 3]);
      expect(readNested(info.metadata, "test.empty")).toEqual([]);
      expect(BigInt(readNested(info.metadata, "test.u64") as number | bigint)).toBe(2n ** 40n);
      expect(info.tensorInfo?.map((t) => [t.name, t.dimensions.map(Number), t.ggmlType])).toEqual([
        ["norm.weight", [3], 0],
        ["half.weight", [5, 2], 1],
        ["q8.weight", [64, 2], 8],
        ["raw.weight", [2], 0],
      ]);
    });

    it("keeps every metadata type when read with readGgufHeader", async () => {
      const header = await readGgufHeader(filePath);
      expect([...header.metadata]).toEqual(metadata);
    });

    it("aligns the data section and every tensor to 32 bytes", async () => {
      const header = await readGgufHeader(filePath);
      expect(header.dataOffset % 32).toBe(0);
      for (const tensor of header.tensors) expect(tensor.offset % 32).toBe(0);
      // norm.weight is 12 bytes, so half.weight starts one alignment step later.
      expect(header.tensors[1]?.offset).toBe(header.dataOffset + 32);
    });

    it("stores the tensor values", async () => {
      const header = await readGgufHeader(filePath);
      const bytes = await readFile(filePath);
      const at = (name: string): number => header.tensors.find((t) => t.name === name)?.offset ?? -1;
      expect([0, 1, 2].map((i) => bytes.readFloatLE(at("norm.weight") + i * 4))).toEqual([1, -2, 0.5]);
      const halves = Array.from({ length: 10 }, (_, i) =>
        convertFromHalfBits(bytes.readUInt16LE(at("half.weight") + i * 2)),
      );
      expect(halves).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const q8 = decodeQ8Blocks(bytes.subarray(at("q8.weight"), at("q8.weight") + 4 * 34));
      q8Values.forEach((value, i) => expect(q8[i]).toBeCloseTo(value, 3));
    });
  });

  it("writes the same bytes twice for the same content", async () => {
    const first = path.join(dir, "first.gguf");
    const second = path.join(dir, "second.gguf");
    await writeGgufFile(first, { metadata, tensors });
    await writeGgufFile(second, { metadata, tensors });
    expect(await readFile(first)).toEqual(await readFile(second));
  });

  it("records a non-default alignment and aligns to it", async () => {
    const filePath = path.join(dir, "aligned-64.gguf");
    await writeGgufFile(filePath, { metadata, tensors }, { alignment: 64 });
    const header = await readGgufHeader(filePath);
    expect(header.metadata.get("general.alignment")).toEqual({ type: "uint32", value: 64 });
    expect(header.alignment).toBe(64);
    for (const tensor of [...header.tensors.map((t) => t.offset), header.dataOffset])
      expect(tensor % 64).toBe(0);
    const info = await readGgufFileInfo(filePath, { readTensorInfo: true });
    expect(info.tensorInfo?.map((t) => Number(t.fileOffset))).toEqual(header.tensors.map((t) => t.offset));
  });

  it("reads tensor data lazily, only while writing", async () => {
    let reads = 0;
    const writer = new GgufWriter().addTensor({
      name: "lazy.weight",
      shape: [32],
      type: "F32",
      data: {
        kind: "values",
        read: function* () {
          reads++;
          yield new Float32Array(32);
        },
      },
    });
    expect(reads).toBe(0);
    await writer.write(path.join(dir, "lazy.gguf"));
    expect(reads).toBe(1);
  });

  describe("errors", () => {
    it("rejects a Q8_0 tensor whose rows are not a multiple of 32, naming the tensor", () => {
      const writer = new GgufWriter();
      const add = (): unknown =>
        writer.addTensor({ name: "blk.0.ffn_down.weight", shape: [48, 8], type: "Q8_0", data: valuesOf([]) });
      expect(add).toThrow(AppError);
      expect(add).toThrow(/blk\.0\.ffn_down\.weight.*rows of 48 values.*multiple of 32/);
    });

    it("rejects duplicate names, bad shapes and out-of-range metadata", () => {
      const writer = new GgufWriter().addTensor(tensors[0] as GgufTensorSpec);
      expect(() => writer.addTensor(tensors[0] as GgufTensorSpec)).toThrow(/added twice/);
      expect(() =>
        writer.addTensor({ ...(tensors[0] as GgufTensorSpec), name: "x", shape: [1, 1, 1, 1, 1] }),
      ).toThrow(/1 to 4 positive integer dimensions/);
      expect(() => writer.addTensor({ ...(tensors[0] as GgufTensorSpec), name: "y".repeat(64) })).toThrow(
        /1 to 63 bytes/,
      );
      expect(() => writer.setMetadata("bad", { type: "uint8", value: 300 })).toThrow(
        /300 is not a valid uint8/,
      );
      expect(() => writer.setMetadata("bad", { type: "array", itemType: "int32", value: [1.5] })).toThrow(
        /not a valid int32/,
      );
    });

    it("fails when the data does not match the shape, leaving no file behind", async () => {
      const target = path.join(dir, "errors", "short.gguf");
      const writer = new GgufWriter().addTensor({
        name: "short",
        shape: [64],
        type: "F32",
        data: valuesOf([1, 2]),
      });
      await expect(writer.write(target)).rejects.toThrow(/produced 8 bytes of data, expected 256/);
      expect(await readdir(path.dirname(target))).toEqual([]);
    });

    it("keeps the previous file intact when a write fails midway", async () => {
      const target = path.join(dir, "errors", "existing.gguf");
      await writeFile(target, "previous");
      const writer = new GgufWriter().addTensor({
        name: "broken",
        shape: [64],
        type: "F32",
        data: {
          kind: "values",
          read: function* () {
            yield new Float32Array(32);
            throw new Error("source failed");
          },
        },
      });
      await expect(writer.write(target)).rejects.toThrow(/source failed/);
      expect(await readFile(target, "utf8")).toBe("previous");
      expect(await readdir(path.dirname(target))).toEqual(["existing.gguf"]);
    });
  });
});
