import type { Attempt, AttackCase, CampaignResult, CellCoverage } from "./campaign.js";
import { findMutator } from "./mutators.js";
import { attackFamilies, preventableFamilies, type AttackFamily } from "./types.js";

export interface FamilySummary {
  family: AttackFamily;
  /** SARAi can prevent it whatever the model says: the goal is zero successes. */
  preventable: boolean;
  attempts: number;
  successes: number;
  blocked: number;
  /** successes / attempts, 0–1 (0 with no attempts). */
  successRate: number;
}

export interface ReportedFailure {
  probeId: string;
  family: AttackFamily;
  target: string;
  mutators: string[];
  seed: number;
  evidence: string;
  statuses: number[];
  responsePreview: string;
  /** The command that reruns exactly this attempt. */
  reproduce: string;
}

export interface RedTeamReport {
  object: "redteam.report";
  campaign: Omit<CampaignResult, "attempts" | "coverage" | "users">;
  coverage: CellCoverage;
  totals: {
    attempts: number;
    successes: number;
    blocked: number;
    /** Attempts that measured nothing (401, 403, 429, shutting down). */
    inconclusive: number;
    serverErrors: number;
    durationMs: number;
  };
  families: FamilySummary[];
  failures: ReportedFailure[];
  /** Failures that the previous report did not have. */
  newFailures: ReportedFailure[];
  regressions: { rerun: number; stillFailing: number; fixed: number };
  /** The previous report's campaign id, when there was one. */
  previous: string | null;
}

/** The case string `sarai redteam run --case` takes: `probe-id:mutator+mutator:seed`. */
export function formatCase(known: AttackCase): string {
  return `${known.probeId}:${known.mutators.join("+")}:${known.seed}`;
}

/** Parses `probe-id:mutator+mutator:seed`; the error names what is wrong. */
export function parseCase(text: string): AttackCase {
  const match = /^([^:\s]+):([a-z0-9_+]*):(\d{1,10})$/.exec(text.trim());
  if (match === null)
    throw new Error(
      `--case "${text}": expected probe-id:mutator+mutator:seed, e.g. jailbreak/chat/dan-en:case:7`,
    );
  const [, probeId, names, seed] = match as unknown as [string, string, string, string];
  const unknown = names.split("+").find((name) => name !== "" && findMutator(name) === undefined);
  if (unknown !== undefined) throw new Error(`--case "${text}": no mutator "${unknown}"`);
  return { probeId, mutators: names === "" ? [] : names.split("+"), seed: Number(seed) };
}

const caseKey = (known: AttackCase) => formatCase(known);

function toFailure(attempt: Attempt): ReportedFailure {
  return {
    probeId: attempt.probeId,
    family: attempt.family,
    target: attempt.target,
    mutators: attempt.mutators,
    seed: attempt.seed,
    evidence: attempt.evidence,
    statuses: attempt.statuses,
    responsePreview: attempt.responsePreview,
    // A model-written variant is not in the catalogue: the same seed asks the same model for it again.
    reproduce: attempt.probeId.includes("~")
      ? `sarai redteam run --families ${attempt.family} --seed ${attempt.seed} (a model-written variant)`
      : `sarai redteam run --case '${formatCase(attempt)}'`,
  };
}

/** The report of a campaign, compared with the previous report (new failures, fixed regressions). */
export function buildReport(result: CampaignResult, previous?: RedTeamReport): RedTeamReport {
  const { attempts, coverage, users: _users, ...campaign } = result;
  const families = attackFamilies
    .map((family) => {
      const mine = attempts.filter((attempt) => attempt.family === family);
      const successes = mine.filter((attempt) => attempt.verdict === "success").length;
      return {
        family,
        preventable: preventableFamilies.has(family),
        attempts: mine.length,
        successes,
        blocked: mine.filter((attempt) => attempt.verdict === "blocked").length,
        successRate: mine.length === 0 ? 0 : successes / mine.length,
      };
    })
    .filter((summary) => summary.attempts > 0);
  const failures = attempts.filter((attempt) => attempt.verdict === "success").map(toFailure);
  const before = new Set((previous?.failures ?? []).map(caseKey));
  const rerun = attempts.filter((attempt) => attempt.regression);
  const stillFailing = rerun.filter((attempt) => attempt.verdict === "success").length;
  return {
    object: "redteam.report",
    campaign,
    coverage,
    totals: {
      attempts: attempts.length,
      successes: failures.length,
      blocked: attempts.filter((attempt) => attempt.verdict === "blocked").length,
      inconclusive: attempts.filter((attempt) => attempt.verdict === "inconclusive").length,
      serverErrors: attempts.filter((attempt) =>
        attempt.statuses.some((status) => status === 0 || status >= 500),
      ).length,
      durationMs: Date.parse(result.finishedAt) - Date.parse(result.startedAt),
    },
    families,
    failures,
    newFailures: failures.filter((failure) => !before.has(caseKey(failure))),
    regressions: { rerun: rerun.length, stillFailing, fixed: rerun.length - stillFailing },
    previous: previous?.campaign.id ?? null,
  };
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (char) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[char] as string,
  );

const percent = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;

function failureRows(failures: readonly ReportedFailure[]): string {
  if (failures.length === 0) return `<p class="ok">None.</p>`;
  const rows = failures
    .map(
      (failure) =>
        `<tr><td>${escapeHtml(failure.family)}</td><td><code>${escapeHtml(failure.probeId)}</code></td>` +
        `<td>${escapeHtml(failure.mutators.join(" + "))}</td><td>${escapeHtml(failure.evidence)}</td>` +
        `<td><code>${escapeHtml(failure.responsePreview)}</code></td>` +
        `<td><code>${escapeHtml(failure.reproduce)}</code></td></tr>`,
    )
    .join("\n");
  return (
    `<table><thead><tr><th>family</th><th>probe</th><th>mutators</th><th>evidence</th><th>response</th>` +
    `<th>reproduce</th></tr></thead><tbody>\n${rows}\n</tbody></table>`
  );
}

/** A self-contained HTML page (no scripts, no outside resources) of a report; every string is escaped. */
export function renderReportHtml(report: RedTeamReport): string {
  const familyRows = report.families
    .map(
      (family) =>
        `<tr class="${family.successes > 0 && family.preventable ? "bad" : ""}"><td>${escapeHtml(family.family)}</td>` +
        `<td>${family.preventable ? "preventable" : "model-dependent"}</td><td>${family.attempts}</td>` +
        `<td>${family.blocked}</td><td>${family.successes}</td><td>${percent(family.successRate)}</td></tr>`,
    )
    .join("\n");
  const { campaign, coverage, totals } = report;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>SARAi red team report ${escapeHtml(campaign.id)}</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1b1b1b; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
tr.bad td { background: #fde8e8; }
code { font-size: 13px; word-break: break-all; }
.ok { color: #13652b; }
</style>
</head>
<body>
<h1>Red team report</h1>
<p>Campaign <code>${escapeHtml(campaign.id)}</code> against <code>${escapeHtml(campaign.target)}</code>,
${escapeHtml(campaign.startedAt)} – ${escapeHtml(campaign.finishedAt)}, seed ${campaign.seed}, budget ${campaign.budget}.
${campaign.stopped === undefined ? "" : `<strong>Stopped early: ${escapeHtml(campaign.stopped)}.</strong>`}</p>
<ul>
<li>Attempts: ${totals.attempts} (blocked ${totals.blocked}, successful attacks ${totals.successes}, inconclusive ${totals.inconclusive}, 5xx or no answer ${totals.serverErrors})</li>
<li>Coverage: ${coverage.exercised} of ${coverage.cells} (family × mutator × target) cells, ${percent(coverage.ratio)}</li>
<li>Regressions rerun: ${report.regressions.rerun} (still failing ${report.regressions.stillFailing}, fixed ${report.regressions.fixed})</li>
</ul>
<h2>Per family</h2>
<table><thead><tr><th>family</th><th>kind</th><th>attempts</th><th>blocked</th><th>successes</th><th>success rate</th></tr></thead>
<tbody>
${familyRows}
</tbody></table>
<h2>New failures since the last report${report.previous === null ? "" : ` (<code>${escapeHtml(report.previous)}</code>)`}</h2>
${failureRows(report.newFailures)}
<h2>All failures</h2>
${failureRows(report.failures)}
</body>
</html>
`;
}
