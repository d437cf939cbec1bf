/** How one adapter (or none) does on one evaluation set. */
export interface SetFigures {
  /** Mean NLL per answer token, nats. */
  nll: number;
  perplexity: number;
  /** Greedy answers equal to the reference (trimmed), out of `total`. */
  exact: number;
  total: number;
  /** Answer tokens whose most likely token (given the reference before it) is the reference's, out of `tokens`. */
  top1: number;
  tokens: number;
}

/** The figures the gate compares: the held-out slice of the feedback and the fixed regression set. */
export interface GateFigures {
  heldOut: SetFigures;
  regression: SetFigures;
}

export interface GateThresholds {
  /** The held-out NLL must fall by at least this fraction. Default 0.02. */
  minImprovement: number;
  /** The regression set's NLL may rise by at most this fraction. Default 0.10. */
  maxRegressionIncrease: number;
  /**
   * The regression set's token agreement (the share of reference tokens that stay the most likely) may fall by at
   * most this (0–1). Default 0.10. Whole-answer exact match is reported but not gated on the regression set: one
   * flipped token early in a long answer changes everything after it.
   */
  maxAgreementDrop: number;
}

export const defaultGateThresholds: Readonly<GateThresholds> = Object.freeze({
  minImprovement: 0.02,
  maxRegressionIncrease: 0.1,
  maxAgreementDrop: 0.1,
});

export interface GateVerdict {
  promote: boolean;
  /** Every check, passed or not, in words. */
  reasons: string[];
}

/**
 * Promotes the candidate only when it is better than the current adapter on the held-out feedback (lower NLL
 * and no fewer exact answers) and no regression exceeds its threshold. Regressions are measured from the bare
 * model's figures (`bare`, default the current ones), so adapter after adapter cannot drift away in small steps.
 */
export function decideGate(
  current: GateFigures,
  candidate: GateFigures,
  thresholds: GateThresholds = defaultGateThresholds,
  bare: SetFigures = current.regression,
): GateVerdict {
  const reasons: string[] = [];
  let promote = true;
  const check = (ok: boolean, text: string) => {
    reasons.push(`${ok ? "ok" : "failed"}: ${text}`);
    if (!ok) promote = false;
  };
  const wanted = current.heldOut.nll * (1 - thresholds.minImprovement);
  check(
    candidate.heldOut.nll <= wanted,
    `held-out NLL ${fixed(current.heldOut.nll)} → ${fixed(candidate.heldOut.nll)} (must be ≤ ${fixed(wanted)})`,
  );
  check(
    candidate.heldOut.exact >= current.heldOut.exact,
    `held-out exact match ${current.heldOut.exact}/${current.heldOut.total} → ` +
      `${candidate.heldOut.exact}/${candidate.heldOut.total} (must not fall)`,
  );
  const ceiling = bare.nll * (1 + thresholds.maxRegressionIncrease);
  check(
    candidate.regression.nll <= ceiling,
    `regression NLL ${fixed(bare.nll)} bare → ${fixed(candidate.regression.nll)} (must be ≤ ${fixed(ceiling)})`,
  );
  const agreement = (figures: SetFigures) => (figures.tokens === 0 ? 1 : figures.top1 / figures.tokens);
  const drop = agreement(bare) - agreement(candidate.regression);
  check(
    drop <= thresholds.maxAgreementDrop + 1e-9,
    `regression token agreement ${percent(agreement(bare))} bare → ` +
      `${percent(agreement(candidate.regression))} (may fall by ${percent(thresholds.maxAgreementDrop)} at most)`,
  );
  return { promote, reasons };
}

function percent(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

function fixed(value: number): string {
  return value.toFixed(3);
}
