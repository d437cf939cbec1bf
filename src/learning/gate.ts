/** How one adapter (or none) does on one evaluation set. */
export interface SetFigures {
  /** Mean NLL per answer token, nats. */
  nll: number;
  perplexity: number;
  /** Greedy answers equal to the reference (trimmed), out of `total`. */
  exact: number;
  total: number;
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
  /** The regression set's exact-match rate may fall by at most this (0–1). Default 0.10. */
  maxExactMatchDrop: number;
}

export const defaultGateThresholds: Readonly<GateThresholds> = Object.freeze({
  minImprovement: 0.02,
  maxRegressionIncrease: 0.1,
  maxExactMatchDrop: 0.1,
});

export interface GateVerdict {
  promote: boolean;
  /** Every check, passed or not, in words. */
  reasons: string[];
}

/**
 * Promotes the candidate only when it is better than the current adapter on the held-out feedback (lower NLL
 * and no fewer exact answers) and no regression exceeds its threshold.
 */
export function decideGate(
  current: GateFigures,
  candidate: GateFigures,
  thresholds: GateThresholds = defaultGateThresholds,
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
  const ceiling = current.regression.nll * (1 + thresholds.maxRegressionIncrease);
  check(
    candidate.regression.nll <= ceiling,
    `regression NLL ${fixed(current.regression.nll)} → ${fixed(candidate.regression.nll)} (must be ≤ ${fixed(ceiling)})`,
  );
  const rate = (figures: SetFigures) => (figures.total === 0 ? 1 : figures.exact / figures.total);
  const drop = rate(current.regression) - rate(candidate.regression);
  check(
    drop <= thresholds.maxExactMatchDrop + 1e-9,
    `regression exact match ${current.regression.exact}/${current.regression.total} → ` +
      `${candidate.regression.exact}/${candidate.regression.total} (may fall by ${Math.round(thresholds.maxExactMatchDrop * 100)}% at most)`,
  );
  return { promote, reasons };
}

function fixed(value: number): string {
  return value.toFixed(3);
}
