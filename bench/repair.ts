/**
 * Fault injection against `sarai serve` as users run it: one real server process per fault, on generated models
 * (the main one downloaded from a Hugging Face mirror on loopback), with memory facts stored before the fault.
 *
 *   npm run bench -- repair [--only name,name] [--timeout-s 60] [--no-baseline] [--verbose]
 *
 * For each fault: start a server, store facts, inject the fault, keep the traffic that exposes it going, and wait
 * for the repair history to show the outcome. Printed per fault: detected, repaired automatically, the repair's
 * level and action, time from injection to repair, rollbacks, whether the server still answers afterwards, and
 * memory facts lost (must be 0). The baseline is the same server with the repairer off (`repair.autoApply:
 * false`): what is still broken after the same wait without it. Then signed patches: refused, rolled back, applied.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { statfsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { ensureSynthesizedModel } from "../src/inference/index.js";
import { RepairHistory, type RepairRecord } from "../src/repair/index.js";
import { generateSigningKey, loadSigningKey, signFile } from "../src/security/index.js";
import { startFakeHfMirror, type FakeHfMirror } from "../test/fake-hf-mirror.js";
import { spawnCli, startCliServer, type CliServer } from "../test/cli-process.js";
import { formatTable } from "./_stats.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const modelCache = path.join(root, ".cache", "bench-models");
const hfFile = "sarai-bench/tiny-GGUF/sarai-bench-main-q8_0.gguf";

interface Models {
  main: string;
  fallback: string;
  /** Unrelated weights: its drafts are almost never accepted. */
  badDraft: string;
}

interface Server extends CliServer {
  dataDir: string;
  configFile: string;
}

interface Context {
  server: Server;
  models: Models;
  /** Runs until the scenario ends. */
  signal: AbortSignal;
  background: Promise<unknown>[];
}

interface Scenario {
  name: string;
  /** The faults a correct diagnosis names. */
  faults: string[];
  /** YAML lines merged into the base config. */
  config: (models: Models, mirror: FakeHfMirror, dataDir: string) => Record<string, unknown>;
  inject(context: Context): Promise<void>;
  /** Traffic that exposes the fault, until the signal fires. */
  load?(context: Context): Promise<void>;
  /** Before the server starts (an external process, say). */
  setup?(context: Omit<Context, "server"> & { dataDir: string; configFile: string }): Promise<void>;
}

async function generateModels(): Promise<Models> {
  const base = { cacheDir: modelCache, tokenizer: "byte" as const, contextLength: 8192 };
  return {
    main: await ensureSynthesizedModel({ ...base, seed: 11, name: "bench-main" }),
    fallback: await ensureSynthesizedModel({ ...base, seed: 12, name: "bench-fallback" }),
    badDraft: await ensureSynthesizedModel({
      ...base,
      seed: 99,
      layers: 1,
      ffn: 64,
      name: "bench-bad-draft",
    }),
  };
}

function toYaml(value: unknown, indent = ""): string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return JSON.stringify(value);
  return Object.entries(value as Record<string, unknown>)
    .map(([key, child]) =>
      typeof child === "object" && child !== null && !Array.isArray(child)
        ? `${indent}${key}:\n${toYaml(child, `${indent}  `)}`
        : `${indent}${key}: ${JSON.stringify(child)}`,
    )
    .join("\n");
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const current = out[key];
    out[key] =
      typeof value === "object" &&
      value !== null &&
      !Array.isArray(value) &&
      typeof current === "object" &&
      current !== null
        ? merge(current as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

function baseConfig(mirror: FakeHfMirror, autoApply: boolean): Record<string, unknown> {
  return {
    server: { port: 0, rateLimitPerMinute: 0 },
    log: { level: "info", file: false },
    models: { autoPull: true, huggingFaceEndpoint: mirror.endpoint, main: `hf:${hfFile}` },
    inference: { contextSize: 2048, sequences: 2, threads: 1 },
    proactive: { inServer: true },
    redteam: { enabled: false },
    repair: { autoApply, intervalMs: 500, windowMs: 6000, verifyMs: 3000, cooldownMs: 5000 },
  };
}

async function startServer(dataDir: string, configFile: string): Promise<Server> {
  const server = await startCliServer({
    dataDir,
    args: ["--config", configFile, "serve"],
    startTimeoutMs: 120_000,
  });
  return { ...server, dataDir, configFile };
}

async function chat(url: string, content: string, maxTokens = 8, signal?: AbortSignal): Promise<number> {
  try {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "sarai", messages: [{ role: "user", content }], max_tokens: maxTokens }),
      ...(signal === undefined ? {} : { signal }),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** Repeats `body` until the signal fires. */
async function repeat(signal: AbortSignal, pauseMs: number, body: () => Promise<unknown>): Promise<void> {
  while (!signal.aborted) {
    await body();
    await sleep(pauseMs);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rewrites leaves of the YAML config file (the server watches it and hot-reloads). */
async function editConfig(server: Server, patch: Record<string, unknown>): Promise<void> {
  const current = JSON.parse(await readFile(`${server.configFile}.json`, "utf8")) as Record<string, unknown>;
  const next = merge(current, patch);
  await writeFile(`${server.configFile}.json`, JSON.stringify(next));
  await writeFile(server.configFile, `${toYaml(next)}\n`);
}

const mib = 2 ** 20;

const scenarios: Scenario[] = [
  {
    name: "corrupt pulled model file",
    faults: ["corrupt_model"],
    config: () => ({}),
    async inject({ server }) {
      const modelsDir = path.join(server.dataDir, "models");
      const name = (await readdir(modelsDir)).find((entry) => entry.endsWith(".gguf"));
      if (name === undefined) throw new Error(`no downloaded model in ${modelsDir}`);
      const file = path.join(modelsDir, name);
      const bytes = await readFile(file);
      await writeFile(`${file}.tmp`, bytes.subarray(0, Math.floor(bytes.length / 2)));
      await rename(`${file}.tmp`, file);
    },
  },
  {
    name: "corrupt local model file (no download source)",
    faults: ["corrupt_model"],
    config: (models, _mirror, dataDir) => ({
      models: { main: path.join(dataDir, "local-main.gguf"), fallback: models.fallback },
    }),
    async setup({ models, dataDir }) {
      await copyFile(models.main, path.join(dataDir, "local-main.gguf"));
    },
    async inject({ server }) {
      const file = path.join(server.dataDir, "local-main.gguf");
      const bytes = await readFile(file);
      bytes.fill(0x5a, 0, 4);
      await writeFile(`${file}.tmp`, bytes);
      await rename(`${file}.tmp`, file);
    },
  },
  {
    name: "RAM budget under the RSS, hot-loaded",
    faults: ["ram_pressure", "model_load_failure"],
    config: () => ({}),
    inject: ({ server }) => editConfig(server, { inference: { ramBudgetMb: 16 } }),
    load: ({ server, signal }) => repeat(signal, 300, () => chat(server.url, "hola")),
  },
  {
    name: "context too small for the prompts",
    faults: ["context_overflow"],
    config: () => ({ inference: { contextSize: 512 } }),
    inject: () => Promise.resolve(),
    load: ({ server, signal }) => repeat(signal, 200, () => chat(server.url, "x".repeat(700))),
  },
  {
    name: "inference.contextSize 128, hot-loaded",
    faults: ["context_overflow"],
    config: () => ({}),
    inject: ({ server }) => editConfig(server, { inference: { contextSize: 128 } }),
    load: ({ server, signal }) => repeat(signal, 200, () => chat(server.url, "y".repeat(300))),
  },
  {
    name: "queue too short for a burst",
    faults: ["queue_saturation"],
    config: () => ({ inference: { sequences: 1 }, server: { maxQueue: 1 } }),
    inject: () => Promise.resolve(),
    load: ({ server, signal }) =>
      repeat(signal, 100, () => Promise.all([1, 2, 3, 4].map(() => chat(server.url, "cuéntame algo", 48)))),
  },
  {
    name: "server.maxQueue 0, hot-loaded",
    faults: ["queue_saturation"],
    config: () => ({ inference: { sequences: 1 } }),
    inject: ({ server }) => editConfig(server, { server: { maxQueue: 0 } }),
    load: ({ server, signal }) =>
      repeat(signal, 100, () => Promise.all([1, 2, 3].map(() => chat(server.url, "tell me more", 48)))),
  },
  {
    name: "request timeout shorter than a generation",
    faults: ["repeated_timeouts"],
    config: () => ({ server: { requestTimeoutMs: 1000 } }),
    inject: () => Promise.resolve(),
    // Long prompts keep each request busy for more than a second on one thread.
    load: ({ server, signal }) =>
      repeat(signal, 100, () => Promise.all([1, 2].map(() => chat(server.url, "z".repeat(1800), 256)))),
  },
  {
    name: "draft model that is never right",
    faults: ["low_speculative_acceptance"],
    config: (models) => ({
      models: { draft: models.badDraft },
      // SARAi's own per-request fallback would hide the waste; the detector judges the window instead.
      inference: { speculative: { acceptanceFloor: 0, fallbackAfter: 100 } },
    }),
    inject: () => Promise.resolve(),
    load: ({ server, signal }) => repeat(signal, 50, () => chat(server.url, "escribe una lista larga", 64)),
  },
  {
    name: "disk nearly full (disposable cache)",
    faults: ["disk_full"],
    config: (_models, _mirror, dataDir) => {
      const stats = statfsSync(dataDir);
      const freeMb = Math.floor((stats.bavail * stats.bsize) / mib);
      return { repair: { thresholds: { minFreeDiskMb: Math.max(1, freeMb - 150) } } };
    },
    async inject({ server }) {
      // Written beside the cache, then moved in at once: the disk fills in one step, as a finished download does.
      const staging = path.join(server.dataDir, "staging");
      await mkdir(staging, { recursive: true });
      const chunk = Buffer.alloc(16 * mib, 1);
      for (let i = 0; i < 20; i++) await writeFile(path.join(staging, `partial-${i}.bin`), chunk);
      await mkdir(path.join(server.dataDir, "cache"), { recursive: true });
      await rename(staging, path.join(server.dataDir, "cache", "downloads"));
    },
  },
  {
    name: "memory database locked by another process",
    faults: ["sqlite_locked"],
    config: () => ({ memory: { busyTimeoutMs: 50 } }),
    inject: ({ server, signal, background }) => {
      background.push(holdLocks(path.join(server.dataDir, "state", "sarai.db"), signal));
      return Promise.resolve();
    },
    load: ({ server, signal }) =>
      repeat(signal, 100, () =>
        chat(server.url, "Me llamo Ana y vivo en Sevilla. Mi hermana trabaja en Iberia."),
      ),
  },
  {
    name: "loop process killed",
    faults: ["loop_down"],
    config: () => ({ proactive: { inServer: false } }),
    async setup(context) {
      loopProcess = startLoop(context.dataDir, context.configFile);
      await sleep(3000);
    },
    inject: () => {
      loopProcess?.kill("SIGKILL");
      return Promise.resolve();
    },
  },
];

let loopProcess: ChildProcess | undefined;

function startLoop(dataDir: string, configFile: string): ChildProcess {
  const child = spawnCli(dataDir, ["--config", configFile, "loop"]);
  child.stdin.end();
  child.stdout.resume();
  child.stderr.resume();
  return child;
}

/** Another process that takes the write lock for 700 ms out of every 900 until the signal fires. */
async function holdLocks(file: string, signal: AbortSignal): Promise<void> {
  const script = `
    const Database = require(${JSON.stringify(path.join(root, "node_modules", "better-sqlite3"))});
    const db = new Database(${JSON.stringify(file)}, { timeout: 5000 });
    const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    for (;;) { db.exec("BEGIN IMMEDIATE"); sleep(700); db.exec("COMMIT"); sleep(200); }`;
  const child = spawn(process.execPath, ["-e", script], { stdio: "ignore" });
  await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  child.kill("SIGKILL");
}

function factIds(file: string): Set<number> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return new Set((db.prepare("SELECT id FROM facts").all() as { id: number }[]).map((row) => row.id));
  } finally {
    db.close();
  }
}

async function storeFacts(url: string): Promise<void> {
  const facts = [
    ["user", "name", "Lucía"],
    ["user", "lives_in", "Valencia"],
    ["user", "works_at", "Renfe"],
    ["Marta", "sister_of", "user"],
  ];
  for (const [subject, relation, object] of facts) {
    const response = await fetch(`${url}/v1/memory/facts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ subject, relation, object, user: "bench" }),
    });
    if (!response.ok) throw new Error(`storing a fact: ${response.status} ${await response.text()}`);
  }
}

interface Outcome {
  name: string;
  detected: boolean;
  repaired: boolean;
  level: string;
  action: string;
  repairMs: number | undefined;
  rollbacks: number;
  answersAfter: boolean;
  factsLost: number;
  /** Every record of the scenario, for --verbose. */
  records: RepairRecord[];
}

async function runScenario(
  scenario: Scenario,
  models: Models,
  mirror: FakeHfMirror,
  autoApply: boolean,
  timeoutMs: number,
): Promise<Outcome> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-bench-repair-"));
  const configFile = path.join(dataDir, "sarai.yaml");
  const config = merge(baseConfig(mirror, autoApply), scenario.config(models, mirror, dataDir));
  await writeFile(`${configFile}.json`, JSON.stringify(config));
  await writeFile(configFile, `${toYaml(config)}\n`);
  const controller = new AbortController();
  const background: Promise<unknown>[] = [];
  const historyFile = path.join(dataDir, "state", "repair", "repair.db");
  let server: Server | undefined;
  try {
    await scenario.setup?.({ models, signal: controller.signal, background, dataDir, configFile });
    server = await startServer(dataDir, configFile);
    const context: Context = { server, models, signal: controller.signal, background };
    await storeFacts(server.url);
    // The model files are hashed in the background at start; let that and a first pass finish.
    await sleep(1500);
    const before = factIds(path.join(dataDir, "state", "sarai.db"));
    const injectedAt = Date.now();
    await scenario.inject(context);
    if (scenario.load !== undefined) background.push(scenario.load(context));
    let records: RepairRecord[] = [];
    const deadline = injectedAt + timeoutMs;
    for (;;) {
      await sleep(250);
      const history = RepairHistory.open(historyFile);
      records = history.list({ since: injectedAt }).reverse();
      history.close();
      const relevant = records.filter((r) => scenario.faults.includes(r.fault));
      if (relevant.some((r) => r.result === "repaired") || Date.now() > deadline) break;
      if (!autoApply && relevant.length > 0 && Date.now() > injectedAt + 8000) break;
    }
    controller.abort();
    await Promise.allSettled(background);
    const relevant = records.filter((r) => scenario.faults.includes(r.fault));
    const repaired = relevant.find((r) => r.result === "repaired");
    const answersAfter = (await chat(server.url, "¿sigues ahí?", 4)) === 200;
    await server.stop();
    const after = factIds(path.join(dataDir, "state", "sarai.db"));
    return {
      name: scenario.name,
      detected: relevant.length > 0,
      repaired: repaired !== undefined,
      level: repaired === undefined ? "-" : String(repaired.level),
      action:
        repaired?.action ??
        (relevant[0] === undefined ? "-" : `${relevant[0].result}: ${relevant[0].action}`),
      repairMs: repaired === undefined ? undefined : repaired.finishedAt - injectedAt,
      rollbacks: records.filter((r) => r.rolledBack).length,
      answersAfter,
      factsLost: [...before].filter((id) => !after.has(id)).length,
      records,
    };
  } finally {
    controller.abort();
    loopProcess?.kill("SIGKILL");
    loopProcess = undefined;
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync(
    "git",
    ["-C", cwd, "-c", "user.name=bench", "-c", "user.email=bench@example.com", ...args],
    {
      encoding: "utf8",
    },
  );
}

interface PatchRow {
  patch: string;
  status: string;
  reason: string;
  durationMs: number;
  rollbackMs: number | undefined;
  configAfter: string;
}

/**
 * Level 2 against a running server whose config file lives in a git checkout (the install the patches apply to):
 * unsigned, signed by a stranger, failing its tests, passing its tests but leaving a config the server refuses
 * (rolled back), and a good one.
 */
async function runPatches(models: Models, mirror: FakeHfMirror): Promise<PatchRow[]> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-bench-patches-"));
  const install = path.join(dataDir, "install");
  await mkdir(install, { recursive: true });
  const configFile = path.join(install, "sarai.yaml");
  const keys = path.join(dataDir, "keys");
  await mkdir(keys, { recursive: true });
  const trusted = await generateSigningKey({ name: "bench admin" });
  const stranger = await generateSigningKey({ name: "stranger" });
  await writeFile(path.join(keys, "admin.asc"), trusted.privateKey, { mode: 0o600 });
  await writeFile(path.join(keys, "admin.pub.asc"), trusted.publicKey);
  await writeFile(path.join(keys, "stranger.asc"), stranger.privateKey, { mode: 0o600 });
  const config = merge(baseConfig(mirror, true), {
    models: { main: models.main },
    security: {
      signatures: { publicKey: path.join(keys, "admin.pub.asc"), privateKey: path.join(keys, "admin.asc") },
    },
    repair: {
      patches: {
        installDir: install,
        testCommand: ["node", "check.mjs"],
        testTimeoutMs: 60_000,
        healthWindowMs: 2000,
      },
    },
  });
  const yaml = `${toYaml(config)}\n`;
  await writeFile(configFile, yaml);
  await writeFile(
    path.join(install, "check.mjs"),
    `import { readFileSync } from "node:fs";\nprocess.exit(readFileSync("sarai.yaml", "utf8").includes("# tests fail") ? 1 : 0);\n`,
  );
  git(install, "init", "-q");
  git(install, "add", ".");
  git(install, "commit", "-qm", "install");
  let server: Server | undefined;
  const makePatch = async (
    name: string,
    edit: (text: string) => string,
    signer: "admin" | "stranger" | "none",
  ) => {
    await writeFile(configFile, edit(yaml));
    const diff = git(install, "diff");
    git(install, "checkout", "--", "sarai.yaml");
    const file = path.join(dataDir, `${name}.diff`);
    await writeFile(file, diff);
    if (signer !== "none") await signFile(file, await loadSigningKey(path.join(keys, `${signer}.asc`)));
    return { diff, signature: signer === "none" ? "" : await readFile(`${file}.asc`, "utf8") };
  };
  const cases: [string, (text: string) => string, "admin" | "stranger" | "none"][] = [
    ["unsigned", (t) => t.replace('level: "info"', 'level: "debug"'), "none"],
    ["signed by another key", (t) => t.replace('level: "info"', 'level: "debug"'), "stranger"],
    ["tests fail", (t) => `${t}# tests fail\n`, "admin"],
    ["config the server refuses", (t) => t.replace("contextSize: 2048", "contextSize: 10"), "admin"],
    ["good (log level debug)", (t) => t.replace('level: "info"', 'level: "debug"'), "admin"],
  ];
  const rows: PatchRow[] = [];
  try {
    server = await startServer(dataDir, configFile);
    for (const [name, edit, signer] of cases) {
      const patch = await makePatch(name.replace(/\W+/g, "-"), edit, signer);
      const response = await fetch(`${server.url}/v1/repair/patches`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(patch.signature === "" ? { diff: patch.diff, signature: "none" } : patch),
      });
      const outcome = (await response.json()) as {
        status?: string;
        reason?: string;
        duration_ms?: number;
        rollback_ms?: number;
      };
      const text = await readFile(configFile, "utf8");
      rows.push({
        patch: name,
        status: outcome.status ?? `refused (HTTP ${response.status})`,
        reason: (outcome.reason ?? JSON.stringify(outcome)).replace(/\s+/g, " ").slice(0, 60),
        durationMs: outcome.duration_ms ?? 0,
        rollbackMs: outcome.status === "rolled_back" ? outcome.rollback_ms : undefined,
        configAfter: text === yaml ? "unchanged" : text.includes('level: "debug"') ? "patched" : "other",
      });
    }
  } finally {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  return rows;
}

export default async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: "string" },
      "timeout-s": { type: "string", default: "60" },
      "no-baseline": { type: "boolean", default: false },
      verbose: { type: "boolean", default: false },
    },
  });
  const timeoutMs = Number(values["timeout-s"]) * 1000;
  const models = await generateModels();
  const mirror = await startFakeHfMirror(
    new Map([
      [`/${hfFile.split("/").slice(0, 2).join("/")}/resolve/main/${path.basename(hfFile)}`, models.main],
    ]),
  );
  const only = values.only?.split(",").map((s) => s.trim());
  const chosen = scenarios.filter((s) => only === undefined || only.some((o) => s.name.includes(o)));
  try {
    const repaired: Outcome[] = [];
    for (const scenario of chosen) {
      const outcome = await runScenario(scenario, models, mirror, true, timeoutMs);
      repaired.push(outcome);
      if (values.verbose)
        for (const r of outcome.records)
          console.log(`  ${r.fault} ${r.target} L${r.level} ${r.result}: ${r.action} — ${r.detail}`);
      console.log(
        `${outcome.name}: ${outcome.repaired ? `repaired in ${((outcome.repairMs ?? 0) / 1000).toFixed(1)} s` : outcome.detected ? "detected, not repaired" : "not detected"}`,
      );
    }
    console.log(
      `\n${formatTable(
        [
          "fault injected",
          "detected",
          "repaired",
          "level",
          "time to repair",
          "rollbacks",
          "answers after",
          "facts lost",
          "repair",
        ],
        repaired.map((o) => [
          o.name,
          o.detected ? "yes" : "no",
          o.repaired ? "yes" : "no",
          o.level,
          o.repairMs === undefined ? "-" : `${(o.repairMs / 1000).toFixed(1)} s`,
          String(o.rollbacks),
          o.answersAfter ? "yes" : "no",
          String(o.factsLost),
          o.action.slice(0, 70),
        ]),
      )}`,
    );
    const detected = repaired.filter((o) => o.detected).length;
    const fixed = repaired.filter((o) => o.repaired).length;
    const lost = repaired.reduce((sum, o) => sum + o.factsLost, 0);
    const times = repaired
      .flatMap((o) => (o.repairMs === undefined ? [] : [o.repairMs]))
      .sort((a, b) => a - b);
    console.log(
      `\nfaults injected ${repaired.length}, detected ${detected}, repaired automatically ${fixed} ` +
        `(${((100 * fixed) / Math.max(1, repaired.length)).toFixed(0)}%), rollbacks ${repaired.reduce((s, o) => s + o.rollbacks, 0)}, ` +
        `median time to repair ${times.length === 0 ? "-" : `${(times[Math.floor(times.length / 2)]! / 1000).toFixed(1)} s`}, ` +
        `facts lost ${lost}, server answering afterwards ${repaired.filter((o) => o.answersAfter).length}/${repaired.length}`,
    );
    if (!values["no-baseline"]) {
      const baseline: Outcome[] = [];
      for (const scenario of chosen)
        baseline.push(await runScenario(scenario, models, mirror, false, 20_000));
      const stillBroken = baseline.filter((o) => o.detected).length;
      console.log(
        `baseline (repair.autoApply: false, same faults): ${stillBroken}/${baseline.length} still faulty after the wait, ` +
          `0 repaired; repaired share with the repairer ${(fixed / Math.max(1, repaired.length)).toFixed(2)} vs 0.00`,
      );
    }
    const patches = await runPatches(models, mirror);
    console.log(
      `\nsigned patches (level 2):\n${formatTable(
        ["patch", "outcome", "time", "rollback", "config file after", "reason"],
        patches.map((p) => [
          p.patch,
          p.status,
          `${(p.durationMs / 1000).toFixed(1)} s`,
          p.rollbackMs === undefined ? "-" : `${Math.round(p.rollbackMs)} ms`,
          p.configAfter,
          p.reason,
        ]),
      )}`,
    );
  } finally {
    await mirror.close();
  }
}
