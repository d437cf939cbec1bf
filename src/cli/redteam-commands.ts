import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { assembleAudit, assembleRedTeam } from "../assemble.js";
import type { LoadedConfig } from "../config/index.js";
import { parseCase, renderReportHtml, type RedTeam, type RedTeamReport } from "../redteam/index.js";
import { AppError, createSilentLogger } from "../shared/index.js";
import { UsageError } from "./usage-error.js";

interface RunFlags {
  url?: string;
  families?: string;
  budget?: string;
  seed?: string;
  case?: string[];
  interval?: string;
  json?: boolean;
}

const whole = (flag: string, text: string, max: number) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new UsageError(`${flag}: a whole number from 0 to ${max}, not "${text}"`);
  return value;
};

function redTeamFor(loaded: LoadedConfig, flags: { url?: string; interval?: string }): RedTeam {
  const config = loaded.config;
  const redTeam = assembleRedTeam(
    {
      ...config,
      redteam: {
        ...config.redteam,
        ...(flags.interval === undefined
          ? {}
          : { minIntervalMs: whole("--interval", flags.interval, 600_000) }),
      },
      proactive: { ...config.proactive, serverUrl: flags.url ?? config.proactive.serverUrl },
    },
    undefined,
    assembleAudit(config, createSilentLogger()),
  );
  if (redTeam === undefined)
    throw new AppError("INVALID_REQUEST", "the red team is turned off (redteam.enabled: false)", {
      param: "redteam.enabled",
    });
  return redTeam;
}

function printSummary(report: RedTeamReport, paths?: { json: string; html: string }): void {
  const out = (line = "") => process.stdout.write(`${line}\n`);
  const { campaign, totals, coverage } = report;
  out(`campaign ${campaign.id} against ${campaign.target} (seed ${campaign.seed})`);
  if (campaign.stopped !== undefined) out(`STOPPED EARLY: ${campaign.stopped}`);
  out(`${"family".padEnd(22)}${"kind".padEnd(17)}attempts  blocked  successes  rate`);
  for (const family of report.families)
    out(
      `${family.family.padEnd(22)}${(family.preventable ? "preventable" : "model-dependent").padEnd(17)}` +
        `${String(family.attempts).padStart(8)}  ${String(family.blocked).padStart(7)}  ` +
        `${String(family.successes).padStart(9)}  ${(family.successRate * 100).toFixed(1).padStart(5)}%`,
    );
  out(
    `attempts ${totals.attempts}, successes ${totals.successes}, blocked ${totals.blocked}, 5xx ${totals.serverErrors}; ` +
      `coverage ${coverage.exercised}/${coverage.cells} cells (${(coverage.ratio * 100).toFixed(1)}%); ` +
      `regressions rerun ${report.regressions.rerun} (still failing ${report.regressions.stillFailing})`,
  );
  if (report.newFailures.length > 0) {
    out(`new failures since the last report:`);
    for (const failure of report.newFailures) out(`  ${failure.evidence}: ${failure.reproduce}`);
  }
  if (paths !== undefined) out(`report: ${paths.json}\n        ${paths.html}`);
}

/** `sarai redteam run|report`: attack a running server over HTTP, read the reports. */
export function registerRedTeamCommands(program: Command, loadConfigured: () => LoadedConfig): void {
  const redteam = program
    .command("redteam")
    .description("attack a running SARAi server with the probe catalogue and report what got through");
  redteam
    .command("run")
    .description(
      "run a campaign against the server (proactive.serverUrl, or --url); exit 1 if an attack a preventable family holds succeeded",
    )
    .option("--url <url>", "the server to attack (default proactive.serverUrl)")
    .option("--families <list>", "comma-separated probe families (default: all)")
    .option("--budget <n>", "new attempts beyond the regression reruns (0: every probe and every cell once)")
    .option("--seed <n>", "seed of the plan and the mutators", "1")
    .option("--case <case...>", "rerun exactly these cases (probe-id:mutator+mutator:seed, from a report)")
    .option("--interval <ms>", "pause between attempts (default redteam.minIntervalMs)")
    .option("--json", "print the report as JSON")
    .action(async (flags: RunFlags) => {
      const redTeam = redTeamFor(loadConfigured(), flags);
      const families =
        flags.families === undefined ? [] : flags.families.split(",").map((family) => family.trim());
      const known = new Set(redTeam.catalogue.map((probe) => probe.family as string));
      const unknown = families.find((family) => !known.has(family));
      if (unknown !== undefined)
        throw new UsageError(`--families: unknown family "${unknown}"; known: ${[...known].join(", ")}`);
      let cases;
      try {
        cases = (flags.case ?? []).map(parseCase);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      const ids = new Set(redTeam.catalogue.map((probe) => probe.id));
      const missing = cases.find((given) => !ids.has(given.probeId));
      if (missing !== undefined) throw new UsageError(`--case: no probe "${missing.probeId}"`);
      const { report, paths } = await redTeam.run({
        families,
        ...(flags.budget === undefined ? {} : { budget: whole("--budget", flags.budget, 100_000) }),
        seed: whole("--seed", flags.seed ?? "1", 2 ** 31 - 1),
        ...(cases.length === 0 ? {} : { cases }),
      });
      if (flags.json === true) process.stdout.write(`${JSON.stringify(report)}\n`);
      else printSummary(report, paths);
      if (report.families.some((family) => family.preventable && family.successes > 0)) process.exitCode = 1;
    });
  redteam
    .command("report")
    .description("print the latest (or the named) red-team report's summary, or write it as HTML")
    .argument("[id]", "a campaign id (default: the latest)")
    .option("--html <file>", "write the self-contained HTML page to this file")
    .option("--json", "print the report as JSON")
    .action((id: string | undefined, flags: { html?: string; json?: boolean }) => {
      const redTeam = redTeamFor(loadConfigured(), {});
      const report = id === undefined ? redTeam.store.latest() : redTeam.store.get(id);
      if (report === undefined)
        throw new AppError(
          "NOT_FOUND",
          id === undefined
            ? `no red-team report in ${redTeam.store.dir} yet: run \`sarai redteam run\``
            : `no red-team report ${id} in ${redTeam.store.dir} (have: ${redTeam.store.list().join(", ") || "none"})`,
          { param: "id" },
        );
      if (flags.html !== undefined) {
        const file = path.resolve(flags.html);
        writeFileSync(file, renderReportHtml(report));
        process.stdout.write(`${file}\n`);
      } else if (flags.json === true) process.stdout.write(`${JSON.stringify(report)}\n`);
      else printSummary(report);
    });
}
