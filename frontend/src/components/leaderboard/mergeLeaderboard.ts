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
  /** Who proposed the row's run (grid, random, sampler, agent, redirect, user; null: not known). */
  origin: string | null;
  /** Runs of this configuration in the experiment (the row shows its best). */
  runs: number;
  /** Paid and saved by the cache over those runs (null: not known yet). */
  cost_spent: number | null;
  cost_saved: number | null;
  /** Arrived over the live feed and not yet in the server's answer. */
  live: boolean;
}

/** JSON with sorted keys: the same configuration gives the same text whatever its key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

type Identified = { config: Record<string, unknown> | null; config_hash: string | null; run_id: string };

/** The ways a row names its configuration: its hash and its config (key order aside). */
function identities(row: Identified): string[] {
  const out: string[] = [];
  if (row.config_hash) out.push(`h:${row.config_hash}`);
  if (row.config) out.push(`c:${canonical(row.config)}`);
  return out.length ? out : [`r:${row.run_id}`];
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
  // The server answers one row per configuration; live runs join only as configurations it lacks.
  const rows = new Map<string, LeaderboardRow>();
  const serverRuns = new Set(server.map((entry) => entry.run_id));
  const known = new Map<string, string>(); // identity -> row key
  for (const entry of server) {
    const row: LeaderboardRow = {
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
      origin: entry.origin ?? null,
      runs: entry.runs ?? 1,
      cost_spent: entry.cost_spent ?? null,
      cost_saved: entry.cost_saved ?? null,
      live: false,
    };
    rows.set(`s:${entry.run_id}`, row);
    for (const id of identities(row)) if (!known.has(id)) known.set(id, `s:${entry.run_id}`);
  }
  // Only runs that could enter the board: better than the server's worst when the board is full.
  const serverFull = server.length >= limit;
  const worst = serverFull ? Math.min(...server.map((e) => sortValue({ weighted_score: e.weighted_score ?? null, scores: e.scores ?? {} }, sort) ?? -Infinity)) : -Infinity;
  for (const run of live) {
    if (run.status !== "completed" && run.status !== "cached") continue;
    const value = sortValue(run, sort);
    if (value === null) continue;
    // A run the server already lists keeps the server's values (they include re-scores and ratings),
    // and so does its configuration: another run of it (e.g. its cached twin) is not a new row.
    if (serverRuns.has(run.run_id) || value < worst) continue;
    const ids = identities(run);
    const existingKey = ids.map((id) => known.get(id)).find((k) => k !== undefined);
    const existing = existingKey ? rows.get(existingKey) : undefined;
    if (existing && (!existing.live || (sortValue(existing, sort) ?? -Infinity) >= value)) continue;
    const key = existingKey ?? `l:${run.run_id}`;
    for (const id of ids) known.set(id, key);
    rows.set(key, {
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
      origin: run.origin,
      runs: 1,
      cost_spent: null,
      cost_saved: null,
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
