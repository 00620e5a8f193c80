/** "Best score so far against LLM calls spent": the curve users watch while a tuning sweep runs. */

/** What the curve needs of a run (a `Run` from the API fits). */
export interface CurveRun {
  id: string;
  status: string;
  weighted_score: number | null;
  completed_at?: string | null;
  llm_calls_paid?: number;
  origin?: string | null;
  rejected?: boolean;
}

export interface CurvePoint {
  runId: string;
  /** Paid LLM calls of every run finished up to and including this one (cache hits cost nothing). */
  calls: number;
  /** This run's weighted score (null: failed, cancelled or unscored). */
  score: number | null;
  /** The best weighted score of the runs finished so far (null until one scored). */
  best: number | null;
  /** This run raised the best. */
  improved: boolean;
  origin: string | null;
}

/** Statuses of runs that are over (and so may have spent calls); pending and running ones are not on the curve. */
const FINISHED = new Set(["completed", "cached", "failed", "pruned", "cancelled"]);
/** Statuses whose score counts for the best. */
const SCORED = new Set(["completed", "cached"]);

function finishedAt(run: CurveRun): number {
  const t = run.completed_at ? Date.parse(run.completed_at) : NaN;
  return Number.isFinite(t) ? t : Infinity;
}

/**
 * One point per finished run in completion order: x the cumulative paid LLM calls, y the best weighted
 * score so far. Failed runs add their calls without a score; rejected runs spend but never count as
 * the best (as on the leaderboard). Ties in completion time keep the id order, so the curve is stable.
 */
export function bestSoFar(runs: CurveRun[]): CurvePoint[] {
  const done = runs
    .filter((r) => FINISHED.has(r.status) && (r.completed_at || SCORED.has(r.status)))
    .map((r) => ({ run: r, at: finishedAt(r) }))
    .sort((a, b) => a.at - b.at || (a.run.id < b.run.id ? -1 : a.run.id > b.run.id ? 1 : 0));
  const out: CurvePoint[] = [];
  let calls = 0;
  let best: number | null = null;
  for (const { run } of done) {
    calls += Math.max(0, run.llm_calls_paid ?? 0);
    const score = SCORED.has(run.status) && typeof run.weighted_score === "number" && Number.isFinite(run.weighted_score) ? run.weighted_score : null;
    const improved = score !== null && !run.rejected && (best === null || score > best);
    if (improved) best = score;
    out.push({ runId: run.id, calls, score, best, improved, origin: run.origin ?? null });
  }
  return out;
}

/** The point where the best was last raised (null before any run scored). */
export function bestPoint(points: CurvePoint[]): CurvePoint | null {
  for (let i = points.length - 1; i >= 0; i--) if (points[i].improved) return points[i];
  return null;
}
