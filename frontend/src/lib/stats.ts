// Showing the server's statistics: intervals, ties with the best and judge calibration. The numbers
// are computed on the server (scipy); this file only decides how they read.

export interface Interval {
  ci_low?: number | null;
  ci_high?: number | null;
}

/** "± 0.012" (half the 95% interval's width), or "" when there is no interval (fewer than 2 samples). */
export function formatHalfWidth({ ci_low, ci_high }: Interval): string {
  if (ci_low == null || ci_high == null) return "";
  return `± ${((ci_high - ci_low) / 2).toFixed(3)}`;
}

/** "[0.450, 0.607]", or "—" without an interval. */
export function formatInterval({ ci_low, ci_high }: Interval, signed = false): string {
  if (ci_low == null || ci_high == null) return "—";
  const f = (v: number) => (signed && v > 0 ? "+" : "") + v.toFixed(3);
  return `[${f(ci_low)}, ${f(ci_high)}]`;
}

/** A p-value for people: "p < 0.001" or "p = 0.042". */
export function formatP(p: number | null | undefined): string {
  if (p == null) return "—";
  return p < 0.001 ? "p < 0.001" : `p = ${Number(p.toPrecision(2))}`;
}

export type VersusBest = { kind: "best" | "tied" | "worse" | "unknown"; label: string; title: string };

/** How a leaderboard row stands against the leader (rank 1 when ranked by weighted score). */
export function versusBest(row: { rank: number; p_value?: number | null; p_adjusted?: number | null; tied_with_best?: boolean | null }): VersusBest {
  if (row.tied_with_best === true && row.p_value == null) {
    return { kind: "best", label: "best", title: "The leader: every other row is tested against it" };
  }
  if (row.tied_with_best === true) {
    return {
      kind: "tied",
      label: "tied",
      title: `Not significantly different from the best (Wilcoxon, Holm-corrected ${formatP(row.p_adjusted)}): the gap may be noise`,
    };
  }
  if (row.tied_with_best === false) {
    return { kind: "worse", label: formatP(row.p_adjusted), title: `Significantly different from the best (Wilcoxon, Holm-corrected ${formatP(row.p_adjusted)})` };
  }
  return { kind: "unknown", label: "—", title: "Not testable: fewer than 2 samples in common with the best" };
}

/** One sentence on a run against the leading configuration (run detail). */
export function versusBestSentence(run: Interval & { p_value?: number | null; tied_with_best?: boolean | null }, samples: number): string {
  const interval = run.ci_low == null ? `no interval (${samples} sample${samples === 1 ? "" : "s"})` : `95% interval ${formatInterval(run)} over ${samples} samples`;
  if (run.tied_with_best === true && run.p_value == null) return `${interval}; a run of the leading configuration.`;
  if (run.tied_with_best === true) return `${interval}; tied with the best (${formatP(run.p_value)}, not significant).`;
  if (run.tied_with_best === false) return `${interval}; significantly below the best (${formatP(run.p_value)}).`;
  return `${interval}; not tested against the best.`;
}

export interface PairedDifference {
  samples: number;
  diff?: number | null;
  ci_low?: number | null;
  ci_high?: number | null;
  p_value?: number | null;
  significant: boolean;
}

/** B - A in words: the mean difference, its interval and whether it is significant. */
export function pairedSentence(d: PairedDifference): string {
  if (d.samples === 0 || d.diff == null) return "No samples in common: no paired difference.";
  const diff = `${d.diff > 0 ? "+" : ""}${d.diff.toFixed(3)}`;
  const interval = d.ci_low == null ? "" : ` ${formatInterval(d, true)}`;
  const test = d.p_value == null ? "too few samples to test" : `${formatP(d.p_value)}, ${d.significant ? "significant" : "not significant: may be noise"}`;
  return `B − A = ${diff}${interval} over ${d.samples} samples (${test}).`;
}

export interface JudgeCalibration {
  name: string;
  pairs: number;
  kappa?: number | null;
  bias?: number | null;
  warning: boolean;
}

/** A sentence on a judge's calibration: the warning when it disagrees with people, else how it reads. */
export function judgeVerdict(judge: JudgeCalibration): string {
  if (judge.pairs === 0) return "No paired ratings yet: rate some outputs to calibrate this judge.";
  const kappa = judge.kappa == null ? "undefined" : judge.kappa.toFixed(2);
  const bias =
    judge.bias == null
      ? ""
      : Math.abs(judge.bias) < 0.005
        ? "; on average it scores as people do"
        : `; it scores ${Math.abs(judge.bias).toFixed(2)} ${judge.bias > 0 ? "higher" : "lower"} than people on average`;
  if (judge.warning) return `This judge disagrees with people (weighted kappa ${kappa} over ${judge.pairs} pairs)${bias}. Do not trust its scores alone.`;
  if (judge.pairs < 10) return `Weighted kappa ${kappa} over ${judge.pairs} pairs: too few to judge (10 needed)${bias}.`;
  return `Weighted kappa ${kappa} over ${judge.pairs} pairs${bias}.`;
}
