/**
 * Speculative decoding against the main model alone, through SARAi's own inference port
 * (`EmbeddedBackend.complete`), on a generated pair whose target cost dominates: 12 blocks of width 64 with
 * 65,536-wide feed-forward layers in Q8_0 (153 MiB) and its aligned one-block draft (`sarai model synth
 * --draft-for`). A third arm uses an unrelated random draft of the same vocabulary: acceptance near 0, so
 * the fallback must keep it close to plain speed. Arms interleave run by run, so load drifts hit all alike.
 *
 * `npm run bench -- speculative [--runs 5] [--tokens 256] [--threads 1] [--ffn 65536] [--llama-server <binary>]`
 *
 * With `--llama-server`, llama.cpp's own server (built from the source inside node-llama-cpp's package, see
 * the README) runs the same pair, plain and with `-md`, on loopback; its ratio is printed beside ours.
 *
 * Decode speed is `Timings.tokensPerSecond` (tokens after the first over the time after it), so prompt
 * reading is left out of every arm alike.
 */
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import {
  EmbeddedBackend,
  ensureSynthesizedModel,
  ModelPool,
  type ChatResponse,
  type CompletionRequest,
  type RoleModelOptions,
} from "../src/inference/index.js";
import {
  assertSameOutput,
  formatSpread,
  formatTable,
  pairRatios,
  parseIntegerOption,
  summarize,
} from "./_stats.js";

const usage =
  "usage: npm run bench -- speculative [--runs 5] [--tokens 256] [--threads 1] [--ffn 65536] [--llama-server <bin>]";
const here = path.dirname(fileURLToPath(import.meta.url));
const cacheDir = path.resolve(here, "..", ".cache", "bench-models");
/** A prompt after which the generated target runs past 256 tokens without an end-of-generation token. */
const prompt = "def main():\n    print(";

interface Arm {
  name: string;
  backend: EmbeddedBackend;
  pool: ModelPool;
}

export default async function speculativeBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: "string", default: "5" },
      tokens: { type: "string", default: "256" },
      threads: { type: "string", default: "1" },
      ffn: { type: "string", default: "65536" },
      "llama-server": { type: "string" },
    },
  });
  const runs = parseIntegerOption("runs", values.runs, 1, usage);
  const tokens = parseIntegerOption("tokens", values.tokens, 8, usage);
  const threads = parseIntegerOption("threads", values.threads, 1, usage);
  const ffn = parseIntegerOption("ffn", values.ffn, 64, usage);

  const target = await ensureSynthesizedModel({
    layers: 12,
    width: 64,
    ffn,
    quantization: "Q8_0",
    seed: 1,
    cacheDir,
  });
  const aligned = await ensureSynthesizedModel({ draftFor: target, cacheDir });
  const unrelated = await ensureSynthesizedModel({ layers: 1, width: 64, ffn: 64, seed: 99, cacheDir });
  console.log(`target ${path.basename(target)}\naligned draft ${path.basename(aligned)}`);
  console.log(`unrelated draft ${path.basename(unrelated)}`);
  console.log(
    `threads ${threads}, ${tokens} tokens, ${runs} runs per arm, load ${os.loadavg()[0]?.toFixed(2)}`,
  );

  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  const makeArm = (name: string, draft?: string): Arm => {
    const roles: Partial<Record<"main" | "draft", RoleModelOptions>> = { main: { file: target } };
    if (draft !== undefined) roles.draft = { file: draft };
    const pool = new ModelPool({
      roles,
      threads,
      batchSize: 512,
      contextSize: 2048,
      sequences: 1,
      ramBudgetBytes: 16 * 2 ** 30,
      llama,
    });
    return { name, pool, backend: new EmbeddedBackend({ pool }) };
  };
  const arms = [makeArm("plain"), makeArm("aligned draft", aligned), makeArm("unrelated draft", unrelated)];
  const signal = new AbortController().signal;

  for (const [mode, sampling] of [
    ["greedy", { temperature: 0 }],
    ["sampling (temperature 0.7, top-k 40)", { temperature: 0.7, topK: 40, topP: 0.95 }],
  ] as const) {
    const request = (seed: number): CompletionRequest => ({
      prompt,
      sampling: { ...sampling, seed, maxTokens: tokens },
    });
    // Warm-up: loads every model and context, and the greedy reference output.
    const reference = await arms[0]!.backend.complete(request(0), signal);
    for (const arm of arms.slice(1)) await arm.backend.complete(request(0), signal);

    const results = new Map<string, ChatResponse[]>(arms.map((arm) => [arm.name, []]));
    for (let run = 0; run < runs; run++) {
      const order = run % 2 === 0 ? arms : [...arms].reverse();
      for (const arm of order) {
        const response = await arm.backend.complete(request(run + 1), signal);
        if (sampling.temperature === 0) {
          assertSameOutput(
            { text: reference.text, completionTokens: reference.usage.completionTokens },
            { text: response.text, completionTokens: response.usage.completionTokens },
            arm.name,
          );
        }
        results.get(arm.name)!.push(response);
      }
    }

    const plainSpeeds = results.get("plain")!.map((r) => r.timings.tokensPerSecond);
    // Under sampling each seed writes its own text, and a short one (an early end) has a noisy rate: the
    // pooled rate (all tokens after the first over all decode time) weighs runs by their length.
    const pooled = (responses: ChatResponse[]) =>
      responses.reduce((sum, r) => sum + Math.max(0, r.usage.completionTokens - 1), 0) /
      (responses.reduce((sum, r) => sum + r.timings.totalMs - r.timings.timeToFirstTokenMs, 0) / 1000);
    const plainPooled = pooled(results.get("plain")!);
    const rows = arms.map((arm) => {
      const responses = results.get(arm.name)!;
      const speeds = responses.map((r) => r.timings.tokensPerSecond);
      const drafted = responses.reduce((sum, r) => sum + (r.timings.speculative?.drafted ?? 0), 0);
      const accepted = responses.reduce((sum, r) => sum + (r.timings.speculative?.accepted ?? 0), 0);
      const fellBack = responses.filter((r) => r.timings.speculative?.fellBack === true).length;
      const skipped = responses.filter((r) => r.timings.speculative?.skipped !== undefined).length;
      const ratio = summarize(pairRatios(speeds, plainSpeeds));
      return [
        arm.name,
        formatSpread(summarize(speeds), 1),
        arm.name === "plain"
          ? "1.00"
          : `${ratio.median.toFixed(2)} [${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}]`,
        `${(pooled(responses) / plainPooled).toFixed(2)}`,
        (({ min, max }) => `${min}–${max}`)(summarize(responses.map((r) => r.usage.completionTokens))),
        drafted === 0 ? "-" : `${((100 * accepted) / drafted).toFixed(1)}% of ${drafted}`,
        arm.name === "plain" ? "-" : `${fellBack} fell back, ${skipped} paused`,
      ];
    });
    console.log(`\n${mode}: ${tokens} tokens, prompt ${JSON.stringify(prompt)}`);
    console.log(
      formatTable(
        [
          "arm",
          "tokens/s median [p25–p75]",
          "× plain median [min–max]",
          "× plain pooled",
          "tokens/run",
          "accepted",
          "fallback",
        ],
        rows,
      ),
    );
    if (sampling.temperature === 0) console.log("outputs identical: yes (every run of every arm)");
  }
  for (const arm of arms) await arm.pool.dispose();
  await llama.dispose();
  if (values["llama-server"] !== undefined) {
    await llamaServerComparison(values["llama-server"], { target, draft: aligned, threads, tokens, runs });
  }
}

/** llama.cpp's server on the same pair: decode speed plain and with the draft, greedy. */
async function llamaServerComparison(
  binary: string,
  options: { target: string; draft: string; threads: number; tokens: number; runs: number },
): Promise<void> {
  const common = ["-m", options.target, "-t", String(options.threads), "-c", "2048", "-np", "1"];
  const speculative = [
    ...["-md", options.draft, "--spec-type", "draft-simple", "-td", String(options.threads)],
    ...["--spec-draft-n-max", "8"],
    ...["--spec-draft-n-min", "0", "--spec-draft-p-min", "0"],
  ];
  const speeds: Record<string, number[]> = { plain: [], draft: [] };
  const texts = new Set<string>();
  for (const [name, args] of [
    ["plain", common],
    ["draft", [...common, ...speculative]],
  ] as const) {
    const port = 18_000 + Math.floor(Math.random() * 1000);
    const child = spawn(binary, [...args, "--host", "127.0.0.1", "--port", String(port)], {
      stdio: "ignore",
    });
    try {
      await waitForServer(`http://127.0.0.1:${port}/health`, 60_000);
      for (let run = 0; run <= options.runs; run++) {
        const response = await fetch(`http://127.0.0.1:${port}/completion`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            prompt,
            n_predict: options.tokens,
            temperature: 0,
            cache_prompt: false,
            samplers: ["top_k"],
            top_k: 1,
          }),
        });
        const body = (await response.json()) as {
          content: string;
          timings: { predicted_per_second: number };
        };
        texts.add(body.content);
        if (run > 0) speeds[name]!.push(body.timings.predicted_per_second);
      }
    } finally {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
  }
  const plain = summarize(speeds["plain"]!).median;
  const drafted = summarize(speeds["draft"]!).median;
  console.log(`\nllama.cpp server (${path.basename(binary)}), greedy, same pair and prompt:`);
  console.log(
    formatTable(
      ["arm", "tokens/s median", "× plain"],
      [
        ["plain", plain.toFixed(1), "1.00"],
        ["aligned draft", drafted.toFixed(1), (drafted / plain).toFixed(2)],
      ],
    ),
  );
  console.log(`llama.cpp outputs identical across its arms: ${texts.size === 1 ? "yes" : "no"}`);
}

async function waitForServer(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} did not come up within ${timeoutMs} ms`);
}
