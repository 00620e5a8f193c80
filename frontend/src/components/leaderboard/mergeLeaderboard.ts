import type { LeaderboardEntry } from "../../api/client";
import type { LiveRun } from "../../lib/liveReducer";

export interface LeaderboardRow {
  rank: number;
  run_id: string;
  config: Record<string, unknown> | null;
  config_hash: string | null;
  weighted_score: number | null;
  scores: Record<string, number>;
  tokens_in: number;
  tokens_out: number;
  cost_estimate: number;
  duration_ms: number | null;
  status: string;
  /** Arrived over the live feed and not yet in the server's answer. */
  live: boolean;
}

/** The value a leaderboard is sorted by: `weighted_score` or a scorer's name. */
export function sortValue(row: { weighted_score: number | null; scores: Record<string, number> }, sort: string): number | null {
  const key = sort.replace(/^-/, "");
  if (key === "weighted_score") return row.weighted_score;
  const value = row.scores[key];
  return typeof value === "number" ? value : null;
}

/**
 * The server's leaderboard with runs that finished since it was fetched merged in (or updated), best
 * first by `sort`, cut to `limit`. The server stays the truth: it drops rejected runs, and its next
 * answer replaces the live rows.
 */
export function mergeLeaderboard(
  server: LeaderboardEntry[],
  live: LiveRun[],
  sort: string,
  limit: number,
): LeaderboardRow[] {
  const rows = new Map<string, LeaderboardRow>();
  for (const entry of server) {
    rows.set(entry.run_id, {
      rank: entry.rank,
      run_id: entry.run_id,
      config: entry.config ?? null,
      config_hash: entry.config_hash ?? null,
      weighted_score: entry.weighted_score ?? null,
      scores: entry.scores ?? {},
      tokens_in: entry.tokens_in,
      tokens_out: entry.tokens_out,
      cost_estimate: entry.cost_estimate,
      duration_ms: entry.duration_ms ?? null,
      status: entry.status,
      live: false,
    });
  }
  // Only runs that could enter the board: better than the server's worst when the board is full.
  const serverFull = server.length >= limit;
  const worst = serverFull ? Math.min(...server.map((e) => sortValue({ weighted_score: e.weighted_score ?? null, scores: e.scores ?? {} }, sort) ?? -Infinity)) : -Infinity;
  for (const run of live) {
    if (run.status !== "completed" && run.status !== "cached") continue;
    const value = sortValue(run, sort);
    if (value === null) continue;
    // A run the server already lists keeps the server's values (they include re-scores and ratings).
    if (rows.has(run.run_id) || value < worst) continue;
    rows.set(run.run_id, {
      rank: 0,
      run_id: run.run_id,
      config: run.config,
      config_hash: run.config_hash,
      weighted_score: run.weighted_score,
      scores: run.scores,
      tokens_in: run.tokens_in,
      tokens_out: run.tokens_out,
      cost_estimate: run.cost_estimate,
      duration_ms: run.duration_ms,
      status: run.status,
      live: true,
    });
  }
  const sorted = Array.from(rows.values()).sort((a, b) => {
    const va = sortValue(a, sort);
    const vb = sortValue(b, sort);
    if (va === vb) return (a.rank || Infinity) - (b.rank || Infinity);
    if (va === null) return 1;
    if (vb === null) return -1;
    return vb - va;
  });
  return sorted.slice(0, limit).map((row, i) => ({ ...row, rank: i + 1 }));
}
