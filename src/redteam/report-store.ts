import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { AttackCase } from "./campaign.js";
import { formatCase, renderReportHtml, type RedTeamReport } from "./report.js";

export interface RegressionCase extends AttackCase {
  family: string;
  /** When a campaign first found it (ISO). */
  foundAt: string;
  /** The last campaign's verdict on it. */
  lastVerdict: string;
}

/**
 * Reports (`reports/<id>.json` and `.html`) and the regression cases (`regressions.json`) in one folder, written
 * atomically (temp file + rename) so a crash never leaves half a file.
 */
export class ReportStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  get #reports(): string {
    return path.join(this.dir, "reports");
  }

  /** Saves the report as JSON and HTML; returns the paths. */
  save(report: RedTeamReport): { json: string; html: string } {
    mkdirSync(this.#reports, { recursive: true, mode: 0o700 });
    const json = path.join(this.#reports, `${report.campaign.id}.json`);
    const html = path.join(this.#reports, `${report.campaign.id}.html`);
    writeAtomic(json, `${JSON.stringify(report, null, 2)}\n`);
    writeAtomic(html, renderReportHtml(report));
    return { json, html };
  }

  /** The latest report (campaign ids sort by start time), or undefined when there is none. */
  latest(): RedTeamReport | undefined {
    const id = this.list().at(-1);
    return id === undefined ? undefined : this.get(id);
  }

  /** Campaign ids with a saved report, oldest first. */
  list(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.#reports);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    return names
      .filter((name) => /^[\w-]+\.json$/.test(name))
      .map((name) => name.slice(0, -".json".length))
      .sort();
  }

  get(id: string): RedTeamReport | undefined {
    if (!/^[\w-]+$/.test(id)) return undefined;
    try {
      return JSON.parse(readFileSync(path.join(this.#reports, `${id}.json`), "utf8")) as RedTeamReport;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new Error(`the red team report ${id}.json in ${this.#reports} cannot be read`, { cause: error });
    }
  }

  htmlPath(id: string): string {
    return path.join(this.#reports, `${id}.html`);
  }

  regressions(): RegressionCase[] {
    const file = path.join(this.dir, "regressions.json");
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as { cases?: RegressionCase[] };
      return Array.isArray(parsed.cases) ? parsed.cases : [];
    } catch (error) {
      throw new Error(`${file} is not valid JSON: fix or delete it`, { cause: error });
    }
  }

  /** Adds the report's failures as regression cases and records the verdict of every case it reran. */
  updateRegressions(report: RedTeamReport, verdicts: ReadonlyMap<string, string>): RegressionCase[] {
    const cases = new Map(this.regressions().map((known) => [formatCase(known), known]));
    for (const [key, known] of cases) {
      const verdict = verdicts.get(key);
      if (verdict !== undefined) cases.set(key, { ...known, lastVerdict: verdict });
    }
    // A model-written variant cannot be rerun from its id: the next campaign writes it anew.
    for (const failure of report.failures.filter((found) => !found.probeId.includes("~"))) {
      const key = formatCase(failure);
      if (!cases.has(key))
        cases.set(key, {
          probeId: failure.probeId,
          mutators: failure.mutators,
          seed: failure.seed,
          family: failure.family,
          foundAt: report.campaign.startedAt,
          lastVerdict: "success",
        });
    }
    const next = [...cases.values()];
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeAtomic(path.join(this.dir, "regressions.json"), `${JSON.stringify({ cases: next }, null, 2)}\n`);
    return next;
  }
}

function writeAtomic(file: string, text: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, text, { mode: 0o600 });
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
