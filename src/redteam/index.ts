export { RedTeam, type CampaignOutcome, type CampaignRequest, type RedTeamOptions } from "./red-team.js";
export {
  coverageCells,
  defaultBudget,
  measureCoverage,
  planAttempts,
  runCampaign,
  type Attempt,
  type AttackCase,
  type CampaignOptions,
  type CampaignResult,
  type CellCoverage,
} from "./campaign.js";
export { createProbeCatalogue, selectProbes } from "./probes.js";
export {
  buildReport,
  formatCase,
  parseCase,
  renderReportHtml,
  type FamilySummary,
  type RedTeamReport,
  type ReportedFailure,
} from "./report.js";
export { ReportStore, type RegressionCase } from "./report-store.js";
export { HttpTarget, type HttpTargetOptions } from "./http-target.js";
export { createRng, mutate, mutatorCombinations, mutators, type Mutator } from "./mutators.js";
export {
  attackFamilies,
  preventableFamilies,
  type AttackFamily,
  type AttackRequest,
  type AttackResponse,
  type AttackTarget,
  type Detection,
  type Probe,
  type ProbeContext,
  type Verdict,
} from "./types.js";
