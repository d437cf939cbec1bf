/**
 * Cost of grammar-constrained generation: decode speed with no grammar (the baseline) against the same model,
 * context, prompt style and sampling under the JSON grammar and the read-only SQL grammar, in the same run,
 * arms interleaved (rotating order) so drifts in machine load hit all of them.
 *
 * `npm run bench -- grammar [--runs 5] [--tokens 48] [--threads 1] [--model qwen2|byte]`
 *
 * The model is the generation benchmarks' shape (8 layers, width 512, Q8_0, but FFN 8192) with Qwen2's real 151,936-token
 * vocabulary by default: llama.cpp's grammar sampler checks candidate tokens against the grammar's stacks, so
 * its cost grows with the vocabulary, and a byte vocabulary (259 tokens) would hide it. Per-token cost is a
 * few tens of milliseconds, like a small real model on one CPU core. Decode time per token is measured from
 * the first generated token to the last (prompt evaluation excluded); CPU time per token is the process's CPU
 * time over the same span, which other load on the machine inflates less than wall time.
 */
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { getLlama, LlamaCompletion, LlamaLogLevel, type LlamaGrammar } from "node-llama-cpp";
import { ensureSynthesizedModel } from "../src/inference/index.js";
import { jsonGrammarDefault, sqlReadOnlyGrammar } from "../src/skills/grammars/index.js";
import {
  benchModelShape,
  formatSpread,
  formatTable,
  pairRatios,
  parseIntegerOption,
  summarize,
} from "./_stats.js";

/**
 * The generation benchmarks' shape with a 4× wider feed-forward layer: about 25 ms per token on one EPYC core
 * with the Qwen2 vocabulary (the plain shape decodes in about 14 ms, below a realistic per-token cost).
 */
const grammarModelShape = { ...benchModelShape, ffn: 8192 } as const;

const usage = "usage: npm run bench -- grammar [--runs N] [--tokens N] [--threads 1|2] [--model qwen2|byte]";

interface Arm {
  name: string;
  prompt: string;
  grammar?: LlamaGrammar;
}

interface Sample {
  /** Wall milliseconds per decoded token (first token to last). */
  msPerToken: number;
  /** Process CPU milliseconds per decoded token over the same span. */
  cpuMsPerToken: number;
  tokens: number;
}

export default async function grammarBench(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: "string", default: "5" },
      tokens: { type: "string", default: "48" },
      threads: { type: "string", default: "1" },
      model: { type: "string", default: "qwen2" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) return void console.log(usage);
  if (values.model !== "byte" && values.model !== "qwen2")
    throw new RangeError(`--model must be qwen2 or byte, got ${JSON.stringify(values.model)}\n${usage}`);
  const runs = parseIntegerOption("runs", values.runs, 1, usage);
  const tokens = parseIntegerOption("tokens", values.tokens, 4, usage);
  const threads = parseIntegerOption("threads", values.threads, 1, usage);

  const cacheDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", ".cache", "bench-models");
  const modelPath = await ensureSynthesizedModel({ ...grammarModelShape, tokenizer: values.model, cacheDir });
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ contextSize: 1024, threads, batchSize: 512 });
  const sequence = context.getSequence();
  const completion = new LlamaCompletion({ contextSequence: sequence });
  const arms: Arm[] = [
    { name: "no grammar", prompt: "Describe the user as JSON:\n" },
    { name: "JSON grammar", prompt: "Describe the user as JSON:\n", grammar: await llama.createGrammar({ grammar: jsonGrammarDefault }) },
    { name: "SQL grammar", prompt: "SQL query for the user's facts:\n", grammar: await llama.createGrammar({ grammar: sqlReadOnlyGrammar }) },
  ]; // prettier-ignore
  console.log(
    `model: ${path.basename(modelPath)} (${values.model} vocabulary, ${model.trainContextSize} ctx), ` +
      `threads ${threads}, ${tokens} tokens × ${runs} runs per arm, load average before: ${loadAverage()}`,
  );

  const generate = async (arm: Arm, seed: number): Promise<Sample> => {
    let first: { wall: number; cpu: NodeJS.CpuUsage } | undefined;
    let last = { wall: 0, cpu: process.cpuUsage() };
    let count = 0;
    await completion.generateCompletion(arm.prompt, {
      maxTokens: tokens,
      temperature: 0.8,
      seed,
      ...(arm.grammar === undefined ? {} : { grammar: arm.grammar }),
      onToken: (chunk) => {
        const now = { wall: performance.now(), cpu: process.cpuUsage() };
        first ??= now;
        last = now;
        count += chunk.length;
      },
    });
    await sequence.clearHistory();
    if (first === undefined || count < 2) throw new Error(`${arm.name}: fewer than 2 tokens generated`);
    const cpuMs = (last.cpu.user + last.cpu.system - first.cpu.user - first.cpu.system) / 1000;
    return {
      msPerToken: (last.wall - first.wall) / (count - 1),
      cpuMsPerToken: cpuMs / (count - 1),
      tokens: count,
    };
  };

  for (const arm of arms) await generate(arm, 0); // warm-up: caches, grammar compilation
  const samples = new Map<string, Sample[]>(arms.map((arm) => [arm.name, []]));
  for (let run = 0; run < runs; run++) {
    for (let i = 0; i < arms.length; i++) {
      const arm = arms[(run + i) % arms.length];
      if (arm !== undefined) samples.get(arm.name)?.push(await generate(arm, run + 1));
    }
  }

  const baseline = samples.get("no grammar") ?? [];
  const rows = arms.map((arm) => {
    const series = samples.get(arm.name) ?? [];
    const ms = series.map((s) => s.msPerToken);
    const cpu = series.map((s) => s.cpuMsPerToken);
    const tps = ms.map((value) => 1000 / value);
    const ratio = pairRatios(
      tps,
      baseline.map((s) => 1000 / s.msPerToken),
    );
    return [
      arm.name,
      formatSpread(summarize(ms), 1),
      formatSpread(summarize(cpu), 1),
      formatSpread(summarize(tps), 1),
      `${summarize(ratio).median.toFixed(2)}×`,
      String(summarize(series.map((s) => s.tokens)).median),
    ];
  });
  console.log(
    formatTable(["arm", "ms/token", "CPU ms/token", "tokens/s", "vs no grammar", "tokens (median)"], rows),
  );
  console.log(`load average after: ${loadAverage()} (${os.cpus().length} cores)`);

  completion.dispose();
  await context.dispose();
  await model.dispose();
}

function loadAverage(): string {
  return os
    .loadavg()
    .map((value) => value.toFixed(2))
    .join(" / ");
}
