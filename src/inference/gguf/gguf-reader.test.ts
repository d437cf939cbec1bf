import { mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readGgufHeader, readGgufTensorBytes } from "./gguf-reader.js";
import { writeGgufFile } from "./gguf-writer.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "sarai-gguf-reader-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

describe("gguf reader", () => {
  it("reads a header larger than its first read (a big string array)", async () => {
    const tokens = Array.from({ length: 150_000 }, (_, i) => `token-${i}-ñ`);
    const filePath = path.join(dir, "big-header.gguf");
    await writeGgufFile(filePath, {
      metadata: [["tokenizer.ggml.tokens", { type: "array", itemType: "string", value: tokens }]],
      tensors: [
        {
          name: "w",
          shape: [4],
          type: "F32",
          data: { kind: "values", read: () => [Float32Array.of(1, 2, 3, 4)] },
        },
      ],
    });
    const header = await readGgufHeader(filePath);
    expect(header.dataOffset).toBeGreaterThan(1 << 20);
    const read = header.metadata.get("tokenizer.ggml.tokens");
    expect(read?.type === "array" ? read.value.length : 0).toBe(150_000);
    expect(read?.type === "array" ? read.value[149_999] : undefined).toBe("token-149999-ñ");
    const bytes = await collect(readGgufTensorBytes(filePath, header, "w"));
    expect([0, 1, 2, 3].map((i) => bytes.readFloatLE(i * 4))).toEqual([1, 2, 3, 4]);
  });

  it("rejects a file that is not GGUF", async () => {
    const filePath = path.join(dir, "not.gguf");
    await writeFile(filePath, "this is not a model file at all");
    await expect(readGgufHeader(filePath)).rejects.toMatchObject({ code: "MODEL_INVALID_FILE" });
  });

  it("reports a truncated file", async () => {
    const filePath = path.join(dir, "truncated.gguf");
    await writeGgufFile(filePath, {
      metadata: [],
      tensors: [
        {
          name: "w",
          shape: [1024],
          type: "F32",
          data: { kind: "values", read: () => [new Float32Array(1024)] },
        },
      ],
    });
    const { length } = await readFile(filePath);
    await truncate(filePath, length - 100);
    await expect(readGgufHeader(filePath)).rejects.toMatchObject({ code: "MODEL_TRUNCATED" });
  });

  it("reports a missing file", async () => {
    await expect(readGgufHeader(path.join(dir, "missing.gguf"))).rejects.toMatchObject({
      code: "MODEL_NOT_FOUND",
    });
  });
});
