import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  convertFromHalfBits,
  decodeQ8Blocks,
  readGgufHeader,
  readGgufTensorBytes,
  writeGgufFile,
} from "../inference/gguf/index.js";
import { AppError } from "../shared/index.js";
import type { LoraHead, OutputHead, TrainerState } from "./lora-head.js";

const headTensor = "output.weight";

/**
 * Reads the model's output head (`output.weight`) as floats. F32, F16 and Q8_0 heads are read; a model whose head
 * is in another quantisation, or that ties its head to the token embeddings, is refused with `LORA_UNSUPPORTED`
 * naming what it found.
 */
export async function readOutputHead(modelFile: string): Promise<OutputHead> {
  const header = await readGgufHeader(modelFile);
  const tensor = header.tensors.find((candidate) => candidate.name === headTensor);
  if (tensor === undefined) {
    throw new AppError(
      "LORA_UNSUPPORTED",
      `${path.basename(modelFile)} has no ${headTensor} (its head is tied to the token embeddings); ` +
        "the learning loop trains an adapter on a separate output head",
      { param: modelFile },
    );
  }
  const [nIn, nOut] = tensor.shape as [number, number];
  if (
    tensor.shape.length !== 2 ||
    tensor.type === undefined ||
    !["F32", "F16", "Q8_0"].includes(tensor.type)
  ) {
    throw new AppError(
      "LORA_UNSUPPORTED",
      `${path.basename(modelFile)}'s ${headTensor} is ggml type ${tensor.type ?? tensor.typeCode}; ` +
        "the learning loop reads F32, F16 and Q8_0 heads",
      { param: modelFile },
    );
  }
  const chunks: Uint8Array[] = [];
  for await (const chunk of readGgufTensorBytes(modelFile, header, headTensor)) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  let weight: Float32Array;
  if (tensor.type === "Q8_0") weight = decodeQ8Blocks(bytes);
  else if (tensor.type === "F32")
    weight = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
  else {
    weight = new Float32Array(nIn * nOut);
    for (let index = 0; index < weight.length; index++)
      weight[index] = convertFromHalfBits(bytes.readUInt16LE(index * 2));
  }
  return { nIn, nOut, weight };
}

/** The output head's shape and its size as floats, from the header alone (what a memory budget is checked on). */
export async function outputHeadShape(
  modelFile: string,
): Promise<{ nIn: number; nOut: number; bytes: number }> {
  const header = await readGgufHeader(modelFile);
  const tensor = header.tensors.find((candidate) => candidate.name === headTensor);
  const [nIn = 0, nOut = 0] = tensor?.shape ?? [];
  return { nIn, nOut, bytes: nIn * nOut * 4 };
}

/** Writes the adapter as a llama.cpp LoRA GGUF (`output.weight.lora_a` / `.lora_b`, F32), atomically. */
export async function writeLoraAdapter(
  file: string,
  lora: LoraHead,
  metadata: { architecture: string; name?: string },
): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    await writeGgufFile(temporary, {
      metadata: [
        ["general.type", { type: "string", value: "adapter" }],
        ["general.architecture", { type: "string", value: metadata.architecture }],
        ...(metadata.name === undefined
          ? []
          : ([["general.name", { type: "string", value: metadata.name }]] as const)),
        ["adapter.type", { type: "string", value: "lora" }],
        ["adapter.lora.alpha", { type: "float32", value: lora.alpha }],
      ],
      tensors: [
        {
          name: `${headTensor}.lora_a`,
          shape: [lora.nIn, lora.rank],
          type: "F32",
          data: { kind: "values", read: () => [lora.a] },
        },
        {
          name: `${headTensor}.lora_b`,
          shape: [lora.rank, lora.nOut],
          type: "F32",
          data: { kind: "values", read: () => [lora.b] },
        },
      ],
    });
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Reads an adapter this module wrote back into a {@link LoraHead}; anything else is `LORA_UNSUPPORTED`. */
export async function readLoraAdapter(file: string): Promise<LoraHead> {
  const header = await readGgufHeader(file);
  const alpha = header.metadata.get("adapter.lora.alpha");
  const a = header.tensors.find((t) => t.name === `${headTensor}.lora_a`);
  const b = header.tensors.find((t) => t.name === `${headTensor}.lora_b`);
  if (
    header.metadata.get("general.type")?.value !== "adapter" ||
    typeof alpha?.value !== "number" ||
    a?.type !== "F32" ||
    b?.type !== "F32" ||
    header.tensors.length !== 2
  ) {
    throw new AppError(
      "LORA_UNSUPPORTED",
      `${path.basename(file)} is not an output-head LoRA adapter made by SARAi's learning loop`,
      { param: file },
    );
  }
  const [nIn, rank] = a.shape as [number, number];
  const nOut = b.shape[1] as number;
  const read = async (name: string) => {
    const chunks: Uint8Array[] = [];
    for await (const chunk of readGgufTensorBytes(file, header, name)) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
  };
  return { rank, alpha: alpha.value, nIn, nOut, a: await read(a.name), b: await read(b.name) };
}

interface StoredState {
  key: string;
  step: number;
  rank: number;
  alpha: number;
  nIn: number;
  nOut: number;
  arrays: Record<"a" | "b" | "mA" | "vA" | "mB" | "vB", string>;
}

/** A training run's state as the text a checkpoint file holds: a snapshot, taken when called. */
export function serializeTrainerState(state: TrainerState): string {
  const encode = (values: Float32Array) =>
    Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString("base64");
  const stored: StoredState = {
    key: state.key,
    step: state.step,
    rank: state.lora.rank,
    alpha: state.lora.alpha,
    nIn: state.lora.nIn,
    nOut: state.lora.nOut,
    arrays: {
      a: encode(state.lora.a),
      b: encode(state.lora.b),
      mA: encode(state.mA),
      vA: encode(state.vA),
      mB: encode(state.mB),
      vB: encode(state.vB),
    },
  };
  return JSON.stringify(stored);
}

/**
 * Saves a training run's state (atomically) so an interrupted run resumes where it was: `state` itself, or the
 * text {@link serializeTrainerState} made of it earlier.
 */
export async function saveTrainerState(file: string, state: TrainerState | string): Promise<void> {
  const text = typeof state === "string" ? state : serializeTrainerState(state);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode: 0o600 });
  await rename(temporary, file);
}

/** The state {@link saveTrainerState} wrote, or `undefined` when there is none or it cannot be read. */
export async function loadTrainerState(file: string): Promise<TrainerState | undefined> {
  let stored: StoredState;
  try {
    stored = JSON.parse(await readFile(file, "utf8")) as StoredState;
  } catch {
    return undefined;
  }
  const decode = (text: string | undefined, length: number) => {
    const bytes = Buffer.from(text ?? "", "base64");
    if (bytes.byteLength !== length * 4) throw new Error("size");
    return new Float32Array(bytes.buffer, bytes.byteOffset, length).slice();
  };
  try {
    const { rank, nIn, nOut } = stored;
    return {
      key: stored.key,
      step: stored.step,
      lora: {
        rank,
        alpha: stored.alpha,
        nIn,
        nOut,
        a: decode(stored.arrays.a, rank * nIn),
        b: decode(stored.arrays.b, nOut * rank),
      },
      mA: decode(stored.arrays.mA, rank * nIn),
      vA: decode(stored.arrays.vA, rank * nIn),
      mB: decode(stored.arrays.mB, nOut * rank),
      vB: decode(stored.arrays.vB, nOut * rank),
    };
  } catch {
    return undefined;
  }
}
