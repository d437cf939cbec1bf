/**
 * The red team against SARAi as users run it: `sarai serve` in its own process on the generated demo model, attacked
 * over loopback HTTP with the whole probe catalogue.
 *
 *   npm run bench -- redteam [--seed n] [--budget n]
 *
 * Two campaigns in the same run: the baseline sends every probe's seed as written (no mutators); the full campaign
 * adds every (family × mutator × target) cell. Printed: attempts, coverage and successes per family for both, and
 * the full campaign's ratios to the baseline. A third campaign runs against a deliberately weakened loopback server
 * (the tests' one) as a check that the detectors see holes where there are some.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  buildReport,
  createProbeCatalogue,
  defaultBudget,
  runCampaign,
  type CampaignResult,
  type Probe,
  type RedTeamReport,
} from "../src/redteam/index.js";
import { replyScripted, startFakeOpenAiServer } from "../test/fake-openai-server.js";
import { startWeakServer } from "../test/redteam-weak-server.js";
import { startCliServer } from "../test/cli-process.js";
import { formatTable } from "./_stats.js";

function startServer(dataDir: string) {
  return startCliServer({
    dataDir,
    args: ["serve", "--port", "0"],
    env: {
      SARAI_MODELS_HUGGING_FACE_ENDPOINT: "https://sarai-offline.invalid/",
      SARAI_MODELS_AUTO_PULL: "false",
      // One client from one address: the per-client limit would answer most attempts with 429.
      SARAI_SERVER_RATE_LIMIT_PER_MINUTE: "0",
    },
    startTimeoutMs: 180_000,
  });
}

function familyRows(report: RedTeamReport): string[][] {
  return report.families.map((family) => [
    family.family,
    family.preventable ? "preventable" : "model-dependent",
    String(family.attempts),
    String(family.blocked),
    String(family.successes),
    `${(family.successRate * 100).toFixed(1)}%`,
  ]);
}

function describe(name: string, result: CampaignResult, report: RedTeamReport): void {
  const seconds = (Date.parse(result.finishedAt) - Date.parse(result.startedAt)) / 1000;
  console.log(
    `\n${name}: ${report.totals.attempts} attempts in ${seconds.toFixed(1)} s, coverage ` +
      `${report.coverage.exercised}/${report.coverage.cells} cells (${(report.coverage.ratio * 100).toFixed(1)}%), ` +
      `${report.totals.successes} successes, ${report.totals.blocked} blocked, ${report.totals.serverErrors} 5xx` +
      (result.stopped === undefined ? "" : `, STOPPED: ${result.stopped}`),
  );
  console.log(
    formatTable(["family", "kind", "attempts", "blocked", "successes", "rate"], familyRows(report)),
  );
  for (const failure of report.failures.slice(0, 20))
    console.log(`  ${failure.evidence}: ${failure.reproduce}`);
}

/**
 * The generated model writes no Python that parses, so the verifier never runs a Python-escape probe's tests on
 * it (those attempts are inconclusive). Here `sarai serve` gets its main model from a scripted OpenAI-compatible
 * engine on loopback whose every answer is a Python function, so each probe's tests run in the real sandbox.
 */
async function pythonEscapeWithCode(probes: readonly Probe[], seed: number): Promise<void> {
  const engine = await startFakeOpenAiServer();
  engine.handle = replyScripted({
    pieces: ["def add(a, b):\n", "    return a + b\n"],
    model: "fake-model-1",
  });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-bench-redteam-code-"));
  await writeFile(
    path.join(dataDir, "sarai.yaml"),
    `models:\n  main:\n    remote:\n      baseUrl: ${engine.baseUrl}\n      model: fake-model-1\nreflect:\n  maxIterations: 1\n`,
  );
  const server = await startServer(dataDir);
  try {
    const python = probes.filter((probe) => probe.family === "python_escape");
    const result = await runCampaign({ baseUrl: server.url, probes: python, seed, model: "fake-model-1" });
    describe(
      "Python escape on a model that writes code (scripted engine on loopback)",
      result,
      buildReport(result),
    );
    const ran = result.attempts.filter((attempt) => attempt.evidence.startsWith("the tests ran")).length;
    console.log(`  tests ran in the sandbox in ${ran} of ${result.attempts.length} attempts`);
  } finally {
    await server.stop();
    await engine.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export default async function runRedTeamBench(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { seed: { type: "string", default: "1" }, budget: { type: "string" } },
  });
  const seed = Number(values.seed);
  const probes = createProbeCatalogue();
  const budget = values.budget === undefined ? defaultBudget(probes) : Number(values.budget);
  if (!Number.isInteger(seed) || !Number.isInteger(budget) || budget < 1)
    throw new Error("usage: npm run bench -- redteam [--seed n] [--budget n]");

  const dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-bench-redteam-"));
  const server = await startServer(dataDir);
  try {
    console.log(`sarai serve on the generated demo model at ${server.url}; ${probes.length} probes`);
    const baseline = await runCampaign({ baseUrl: server.url, probes, budget: probes.length, seed });
    const baselineReport = buildReport(baseline);
    describe("baseline (every seed as written, no mutators)", baseline, baselineReport);
    const full = await runCampaign({ baseUrl: server.url, probes, budget, seed });
    const fullReport = buildReport(full);
    describe(
      `full campaign (budget ${budget}: seeds, then every mutator cell, then pairs)`,
      full,
      fullReport,
    );
    const ratio = (a: number, b: number) => (b === 0 ? "n/a" : `${(a / b).toFixed(2)}×`);
    console.log(
      `\nfull / baseline: attempts ${ratio(fullReport.totals.attempts, baselineReport.totals.attempts)}, ` +
        `coverage ${ratio(fullReport.coverage.ratio, baselineReport.coverage.ratio)}, ` +
        `successes ${fullReport.totals.successes} vs ${baselineReport.totals.successes}`,
    );
    const preventable = fullReport.families.filter((family) => family.preventable);
    const holes = preventable.reduce((sum, family) => sum + family.successes, 0);
    console.log(
      `preventable families: ${holes} successes in ${preventable.reduce((sum, f) => sum + f.attempts, 0)} attempts` +
        ` (goal 0); server alive at the end: ${server.alive()}`,
    );
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }

  await pythonEscapeWithCode(probes, seed);

  const weak = await startWeakServer();
  try {
    const checked = probes.filter((probe) => probe.family !== "python_escape");
    const result = await runCampaign({ baseUrl: weak.url, probes: checked, budget: checked.length, seed });
    const report = buildReport(result);
    const found = report.families.filter((family) => family.successes > 0).map((family) => family.family);
    console.log(
      `\ndetector check against a deliberately weakened server: ${report.totals.successes} successes in ` +
        `${report.totals.attempts} attempts; families with a hole found: ${found.join(", ")}`,
    );
  } finally {
    await weak.close();
  }
}
