/**
 * Overhead of SARAi's inference port: `EmbeddedBackend.chatStream()` (request validation, model pool
 * lease, a `LlamaChat` per request, the stream queue, clearing the sequence) against node-llama-cpp
 * called directly the way a careful user would (one `LlamaChat` on a context sequence with the same chat
 * wrapper, the sequence cleared between runs). Same Llama binding, model file, context options, prompt,
 * greedy sampling and token budget; runs interleave A/B, B/A so drifts in machine load hit both arms.
 *
 * `npm run bench -- inference [--runs 15] [--warmup 3] [--tokens 192] [--threads 1] [--model byte|qwen2]`
 *
 * Time to first token (TTFT) is measured by the caller from the call to the first text chunk it receives;
 * decode speed is (tokens − 1) / (time from that chunk to the moment the caller holds the whole response).
 */
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  getLlama,
  LlamaChat,
  LlamaLogLevel,
  resolveChatWrapper,
  type ChatHistoryItem,
  type LlamaContextSequence,
} from "node-llama-cpp";
import {
  defaultSampling,
  EmbeddedBackend,
  ensureSynthesizedModel,
  inspectModelFile,
  ModelPool,
  type ChatMessage,
  type ChatRequest,
} from "../src/inference/index.js";
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

/** What one generation looked like from the caller's side. */
interface Sample {
  ttftMs: number;
  tokensPerSecond: number;
  totalMs: number;
  /** CPU time of the whole process (all threads) up to the first text chunk. */
  ttftCpuMs: number;
  /** Decode tokens per second of process CPU time: what the work costs, whatever else runs on the machine. */
  tokensPerCpuSecond: number;
  completionTokens: number;
  text: string;
}

/** A wall-clock and a process CPU-time reading taken together. */
interface Instant {
  wallMs: number;
  cpuMs: number;
}

function now(): Instant {
  const cpu = process.cpuUsage();
  return { wallMs: performance.now(), cpuMs: (cpu.user + cpu.system) / 1000 };
}

interface BenchOptions {
  runs: number;
  warmup: number;
  tokens: number;
  threads: number;
  tokenizer: "byte" | "qwen2";
}

const modelShape = benchModelShape;

/** SARAi's configuration defaults (`inference.batchSize`, `contextSize`, `sequences`). */
const contextOptions = { batchSize: 512, contextSize: 4096, sequences: 2 } as const;

const messages: ChatMessage[] = [...benchMessages];

const usage =
  "usage: npm run bench -- inference [--runs N] [--warmup N] [--tokens N] [--threads 1|2] [--model byte|qwen2]";

export default async function runInferenceBench(args: string[]): Promise<void> {
  const options = parseOptions(args);
  if (options === undefined) return;
  const cacheDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", ".cache", "bench-models");
  const file = await ensureSynthesizedModel({ ...modelShape, tokenizer: options.tokenizer, cacheDir });
  const info = await inspectModelFile(file);
  console.log(
    `model: synthetic llama, ${modelShape.layers} blocks, width ${modelShape.width}, ffn ${modelShape.ffn}, ` +
      `heads ${modelShape.heads}/${modelShape.kvHeads} kv, ${modelShape.quantization}, ` +
      `${options.tokenizer} tokenizer (${info.vocabularySize ?? "?"} tokens), ` +
      `${(info.parameterCount / 1e6).toFixed(1)} M parameters, ${(info.sizeBytes / 2 ** 20).toFixed(1)} MiB`,
  );
  console.log(
    `context: threads ${options.threads}, batch ${contextOptions.batchSize}, ` +
      `context ${contextOptions.contextSize}, sequences ${contextOptions.sequences} (both arms)`,
  );
  console.log(
    `sampling: greedy (temperature 0), ${options.tokens} tokens; ${options.warmup} warm-up pairs discarded, ` +
      `${options.runs} measured pairs in A/B, B/A order`,
  );

  const loadAtStart = os.loadavg()[0] ?? 0;
  // Released in reverse order of creation, also when a step fails.
  const disposers: (() => unknown)[] = [];
  try {
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    disposers.push(() => llama.dispose());
    const pool = new ModelPool({
      roles: { main: { file } },
      threads: options.threads,
      ...contextOptions,
      ramBudgetBytes: os.totalmem(),
      llama,
    });
    disposers.push(() => pool.dispose());
    const backend = new EmbeddedBackend({ pool });
    // The pool loads lazily; load it first so no run pays for it.
    await pool.load("main");

    const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
    disposers.push(() => model.dispose());
    const context = await model.createContext({ ...contextOptions, threads: options.threads });
    disposers.push(() => context.dispose());
    const sequence = context.getSequence();
    const chatWrapper = resolveChatWrapper(model) ?? undefined;
    const chat = new LlamaChat({
      contextSequence: sequence,
      autoDisposeSequence: false,
      ...(chatWrapper === undefined ? {} : { chatWrapper }),
    });
    disposers.push(() => chat.dispose({ disposeSequence: false }));

    const request: ChatRequest = {
      messages,
      sampling: {
        temperature: 0,
        topP: defaultSampling.topP,
        topK: defaultSampling.topK,
        maxTokens: options.tokens,
      },
    };
    const signal = new AbortController().signal;
    const arms = {
      backend: () => runBackend(backend, request, signal),
      direct: () => runDirect(chat, sequence, request, signal),
    };

    const measured = { backend: [] as Sample[], direct: [] as Sample[] };
    const reference = await arms.direct();
    for (let pair = 0; pair < options.warmup + options.runs; pair += 1) {
      const order = pair % 2 === 0 ? (["backend", "direct"] as const) : (["direct", "backend"] as const);
      for (const arm of order) {
        const sample = await arms[arm]();
        assertSameOutput(reference, sample, arm);
        if (pair >= options.warmup) measured[arm].push(sample);
      }
    }
    console.log(
      `chat wrapper: ${chatWrapper?.wrapperName ?? "none"}; generated ${reference.completionTokens} tokens, ` +
        `${reference.text.length} characters`,
    );
    console.log("outputs identical: yes");
    report(measured.backend, measured.direct);
    // Other processes on the machine show up as wider spreads; say how busy it was.
    console.log(
      `machine load (1-minute average): ${loadAtStart.toFixed(2)} at start, ` +
        `${(os.loadavg()[0] ?? 0).toFixed(2)} at end, on ${os.cpus().length} cores`,
    );
  } finally {
    for (const dispose of disposers.reverse()) await dispose();
  }
}

/** A: through SARAi's port, streaming, timed as its caller sees it. */
async function runBackend(
  backend: EmbeddedBackend,
  request: ChatRequest,
  signal: AbortSignal,
): Promise<Sample> {
  const started = now();
  let firstAt: Instant | undefined;
  for await (const chunk of backend.chatStream(request, signal)) {
    if (chunk.type === "delta") {
      firstAt ??= now();
      continue;
    }
    const ended = now();
    const { completionTokens } = chunk.response.usage;
    return toSample(started, firstAt ?? ended, ended, completionTokens, chunk.response.text);
  }
  throw new Error("the backend's stream ended without a response");
}

/** B: node-llama-cpp directly, one `LlamaChat` reused (as `LlamaChatSession` does), the sequence cleared after. */
async function runDirect(
  chat: LlamaChat,
  sequence: LlamaContextSequence,
  request: ChatRequest,
  signal: AbortSignal,
): Promise<Sample> {
  const sampling = request.sampling ?? {};
  let firstAt: Instant | undefined;
  let completionTokens = 0;
  const started = now();
  const history: ChatHistoryItem[] = [
    ...request.messages.map((message): ChatHistoryItem =>
      message.role === "assistant"
        ? { type: "model", response: [message.content] }
        : { type: message.role, text: message.content },
    ),
    { type: "model", response: [] },
  ];
  const result = await chat.generateResponse(history, {
    signal,
    stopOnAbortSignal: false,
    ...(sampling.maxTokens === undefined ? {} : { maxTokens: sampling.maxTokens }),
    ...(sampling.temperature === undefined ? {} : { temperature: sampling.temperature }),
    ...(sampling.topP === undefined ? {} : { topP: sampling.topP }),
    ...(sampling.topK === undefined ? {} : { topK: sampling.topK }),
    onToken: (tokens) => {
      completionTokens += tokens.length;
    },
    onTextChunk: () => {
      firstAt ??= now();
    },
  });
  const ended = now();
  await sequence.clearHistory();
  return toSample(started, firstAt ?? ended, ended, completionTokens, result.response);
}

function toSample(
  started: Instant,
  firstAt: Instant,
  ended: Instant,
  completionTokens: number,
  text: string,
): Sample {
  const perSecond = (ms: number) => (ms > 0 ? (completionTokens - 1) / (ms / 1000) : Number.NaN);
  return {
    ttftMs: firstAt.wallMs - started.wallMs,
    tokensPerSecond: perSecond(ended.wallMs - firstAt.wallMs),
    totalMs: ended.wallMs - started.wallMs,
    ttftCpuMs: firstAt.cpuMs - started.cpuMs,
    tokensPerCpuSecond: perSecond(ended.cpuMs - firstAt.cpuMs),
    completionTokens,
    text,
  };
}

/** The overhead target of the port, in percent, on wall-clock TTFT and decode tokens/s. */
const overheadTargetPercent = 3;

function report(backend: readonly Sample[], direct: readonly Sample[]): void {
  const metrics = [
    { name: "TTFT (ms)", pick: (s: Sample) => s.ttftMs, rate: false, digits: 1, target: true },
    {
      name: "decode (tokens/s)",
      pick: (s: Sample) => s.tokensPerSecond,
      rate: true,
      digits: 1,
      target: true,
    },
    { name: "total (ms)", pick: (s: Sample) => s.totalMs, rate: false, digits: 0, target: false },
    { name: "TTFT, CPU (ms)", pick: (s: Sample) => s.ttftCpuMs, rate: false, digits: 1, target: false },
    {
      name: "decode (tokens/CPU-s)",
      pick: (s: Sample) => s.tokensPerCpuSecond,
      rate: true,
      digits: 1,
      target: false,
    },
  ];
  const verdicts: string[] = [];
  const rows = metrics.map((metric) => {
    const b = backend.map(metric.pick);
    const d = direct.map(metric.pick);
    // Each pair ran back to back, so its ratio is less exposed to load drifts than a ratio of medians.
    const ratios = pairRatios(b, d);
    const ratio = summarize(ratios).median;
    const interval = medianConfidenceInterval(ratios);
    // Overhead in percent: extra time, or the time per token a lower rate costs.
    const overheadOf = (r: number) => (metric.rate ? 1 / r - 1 : r - 1) * 100;
    const overhead = overheadOf(ratio);
    const bounds =
      interval === undefined
        ? undefined
        : [overheadOf(interval.low), overheadOf(interval.high)].sort((x, y) => x - y);
    const [low = Number.NaN, high = Number.NaN] = bounds ?? [];
    const shown =
      formatPercent(overhead) +
      (bounds === undefined ? " [n/a]" : ` [${formatPercent(low)}…${formatPercent(high)}]`);
    if (metric.target) {
      const verdict =
        bounds === undefined
          ? "no interval with fewer than 6 pairs"
          : high <= overheadTargetPercent
            ? "met"
            : low > overheadTargetPercent
              ? "NOT met"
              : overhead <= overheadTargetPercent
                ? "met by the median, but the interval reaches past the target (noise; try more --runs)"
                : "not met by the median, but the interval includes the target (noise; try more --runs)";
      verdicts.push(`  ${metric.name}: ${shown} → ${verdict}`);
    }
    return [
      metric.name,
      formatSpread(summarize(d), metric.digits),
      formatSpread(summarize(b), metric.digits),
      ratio.toFixed(3),
      shown,
    ];
  });
  console.log("");
  console.log(
    formatTable(
      [
        "metric",
        "direct median [p25–p75]",
        "backend median [p25–p75]",
        "backend/direct",
        "overhead [95% CI]",
      ],
      rows,
    ),
  );
  console.log(
    "\nbackend/direct is the median of the per-pair ratios; overhead = backend/direct − 1 for times and " +
      "direct/backend − 1 for rates,\nwith a distribution-free 95% confidence interval of that median. " +
      "CPU rows count this process's CPU time (all threads):\nthey show extra work even when other " +
      "processes make wall times noisy.",
  );
  console.log(`target: overhead ≤ ${overheadTargetPercent}% on wall-clock TTFT and tokens/s`);
  for (const verdict of verdicts) console.log(verdict);
}

function formatPercent(value: number): string {
  return `${value >= 0 ? "+" : ""}${value.toFixed(1)}%`;
}

/** The options, or `undefined` when only the usage was asked for (and printed). */
function parseOptions(args: string[]): BenchOptions | undefined {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: "string", default: "15" },
      warmup: { type: "string", default: "3" },
      tokens: { type: "string", default: "192" },
      threads: { type: "string", default: "1" },
      model: { type: "string", default: "byte" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    return undefined;
  }
  const integer = (name: string, value: string, min: number) => parseIntegerOption(name, value, min, usage);
  if (values.model !== "byte" && values.model !== "qwen2") {
    throw new RangeError(`--model must be byte or qwen2, got ${JSON.stringify(values.model)}\n${usage}`);
  }
  return {
    runs: integer("runs", values.runs, 1),
    warmup: integer("warmup", values.warmup, 0),
    tokens: integer("tokens", values.tokens, 2),
    threads: integer("threads", values.threads, 1),
    tokenizer: values.model,
  };
}
