/**
 * The HTTP API as users run it: `sarai serve` in its own process, spoken to over loopback.
 *
 * 1. Streaming overhead. A streamed `POST /v1/chat/completions` (official `openai` client, `stream: true`,
 *    usage from `stream_options.include_usage`) against `app.backend.chatStream()` called in this process —
 *    same model file, config, greedy request, seed and token budget. The server process idles while the direct
 *    arm runs and the in-process model idles while the API arm runs; pairs interleave A/B, B/A so drifts in
 *    machine load hit both arms. TTFT runs from the call to the first non-empty text; decode speed is
 *    (tokens − 1) / (time from that text to the moment the caller holds the usage, i.e. the whole response).
 * 2. Load. autocannon keeps N connections (default 50) busy for a while (default 60 s) with short
 *    non-streamed completions against a server on the tiny model, 2 sequences; every response must be a 2xx or
 *    a 429 (queue full; by default the queue admits every connection, `--max-queue 16` shows the overflow, which
 *    autocannon retries at once, ignoring Retry-After). Baseline: the same requests from 1 connection, measured
 *    first in the same run. The server's RSS is read from /proc after a warm-up at full load and at the end.
 *
 * `--client fetch` reads the stream with `fetch` and a minimal SSE reader instead of the `openai` client.
 *
 * `npm run bench -- api [--only stream|load] [--client openai|fetch] [--runs 10] [--warmup 2] [--tokens 128]
 *  [--threads 1] [--duration 60] [--connections 50] [--max-queue <connections>]`
 *
 * The client shares the 2 cores with the server; on a bigger machine the numbers say more about the server.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { EventEmitter } from "node:events";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import OpenAI from "openai";
import { createApp, type App } from "../src/app.js";
import { loadConfig } from "../src/config/index.js";
import {
  ensureSynthesizedModel,
  inspectModelFile,
  type ChatMessage,
  type ChatRequest,
} from "../src/inference/index.js";
import { createSilentLogger } from "../src/shared/index.js";
import {
  assertSameOutput,
  benchMessages,
  benchModelShape,
  formatSpread,
  formatTable,
  medianConfidenceInterval,
  pairRatios,
  parseIntegerOption,
  quantileOfSorted,
  summarize,
} from "./_stats.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cacheDir = path.join(root, ".cache", "bench-models");
const cliEntry = path.join(root, "src", "cli", "main.ts");
// The server runs in a temp folder, where `--import tsx` would not resolve.
const tsxLoader = pathToFileURL(path.join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;

/** The model bench/inference.ts uses (the same cache file). */
const streamModelShape = { ...benchModelShape, tokenizer: "byte" } as const;

const messages: ChatMessage[] = [...benchMessages];
const seed = 42;

/** Sequences per context on both sides; SARAi's default. */
const sequences = 2;
/** Runs before the measured load: 1 connection (the baseline), then full load (warm-up, not measured). */
const baselineSeconds = 5;
const loadWarmupSeconds = 5;
/** How often the server's RSS is sampled during the load. */
const rssSampleMs = 10_000;
const rssGrowthTargetPercent = 10;
const tokensPerSecondTarget = 0.95;

interface BenchOptions {
  only: "stream" | "load" | undefined;
  /** How the streaming arm reads the API: the official `openai` client, or `fetch` with a minimal reader. */
  client: "openai" | "fetch";
  runs: number;
  warmup: number;
  tokens: number;
  threads: number;
  duration: number;
  connections: number;
  /**
   * The server's `server.maxQueue`. Default: `connections`, so every request is admitted and the load measures
   * serving; a smaller queue answers the overflow with 429, which autocannon retries at once.
   */
  maxQueue: number;
}

const usage =
  "usage: npm run bench -- api [--only stream|load] [--client openai|fetch] [--runs N] [--warmup N]\n" +
  "                            [--tokens N] [--threads N] [--duration S] [--connections N] [--max-queue N]";

export default async function runApiBench(args: string[]): Promise<void> {
  console.log(`command: npm run bench -- api${args.length > 0 ? ` ${args.join(" ")}` : ""}`);
  const options = parseOptions(args);
  if (options === undefined) return;
  const loadAtStart = os.loadavg();
  const dir = await mkdtemp(path.join(os.tmpdir(), "sarai-bench-api-"));
  try {
    if (options.only !== "load") await runStreamBench(options, path.join(dir, "stream"));
    if (options.only !== "stream") await runLoadBench(options, path.join(dir, "load"));
  } finally {
    await rm(dir, { recursive: true, force: true });
    // Other processes on the machine show up as wider spreads; say how busy it was.
    const format = (load: number[]) => load.map((value) => value.toFixed(2)).join(" / ");
    console.log(
      `\nmachine load (1/5/15-minute averages): ${format(loadAtStart)} at start, ${format(os.loadavg())} ` +
        `at end, on ${os.cpus().length} cores`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// The server process

interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  /** The last lines the server wrote to stderr and stdout (its log), for error messages. */
  describeOutput(): Promise<string>;
  /** Whether the process is still running. */
  isRunning(): boolean;
  /** Runs a full garbage collection in the server (started with `gcOnSignal`) and waits for it to settle. */
  collectGarbage(): Promise<void>;
  /** SIGTERM, then SIGKILL if it has not exited 20 s later. Idempotent. */
  stop(): Promise<void>;
}

/** The `SARAI_*` environment both the server process and the in-process app are configured from. */
function createServerEnv(dataDir: string, options: BenchOptions): Record<string, string> {
  return {
    PATH: process.env["PATH"] ?? "",
    HOME: dataDir,
    SARAI_PATHS_DATA_DIR: dataDir,
    // RFC 2606: .invalid never resolves; nothing is ever downloaded.
    SARAI_MODELS_HUGGING_FACE_ENDPOINT: "https://sarai-offline.invalid/",
    SARAI_MODELS_AUTO_PULL: "false",
    SARAI_INFERENCE_THREADS: String(options.threads),
    SARAI_INFERENCE_SEQUENCES: String(sequences),
    SARAI_SERVER_MAX_QUEUE: String(options.maxQueue),
    // The per-client limit (120/min by default) would answer nearly everything from one address with 429.
    SARAI_SERVER_RATE_LIMIT_PER_MINUTE: "0",
  };
}

/** Starts `sarai serve --port 0 --model <file>` and waits for its "listening on" line. */
/**
 * Loaded into the load test's server with `--expose-gc`: SIGUSR2 runs a full garbage collection, so memory is
 * compared after collections rather than wherever V8's lazy collector happens to be. Nothing else changes.
 */
const gcOnSignalHook = `data:text/javascript,${encodeURIComponent(
  'process.on("SIGUSR2", () => globalThis.gc?.());',
)}`;

async function startServer(
  model: string,
  dataDir: string,
  options: BenchOptions,
  { gcOnSignal = false } = {},
): Promise<ServerProcess> {
  await mkdir(dataDir, { recursive: true });
  // The request log goes to a file: a pipe would have to be drained by this (busy) process.
  const stdoutFile = path.join(dataDir, "server-stdout.log");
  const stdoutFd = openSync(stdoutFile, "w");
  let child: ChildProcess;
  try {
    child = spawn(
      process.execPath,
      [
        ...(gcOnSignal ? ["--expose-gc", "--import", gcOnSignalHook] : []),
        "--import",
        tsxLoader,
        cliEntry,
        ...["serve", "--port", "0", "--model", model],
      ],
      { cwd: dataDir, env: createServerEnv(dataDir, options), stdio: ["ignore", stdoutFd, "pipe"] },
    );
  } finally {
    closeSync(stdoutFd);
  }
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (text: string) => {
    stderr = (stderr + text).slice(-8192);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const describeOutput = async () => {
    const lines = (await readFile(stdoutFile, "utf8").catch(() => "")).trimEnd().split("\n");
    const tail = (list: string[], count: number) => list.slice(-count).join("\n");
    // The request lines drown the rest (warnings, errors, "shutting down" with the signal's name).
    const notRequests = lines.filter((line) => !line.includes('"msg":"request"'));
    const state =
      child.exitCode === null && child.signalCode === null
        ? "running"
        : `exited (code ${child.exitCode}, signal ${child.signalCode})`;
    return (
      `server process ${child.pid}: ${state}\nserver stderr:\n${tail(stderr.trimEnd().split("\n"), 15)}\n` +
      `server log, other than request lines:\n${tail(notRequests, 15)}\n` +
      `server log, last lines:\n${tail(lines, 3)}`
    );
  };
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    })();
    return stopped;
  };

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the server did not start within 120 s")), 120_000);
    const onData = () => {
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      child.stderr?.off("data", onData);
      resolve(match[1]);
    };
    child.stderr?.on("data", onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the server exited with code ${child.exitCode ?? child.signalCode} before listening`));
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw new Error(`${(error as Error).message}\n${await describeOutput()}`);
  });
  if (child.pid === undefined) throw new Error("the server process has no pid");
  return {
    url,
    pid: child.pid,
    describeOutput,
    isRunning: () => child.exitCode === null && child.signalCode === null,
    collectGarbage: async () => {
      if (!gcOnSignal) throw new Error("the server was not started with gcOnSignal");
      child.kill("SIGUSR2");
      await sleep(1000);
    },
    stop,
  };
}

interface ProcessMemory {
  rssKb: number;
  peakRssKb: number;
}

function readProcessMemory(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
    if (match?.[1] === undefined) throw new Error(`no ${name} in /proc/${pid}/status`);
    return Number(match[1]);
  };
  return { rssKb: field("VmRSS"), peakRssKb: field("VmHWM") };
}

/** Linux reports process times in clock ticks of 1/100 s (USER_HZ) whatever the kernel's own tick rate. */
const clockTicksPerSecond = 100;

/** CPU time (user + system, all threads) of another process, in ms; 10 ms resolution. */
function readProcessCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerSecond;
}

// ---------------------------------------------------------------------------------------------------------
// 1. Streaming overhead

/** What one generation looked like from the caller's side. */
interface StreamSample {
  ttftMs: number;
  tokensPerSecond: number;
  totalMs: number;
  /** Decode tokens per second of CPU time of both processes (this one and the server): the work it costs. */
  tokensPerCpuSecond: number;
  /** CPU time per decoded token in this process and in the server process, in ms. */
  ownCpuMsPerToken: number;
  serverCpuMsPerToken: number;
  completionTokens: number;
  text: string;
}

/** A wall-clock reading with the CPU time of both processes taken with it. */
interface Instant {
  wallMs: number;
  ownCpuMs: number;
  serverCpuMs: number;
}

async function runStreamBench(options: BenchOptions, dir: string): Promise<void> {
  const file = await ensureSynthesizedModel({ ...streamModelShape, cacheDir });
  const info = await inspectModelFile(file);
  console.log("\n== 1. streaming overhead: HTTP API (separate process) vs the embedded backend (in process)");
  console.log(
    `model: synthetic llama, ${streamModelShape.layers} blocks, width ${streamModelShape.width}, ` +
      `ffn ${streamModelShape.ffn}, ${streamModelShape.quantization}, byte tokenizer, ` +
      `${(info.parameterCount / 1e6).toFixed(1)} M parameters, ${(info.sizeBytes / 2 ** 20).toFixed(1)} MiB`,
  );

  const serverDir = path.join(dir, "server");
  const directDir = path.join(dir, "direct");
  await mkdir(directDir, { recursive: true });
  // Released in reverse order of creation, also when a step fails.
  const disposers: (() => unknown)[] = [];
  try {
    const server = await startServer(file, serverDir, options);
    disposers.push(() => server.stop());
    // The same config the server resolved, from the same environment and flag.
    const { config } = loadConfig({
      env: createServerEnv(directDir, options),
      cwd: directDir,
      overrides: { models: { main: { source: file } } },
    });
    const app = await createApp({ config, logger: createSilentLogger() });
    disposers.push(() => app.dispose());
    // The pool loads lazily (the server loads before listening); load it so no run pays for it.
    await app.pool.load("main");
    const { threads, batchSize, contextSize } = config.inference;
    console.log(
      `config (both sides): threads ${threads}, batch ${batchSize}, context ${contextSize}, ` +
        `sequences ${config.inference.sequences}; server ${server.url} (pid ${server.pid})`,
    );
    console.log(
      `request: greedy (temperature 0), seed ${seed}, max_tokens ${options.tokens}; API through the openai ` +
        `client over loopback; ${options.warmup} warm-up pairs discarded, ${options.runs} measured pairs ` +
        "in A/B, B/A order",
    );

    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "not-needed", maxRetries: 0 });
    const now = (): Instant => {
      const own = process.cpuUsage();
      const ownCpuMs = (own.user + own.system) / 1000;
      return { wallMs: performance.now(), ownCpuMs, serverCpuMs: readProcessCpuMs(server.pid) };
    };
    const arms = {
      api: () =>
        options.client === "openai"
          ? runApiStream(client, options.tokens, now)
          : runFetchStream(server.url, options.tokens, now),
      direct: () => runDirectStream(app, options.tokens, now),
    };
    const measured = { api: [] as StreamSample[], direct: [] as StreamSample[] };
    const reference = await arms.direct();
    for (let pair = 0; pair < options.warmup + options.runs; pair += 1) {
      const order = pair % 2 === 0 ? (["api", "direct"] as const) : (["direct", "api"] as const);
      for (const arm of order) {
        const sample = await arms[arm]();
        assertSameOutput(reference, sample, arm);
        if (pair >= options.warmup) measured[arm].push(sample);
      }
    }
    console.log(
      `generated ${reference.completionTokens} tokens, ${reference.text.length} characters; ` +
        "outputs identical (API vs direct, every run): yes",
    );
    reportStream(measured.api, measured.direct);
  } finally {
    for (const dispose of disposers.reverse()) await dispose();
  }
}

/** The streamed request both API clients send: greedy, seeded, with a final usage chunk. */
function streamBody(maxTokens: number) {
  return {
    model: "sarai",
    messages,
    temperature: 0,
    seed,
    max_tokens: maxTokens,
    stream: true as const,
    stream_options: { include_usage: true },
  };
}

/** The fields of an OpenAI stream chunk the benchmark reads. */
interface StreamChunk {
  choices: { delta: { content?: string | null } }[];
  usage?: { completion_tokens: number } | null;
}

/** Times a stream of chunks: first content, the usage chunk (the end), and the text. */
async function collectStream(
  chunks: AsyncIterable<StreamChunk>,
  started: Instant,
  now: () => Instant,
): Promise<StreamSample> {
  let firstAt: Instant | undefined;
  let endedAt: Instant | undefined;
  let completionTokens: number | undefined;
  let text = "";
  for await (const chunk of chunks) {
    const content = chunk.choices[0]?.delta.content;
    if (content != null && content !== "") {
      firstAt ??= now();
      text += content;
    }
    if (chunk.usage != null) {
      endedAt = now();
      completionTokens = chunk.usage.completion_tokens;
    }
  }
  if (endedAt === undefined || completionTokens === undefined) {
    throw new Error("the API's stream ended without a usage chunk");
  }
  return toSample(started, firstAt ?? endedAt, endedAt, completionTokens, text);
}

/** A: the HTTP API, as an OpenAI client sees it. */
async function runApiStream(client: OpenAI, maxTokens: number, now: () => Instant): Promise<StreamSample> {
  const started = now();
  const stream = await client.chat.completions.create(streamBody(maxTokens));
  return collectStream(stream, started, now);
}

/** A, with a minimal client: `fetch` and a hand-rolled server-sent-events reader. */
async function runFetchStream(url: string, maxTokens: number, now: () => Instant): Promise<StreamSample> {
  const started = now();
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(streamBody(maxTokens)),
  });
  if (!response.ok || response.body === null) throw new Error(`the API answered ${response.status}`);
  // Typed loosely without the DOM library; undici yields Uint8Array chunks.
  return collectStream(readServerSentEvents(response.body as AsyncIterable<Uint8Array>), started, now);
}

/** The `data:` events of a server-sent-events body as parsed chunks, up to `[DONE]`. */
async function* readServerSentEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<StreamChunk> {
  let buffered = "";
  const decoder = new TextDecoder();
  for await (const bytes of body) {
    buffered += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffered.indexOf("\n\n")) !== -1) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
      yield JSON.parse(event.slice(6)) as StreamChunk;
    }
  }
}

/** B: the embedded backend in this process, the port the API's routes end in. */
async function runDirectStream(app: App, maxTokens: number, now: () => Instant): Promise<StreamSample> {
  const request: ChatRequest = { messages, sampling: { temperature: 0, seed, maxTokens } };
  const started = now();
  let firstAt: Instant | undefined;
  for await (const chunk of app.backend.chatStream(request, new AbortController().signal)) {
    if (chunk.type === "delta") {
      if (chunk.text !== "") firstAt ??= now();
      continue;
    }
    const ended = now();
    const { completionTokens } = chunk.response.usage;
    return toSample(started, firstAt ?? ended, ended, completionTokens, chunk.response.text);
  }
  throw new Error("the backend's stream ended without a response");
}

function toSample(
  started: Instant,
  firstAt: Instant,
  ended: Instant,
  completionTokens: number,
  text: string,
): StreamSample {
  const decoded = completionTokens - 1;
  const perSecond = (ms: number) => (ms > 0 ? decoded / (ms / 1000) : Number.NaN);
  const ownCpuMs = ended.ownCpuMs - firstAt.ownCpuMs;
  const serverCpuMs = ended.serverCpuMs - firstAt.serverCpuMs;
  return {
    ttftMs: firstAt.wallMs - started.wallMs,
    tokensPerSecond: perSecond(ended.wallMs - firstAt.wallMs),
    totalMs: ended.wallMs - started.wallMs,
    tokensPerCpuSecond: perSecond(ownCpuMs + serverCpuMs),
    ownCpuMsPerToken: decoded > 0 ? ownCpuMs / decoded : Number.NaN,
    serverCpuMsPerToken: decoded > 0 ? serverCpuMs / decoded : Number.NaN,
    completionTokens,
    text,
  };
}

function reportStream(api: readonly StreamSample[], direct: readonly StreamSample[]): void {
  const metrics = [
    { name: "TTFT (ms)", pick: (s: StreamSample) => s.ttftMs, digits: 1 },
    { name: "decode (tokens/s)", pick: (s: StreamSample) => s.tokensPerSecond, digits: 1 },
    { name: "total (ms)", pick: (s: StreamSample) => s.totalMs, digits: 0 },
    { name: "decode (tokens/CPU-s)", pick: (s: StreamSample) => s.tokensPerCpuSecond, digits: 1 },
  ];
  let tokensPerSecondRatio: { median: number; low?: number; high?: number } | undefined;
  const rows = metrics.map((metric) => {
    const a = api.map(metric.pick);
    const d = direct.map(metric.pick);
    // Each pair ran back to back, so its ratio is less exposed to load drifts than a ratio of medians.
    const ratios = pairRatios(a, d);
    const median = summarize(ratios).median;
    const interval = medianConfidenceInterval(ratios);
    if (metric.name === "decode (tokens/s)") tokensPerSecondRatio = { median, ...interval };
    return [
      metric.name,
      formatSpread(summarize(d), metric.digits),
      formatSpread(summarize(a), metric.digits),
      median.toFixed(3),
      interval === undefined ? "n/a" : `${interval.low.toFixed(3)}…${interval.high.toFixed(3)}`,
    ];
  });
  console.log("");
  console.log(
    formatTable(["metric", "direct median [p25–p75]", "API median [p25–p75]", "API/direct", "95% CI"], rows),
  );
  const extraTtft = summarize(api.map((s, i) => s.ttftMs - (direct[i]?.ttftMs ?? Number.NaN))).median;
  console.log(
    "\nAPI/direct is the median of the per-pair ratios, with a distribution-free 95% confidence interval of " +
      `that median. TTFT through the API: ${extraTtft >= 0 ? "+" : ""}${extraTtft.toFixed(1)} ms per request ` +
      "(median of per-pair differences).\nThe CPU row counts both processes (this one and the server, all " +
      "threads; the server's at 10 ms resolution): it shows extra work even when other processes make wall " +
      "times noisy.",
  );
  const cpu = (samples: readonly StreamSample[], pick: (s: StreamSample) => number) =>
    summarize(samples.map(pick)).median.toFixed(2);
  console.log(
    "decode CPU per token (medians): direct " +
      `${cpu(direct, (s) => s.ownCpuMsPerToken)} ms in this process + ` +
      `${cpu(direct, (s) => s.serverCpuMsPerToken)} ms in the idle server; API ` +
      `${cpu(api, (s) => s.serverCpuMsPerToken)} ms in the server + ` +
      `${cpu(api, (s) => s.ownCpuMsPerToken)} ms in this process (the openai client and the idle model)`,
  );
  const ratio = tokensPerSecondRatio ?? { median: Number.NaN };
  const verdict =
    ratio.low === undefined || ratio.high === undefined
      ? ratio.median >= tokensPerSecondTarget
        ? "met by the median (no interval with fewer than 6 pairs)"
        : "NOT met by the median (no interval with fewer than 6 pairs)"
      : ratio.low >= tokensPerSecondTarget
        ? "met"
        : ratio.high < tokensPerSecondTarget
          ? "NOT met"
          : ratio.median >= tokensPerSecondTarget
            ? "met by the median, but the interval reaches below the target (noise; try more --runs)"
            : "not met by the median, but the interval includes the target (noise; try more --runs)";
  console.log(
    `target: API/direct ≥ ${tokensPerSecondTarget} on decode tokens/s: ${ratio.median.toFixed(3)} → ${verdict}`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// 2. Load

/** The part of autocannon 9's API used here (the package ships no types). */
interface AutocannonOptions {
  url: string;
  connections: number;
  /** Seconds. */
  duration: number;
  method: "POST";
  headers: Record<string, string>;
  body: string;
  /** Seconds without a response before a request counts as timed out. */
  timeout: number;
  verifyBody: (body: string) => boolean;
}

interface AutocannonResult {
  /** Connection errors and timeouts. */
  errors: number;
  timeouts: number;
  /** Responses whose body failed `verifyBody`. */
  mismatches: number;
  /** Seconds. */
  duration: number;
}

interface AutocannonInstance extends EventEmitter {
  on(
    event: "response",
    listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void,
  ): this;
}

type Autocannon = (
  options: AutocannonOptions,
  callback: (error: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;

const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

/** One autocannon run: response times by status code, plus what never got a status. */
interface LoadRun {
  connections: number;
  seconds: number;
  latenciesByStatus: Map<number, number[]>;
  errors: number;
  timeouts: number;
  mismatches: number;
}

const loadBody = JSON.stringify({
  model: "sarai",
  messages: [{ role: "user", content: "Say hello to the benchmark." }],
  max_tokens: 8,
  temperature: 0,
  seed,
});

function runAutocannon(url: string, connections: number, seconds: number): Promise<LoadRun> {
  return new Promise((resolve, reject) => {
    const latenciesByStatus = new Map<number, number[]>();
    const instance = autocannon(
      {
        url: `${url}/v1/chat/completions`,
        connections,
        duration: seconds,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: loadBody,
        timeout: 60,
        // A 2xx must be a completion and a 429 an OpenAI-style rate-limit error; anything else is a mismatch.
        verifyBody: (body) =>
          body.includes('"object":"chat.completion"') || body.includes('"type":"rate_limit_error"'),
      },
      (error, result) => {
        if (error !== null) {
          reject(error);
          return;
        }
        resolve({
          connections,
          seconds: result.duration,
          latenciesByStatus,
          errors: result.errors,
          timeouts: result.timeouts,
          mismatches: result.mismatches,
        });
      },
    );
    instance.on("response", (_client, statusCode, _bytes, responseTimeMs) => {
      let list = latenciesByStatus.get(statusCode);
      if (list === undefined) latenciesByStatus.set(statusCode, (list = []));
      list.push(responseTimeMs);
    });
  });
}

interface StatusGroup {
  name: string;
  latencies: number[];
}

/** 2xx, 429 and everything else, with each group's response times. */
function groupStatuses(run: LoadRun): { ok: StatusGroup; tooMany: StatusGroup; other: StatusGroup } {
  const groups = {
    ok: { name: "2xx", latencies: [] as number[] },
    tooMany: { name: "429", latencies: [] as number[] },
    other: { name: "other", latencies: [] as number[] },
  };
  for (const [status, latencies] of run.latenciesByStatus) {
    const group = status >= 200 && status < 300 ? groups.ok : status === 429 ? groups.tooMany : groups.other;
    // Not push(...latencies): a fast 429 loop gives more values than a call may take arguments.
    for (const latency of latencies) group.latencies.push(latency);
  }
  return groups;
}

function countResponses(run: LoadRun): number {
  let total = 0;
  for (const latencies of run.latenciesByStatus.values()) total += latencies.length;
  return total;
}

function describeOtherStatuses(run: LoadRun): string {
  return [...run.latenciesByStatus]
    .filter(([status]) => !(status >= 200 && status < 300) && status !== 429)
    .map(([status, latencies]) => `${status} × ${latencies.length}`)
    .join(", ");
}

async function runLoadBench(options: BenchOptions, dir: string): Promise<void> {
  const file = await ensureSynthesizedModel({ cacheDir });
  const info = await inspectModelFile(file);
  console.log(`\n== 2. load: ${options.connections} connections for ${options.duration} s (autocannon)`);
  console.log(
    `model: the default tiny synthetic model, ${(info.parameterCount / 1e6).toFixed(2)} M parameters, ` +
      `${(info.sizeBytes / 2 ** 20).toFixed(2)} MiB; request: non-streamed, max_tokens 8, greedy`,
  );
  const server = await startServer(file, path.join(dir, "server"), options, { gcOnSignal: true });
  try {
    console.log(
      `server: separate process (pid ${server.pid}), threads ${options.threads}, sequences ${sequences}, ` +
        `maxQueue ${options.maxQueue}${options.maxQueue >= options.connections ? " (every request is admitted)" : ""}, ` +
        "rate limit off, request log on (info, to a file); " +
        "autocannon in this process retries a 429 at once",
    );
    console.log(
      `runs: baseline 1 connection ${baselineSeconds} s, warm-up ${options.connections} connections ` +
        `${loadWarmupSeconds} s (not measured), then the load`,
    );
    const baseline = await runAutocannon(server.url, 1, baselineSeconds);
    const warmup = await runAutocannon(server.url, options.connections, loadWarmupSeconds);
    await server.collectGarbage();
    const before: MemoryReading = {
      rss: readProcessMemory(server.pid),
      heap: await readHeapMetrics(server.url),
    };
    const rssSamples: number[] = [before.rss.rssKb];
    const sampler = setInterval(() => {
      if (server.isRunning()) rssSamples.push(readProcessMemory(server.pid).rssKb);
    }, rssSampleMs);
    let load: LoadRun;
    try {
      load = await runAutocannon(server.url, options.connections, options.duration);
    } finally {
      clearInterval(sampler);
    }
    if (!server.isRunning()) throw new Error(`the server died under load\n${await server.describeOutput()}`);
    const atEnd: MemoryReading = {
      rss: readProcessMemory(server.pid),
      heap: await readHeapMetrics(server.url),
    };
    rssSamples.push(atEnd.rss.rssKb);
    await server.collectGarbage();
    const after: MemoryReading = {
      rss: readProcessMemory(server.pid),
      heap: await readHeapMetrics(server.url),
    };
    const health = await fetch(`${server.url}/health`);
    reportLoad(baseline, load);
    reportMemory(before, atEnd, after, rssSamples);

    const failures: string[] = [];
    for (const [name, run] of [
      ["baseline", baseline],
      ["warm-up", warmup],
      ["load", load],
    ] as const) {
      const others = describeOtherStatuses(run);
      if (others !== "") failures.push(`${name}: non-2xx/429 responses: ${others}`);
      if (run.errors > 0) failures.push(`${name}: ${run.errors} errors (${run.timeouts} timeouts)`);
      if (run.mismatches > 0) failures.push(`${name}: ${run.mismatches} responses with an unexpected body`);
    }
    if (!health.ok) failures.push(`GET /health after the load answered ${health.status}`);
    if (failures.length > 0) {
      throw new Error(`LOAD TEST FAILED\n  ${failures.join("\n  ")}\n${await server.describeOutput()}`);
    }
    console.log(
      "non-2xx/429 responses: 0 (baseline, warm-up and load); connection errors 0, timeouts 0, bodies checked; " +
        "/health OK afterwards",
    );
  } finally {
    await server.stop();
  }
}

function reportLoad(baseline: LoadRun, load: LoadRun): void {
  const rows: string[][] = [];
  const addRows = (label: string, run: LoadRun) => {
    const total = countResponses(run);
    for (const group of Object.values(groupStatuses(run))) {
      const sorted = [...group.latencies].sort((x, y) => x - y);
      const at = (q: number) => (sorted.length === 0 ? "–" : quantileOfSorted(sorted, q).toFixed(1));
      rows.push([
        label,
        group.name,
        String(sorted.length),
        total === 0 ? "–" : `${((sorted.length / total) * 100).toFixed(1)}%`,
        (sorted.length / run.seconds).toFixed(1),
        at(0.5),
        at(0.99),
      ]);
    }
    rows.push([label, "all", String(total), "100%", (total / run.seconds).toFixed(1), "", ""]);
  };
  addRows(`1 connection, ${baseline.seconds.toFixed(1)} s`, baseline);
  addRows(`${load.connections} connections, ${load.seconds.toFixed(1)} s`, load);
  console.log("");
  console.log(formatTable(["run", "status", "responses", "share", "per s", "p50 (ms)", "p99 (ms)"], rows));
  const ok = (run: LoadRun) => groupStatuses(run).ok.latencies;
  const median = (values: number[]) => (values.length === 0 ? Number.NaN : summarize(values).median);
  const rate = (run: LoadRun) => ok(run).length / run.seconds;
  console.log(
    `\nratios against 1 connection: 2xx per s ×${(rate(load) / rate(baseline)).toFixed(2)}, ` +
      `2xx p50 latency ×${(median(ok(load)) / median(ok(baseline))).toFixed(1)} ` +
      `(${sequences} sequences serve at most ${sequences} requests at once; the rest queue or get 429)`,
  );
}

interface HeapMetrics {
  usedMiB: number;
  totalMiB: number;
  externalMiB: number;
}

/** The server's V8 heap figures from prom-client's default metrics, to tell heap growth from native growth. */
async function readHeapMetrics(url: string): Promise<HeapMetrics> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => {
    const match = new RegExp(`^sarai_${name} (\\S+)$`, "m").exec(text);
    return match?.[1] === undefined ? Number.NaN : Number(match[1]) / 2 ** 20;
  };
  return {
    usedMiB: read("nodejs_heap_size_used_bytes"),
    totalMiB: read("nodejs_heap_size_total_bytes"),
    externalMiB: read("nodejs_external_memory_bytes"),
  };
}

interface MemoryReading {
  rss: ProcessMemory;
  heap: HeapMetrics;
}

function reportMemory(
  before: MemoryReading,
  atEnd: MemoryReading,
  after: MemoryReading,
  rssSamplesKb: readonly number[],
): void {
  const mib = (kb: number) => (kb / 1024).toFixed(1);
  const percent = (value: number) => `${value >= 0 ? "+" : ""}${value.toFixed(1)}%`;
  const growth = (after.rss.rssKb / before.rss.rssKb - 1) * 100;
  const heapGrowth = (after.heap.usedMiB / before.heap.usedMiB - 1) * 100;
  console.log(
    "\nserver memory, each after a full GC (SIGUSR2 hook, --expose-gc): " +
      `RSS ${mib(before.rss.rssKb)} MiB after the warm-up → ${mib(after.rss.rssKb)} MiB after the load ` +
      `(×${(after.rss.rssKb / before.rss.rssKb).toFixed(3)}, ${percent(growth)}); ` +
      `V8 heap used ${before.heap.usedMiB.toFixed(1)} → ${after.heap.usedMiB.toFixed(1)} MiB ` +
      `(${percent(heapGrowth)}), external ${before.heap.externalMiB.toFixed(1)} → ` +
      `${after.heap.externalMiB.toFixed(1)} MiB`,
  );
  console.log(
    `during the load, before any forced GC: RSS every ${rssSampleMs / 1000} s ` +
      `${rssSamplesKb.map(mib).join(", ")} MiB; peak ${mib(atEnd.rss.peakRssKb)} MiB; ` +
      `V8 heap used at the end ${atEnd.heap.usedMiB.toFixed(1)} MiB (V8 collects lazily)`,
  );
  console.log(
    `target: RSS growth < ${rssGrowthTargetPercent}% → ${growth < rssGrowthTargetPercent ? "met" : "NOT met"}`,
  );
}

// ---------------------------------------------------------------------------------------------------------

/** The options, or `undefined` when only the usage was asked for (and printed). */
function parseOptions(args: string[]): BenchOptions | undefined {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: "string" },
      client: { type: "string", default: "openai" },
      runs: { type: "string", default: "10" },
      warmup: { type: "string", default: "2" },
      tokens: { type: "string", default: "128" },
      threads: { type: "string", default: "1" },
      duration: { type: "string", default: "60" },
      connections: { type: "string", default: "50" },
      "max-queue": { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    return undefined;
  }
  const integer = (name: string, value: string, min: number) => parseIntegerOption(name, value, min, usage);
  const only = values.only;
  if (only !== undefined && only !== "stream" && only !== "load") {
    throw new RangeError(`--only must be stream or load, got ${JSON.stringify(only)}\n${usage}`);
  }
  const connections = integer("connections", values.connections, 1);
  const client = values.client;
  if (client !== "openai" && client !== "fetch") {
    throw new RangeError(`--client must be openai or fetch, got ${JSON.stringify(client)}\n${usage}`);
  }
  return {
    only,
    client,
    runs: integer("runs", values.runs, 1),
    warmup: integer("warmup", values.warmup, 0),
    tokens: integer("tokens", values.tokens, 2),
    threads: integer("threads", values.threads, 1),
    duration: integer("duration", values.duration, 1),
    connections,
    maxQueue: values["max-queue"] === undefined ? connections : integer("max-queue", values["max-queue"], 0),
  };
}
