/**
 * The reflexive loop's cost and the fallback's speed, through the real turn pipeline on generated models.
 *
 * `npm run bench -- omniloop [--runs 15] [--tokens 192] [--threads 1]`
 *
 * 1. Overhead when the first iteration is already confident: a plain turn against a reflected turn whose
 *    draft passes its verifier and whose confidence reaches the threshold (so the loop stops after it). A/B pairs
 *    in alternating order; the greedy outputs must be identical. What the loop adds is the scoring: token
 *    probabilities from the own decode loop, the verifier, the bookkeeping.
 * 2. A reflected turn whose verifier keeps failing: three iterations, what they cost against one plain turn.
 * 3. Fallback: how long after the main model fails (a corrupt file; a timeout) the fallback model has answered.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import {
  createVerifier,
  loadReflectionTemplates,
  ReflexiveLoop,
  TurnPipeline,
  type ReflectSettings,
  type TurnRequest,
} from "../src/assistant/index.js";
import { EmbeddedBackend, ensureSynthesizedModel, ModelPool } from "../src/inference/index.js";
import {
  assertSameOutput,
  benchMessages,
  benchModelShape,
  formatSpread,
  formatTable,
  medianConfidenceInterval,
  pairRatios,
  parseIntegerOption,
  summarize,
} from "./_stats.js";

const usage = "usage: npm run bench -- omniloop [--runs 15] [--tokens 192] [--threads 1]";
const here = path.dirname(fileURLToPath(import.meta.url));
const cacheDir = path.resolve(here, "..", ".cache", "bench-models");
const never = new AbortController().signal;

export default async function omniloop(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: "string", default: "15" },
      tokens: { type: "string", default: "192" },
      threads: { type: "string", default: "1" },
    },
  });
  const runs = parseIntegerOption("runs", values.runs, 3, usage);
  const tokens = parseIntegerOption("tokens", values.tokens, 8, usage);
  const threads = parseIntegerOption("threads", values.threads, 1, usage);

  const main = await ensureSynthesizedModel({ ...benchModelShape, cacheDir });
  const small = await ensureSynthesizedModel({ layers: 2, width: 64, ffn: 256, seed: 1, cacheDir });
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  const poolFor = (roles: { main: string; fallback: string }) =>
    new ModelPool({
      roles: { main: { file: roles.main }, fallback: { file: roles.fallback } },
      threads,
      batchSize: 512,
      contextSize: 4096,
      sequences: 1,
      ramBudgetBytes: 8 * 2 ** 30,
      llama,
    });
  const settings: ReflectSettings = {
    maxIterations: 3,
    confidenceThreshold: 0.85,
    iterationTimeoutMs: 60_000,
    deadlineMs: 180_000,
    selfAssessment: true,
  };
  const turnsFor = (pool: ModelPool, overrides: Partial<ReflectSettings> = {}, fallbackMs = 60_000) => {
    const backend = new EmbeddedBackend({ pool });
    return new TurnPipeline({
      backend,
      reflexive: new ReflexiveLoop({
        backend,
        templates: loadReflectionTemplates(),
        settings: { ...settings, ...overrides },
      }),
      fallback: { timeoutMs: fallbackMs },
    });
  };
  const turn: TurnRequest = {
    userId: "bench",
    messages: benchMessages.map((m) => ({ ...m })),
    sampling: { temperature: 0, maxTokens: tokens },
  };
  const passes = createVerifier({ kind: "tests", tests: [{ regex: "[\\s\\S]" }] }, "bench");

  console.log(
    `model: ${path.basename(main)} (${benchModelShape.layers} blocks × ${benchModelShape.width}, FFN ` +
      `${benchModelShape.ffn}, ${benchModelShape.quantization}); fallback ${path.basename(small)}; ` +
      `${threads} thread(s), ${tokens} tokens, greedy`,
  );

  // 1. Overhead when the draft is confident.
  const pool = poolFor({ main, fallback: small });
  try {
    await pool.load("main");
    // The threshold the draft reaches: its own confidence on this prompt (verifier passing + token probability).
    const probe = await new ReflexiveLoop({
      backend: new EmbeddedBackend({ pool }),
      templates: loadReflectionTemplates(),
      settings: { ...settings, maxIterations: 1, selfAssessment: false },
    }).run({ messages: turn.messages, sampling: turn.sampling ?? {} }, [passes], never);
    const draftConfidence = probe.report.iterations[0]?.confidence ?? 0;
    const threshold = Math.min(settings.confidenceThreshold, Math.floor(draftConfidence * 1000) / 1000);
    const turns = turnsFor(pool, { confidenceThreshold: threshold });
    const reflected: TurnRequest = {
      ...turn,
      reflect: true,
      verify: { kind: "tests", tests: [{ regex: "[\\s\\S]" }] },
    };
    const plainMs: number[] = [];
    const loopMs: number[] = [];
    let reference: { text: string; completionTokens: number } | undefined;
    let iterations = 0;
    for (let i = -2; i < runs; i++) {
      const order = i % 2 === 0 ? ["plain", "reflect"] : ["reflect", "plain"];
      for (const arm of order) {
        const started = performance.now();
        const response = await turns.run(arm === "plain" ? turn : reflected, never);
        const ms = performance.now() - started;
        const sample = { text: response.text, completionTokens: response.usage.completionTokens };
        reference ??= sample;
        assertSameOutput(reference, sample, arm);
        if (i < 0) continue;
        if (arm === "plain") plainMs.push(ms);
        else {
          loopMs.push(ms);
          iterations = Math.max(iterations, response.reflection?.iterations.length ?? 0);
        }
      }
    }
    const ratios = pairRatios(loopMs, plainMs);
    const ci = medianConfidenceInterval(ratios);
    console.log(
      `\n1. first iteration confident (draft confidence ${draftConfidence.toFixed(3)}, threshold ` +
        `${threshold.toFixed(3)}; at most ${iterations} iteration per reflected turn; outputs identical)`,
    );
    console.log(
      formatTable(
        ["arm", "turn ms median [p25–p75]", "reflect / plain (95% CI)"],
        [
          ["plain turn", formatSpread(summarize(plainMs), 1), ""],
          [
            "reflected turn",
            formatSpread(summarize(loopMs), 1),
            `${summarize(ratios).median.toFixed(3)}` +
              (ci === undefined ? "" : ` (${ci.low.toFixed(3)}…${ci.high.toFixed(3)})`),
          ],
        ],
      ),
    );

    // 1b. The same with sampling (t 0.7, top-k 40, top-p 0.95, seeded). The texts differ between the two decode
    // paths (LlamaChat's sampler, the own loop's per-step seeds) and sampled answers end anywhere, so decode
    // speed is compared (tokens after the first over the time after it), pooled over the runs.
    const sampling = { temperature: 0.7, topK: 40, topP: 0.95, maxTokens: tokens };
    // Sampled drafts score differently from the greedy one: a threshold of 0 makes every draft confident, so
    // the reflected arm is again one iteration and its cost is the loop's own.
    const anyDraft = turnsFor(pool, { confidenceThreshold: 0 });
    const decode = { plain: { tokens: 0, ms: 0, runs: 0 }, reflect: { tokens: 0, ms: 0, runs: 0 } };
    for (let i = -2; i < runs * 2; i++) {
      const seed = 1000 + i;
      const order = i % 2 === 0 ? (["plain", "reflect"] as const) : (["reflect", "plain"] as const);
      for (const arm of order) {
        const request = arm === "plain" ? turn : reflected;
        const response = await (arm === "plain" ? turns : anyDraft).run(
          { ...request, sampling: { ...sampling, seed } },
          never,
        );
        if ((response.reflection?.iterations.length ?? 1) !== 1)
          throw new Error("a sampled draft was revised");
        if (i < 0 || response.usage.completionTokens < 16) continue;
        const pooled = decode[arm];
        pooled.tokens += response.usage.completionTokens - 1;
        pooled.ms += response.timings.totalMs - response.timings.timeToFirstTokenMs;
        pooled.runs++;
      }
    }
    const rate = (arm: { tokens: number; ms: number }) => (1000 * arm.tokens) / arm.ms;
    console.log(
      "\n1b. the same, sampling (t 0.7, top-k 40, top-p 0.95; threshold 0; answers of 16+ tokens, pooled decode speed)",
    );
    console.log(
      formatTable(
        ["arm", "runs", "tokens", "decode tok/s", "reflect / plain speed"],
        [
          [
            "plain turn",
            String(decode.plain.runs),
            String(decode.plain.tokens),
            rate(decode.plain).toFixed(1),
            "",
          ],
          [
            "reflected turn",
            String(decode.reflect.runs),
            String(decode.reflect.tokens),
            rate(decode.reflect).toFixed(1),
            (rate(decode.reflect) / rate(decode.plain)).toFixed(3),
          ],
        ],
      ),
    );

    // 2. A verifier that never passes: the loop runs to its cap.
    const failing: TurnRequest = {
      ...turn,
      reflect: true,
      verify: { kind: "tests", tests: [{ contains: "a phrase a random model never writes" }] },
    };
    const capped: number[] = [];
    const single: number[] = [];
    for (let i = 0; i < Math.min(runs, 5); i++) {
      let started = performance.now();
      await turns.run(turn, never);
      single.push(performance.now() - started);
      started = performance.now();
      const response = await turns.run(failing, never);
      capped.push(performance.now() - started);
      if (response.reflection?.iterations.length !== 3)
        throw new Error("the failing verifier did not cap at 3");
    }
    console.log("\n2. verifier failing on every iteration (3 iterations, revision prompts carry the draft)");
    console.log(
      formatTable(
        ["arm", "turn ms median", "× plain"],
        [
          ["plain turn", summarize(single).median.toFixed(1), "1.00"],
          [
            "reflected, 3 iterations",
            summarize(capped).median.toFixed(1),
            summarize(pairRatios(capped, single)).median.toFixed(2),
          ],
        ],
      ),
    );
  } finally {
    await pool.dispose();
  }

  // 3. Fallback latency: from the main model's failure to the fallback's whole answer.
  const dir = await mkdtemp(path.join(os.tmpdir(), "sarai-bench-fallback-"));
  try {
    const corrupt = path.join(dir, "corrupt.gguf");
    await writeFile(corrupt, Buffer.concat([Buffer.from("GGUF"), Buffer.alloc(1 << 16, 5)]));
    const rows: string[][] = [];
    // ≈1,600 prompt tokens: the main model needs well over 500 ms to read them, the tiny fallback a few dozen.
    const slowStart: TurnRequest = {
      ...turn,
      messages: [{ role: "system", content: "Contexto: ".repeat(160) }, ...turn.messages],
    };
    for (const [name, roles, timeoutMs] of [
      ["main file corrupt (cannot load)", { main: corrupt, fallback: small }, 60_000],
      ["main not starting within its 500 ms timeout", { main, fallback: small }, 500],
    ] as const) {
      const failingPool = poolFor(roles);
      // Loaded ahead, as a configured fallback is after its first use: the figure is the answer, not the load.
      await failingPool.load("fallback");
      const turns = turnsFor(failingPool, { iterationTimeoutMs: timeoutMs }, timeoutMs);
      const afterFailure: number[] = [];
      const total: number[] = [];
      try {
        for (let i = -1; i < Math.min(runs, 8); i++) {
          const started = performance.now();
          const response = await turns.run(timeoutMs < 60_000 ? slowStart : turn, never);
          const ms = performance.now() - started;
          if (response.fallback === undefined) throw new Error(`${name}: the fallback did not answer`);
          if (i < 0) continue;
          afterFailure.push(response.fallback.latencyMs);
          total.push(ms);
        }
      } finally {
        await failingPool.dispose();
      }
      rows.push([
        name,
        formatSpread(summarize(afterFailure), 1),
        summarize(afterFailure).max.toFixed(1),
        formatSpread(summarize(total), 1),
      ]);
    }
    console.log(`\n3. fallback answers (the fallback model writes its own answer of up to ${tokens} tokens)`);
    console.log(
      formatTable(["main model", "failure → answer ms median [p25–p75]", "max ms", "whole turn ms"], rows),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
