import { useMemo, useState } from "react";
import { Link, useNavigate } from "react-router-dom";

import { useLeaderboard } from "../../api/queries/leaderboard";
import { formatCost, formatDurationMs, formatScore, formatTokens, shortId } from "../../lib/format";
import { useSweepScope } from "../../lib/sweepScope";
import { useValueLabel } from "../../lib/variants";
import type { LiveRun } from "../../lib/liveReducer";
import { configValue, keyLabel } from "../runs/configValue";
import { Button, Card, CardHeader, cn, EmptyState, ErrorMessage, OriginBadge, Select, Skeleton } from "../ui";
import { mergeLeaderboard, type LeaderboardRow } from "./mergeLeaderboard";

const ROW_HEIGHT = 40;
const LIMITS = [10, 25, 50];

export interface LeaderboardProps {
  experimentId: string;
  sweptKeys: string[];
  scorerNames: string[];
  /** Runs finished over the live feed since the board was fetched. */
  liveRuns?: LiveRun[];
  /** Rows to reserve while a sweep runs, so the page does not jump as rows arrive. */
  expectedRows?: number;
  emptyHint?: string;
}

/** The best runs, ranked by weighted score or any scorer, updated live as runs finish. */
export function Leaderboard({ experimentId, sweptKeys, scorerNames, liveRuns = [], expectedRows = 0, emptyHint }: LeaderboardProps) {
  const [sort, setSort] = useState("weighted_score");
  const [limit, setLimit] = useState(10);
  const sweepId = useSweepScope();
  const query = useLeaderboard(experimentId, sweepId ? { limit, sort, sweep_id: sweepId } : { limit, sort });
  const navigate = useNavigate();
  const rows = useMemo(
    () => mergeLeaderboard(query.data?.items ?? [], liveRuns, sort, limit),
    [query.data, liveRuns, sort, limit],
  );
  const reserve = Math.min(limit, Math.max(expectedRows, rows.length));

  return (
    <Card data-testid="leaderboard">
      <CardHeader
        title="Leaderboard"
        description="One row per configuration, shown by its best run; rejected configurations are left out."
        actions={
          <>
            <label className="flex items-center gap-2 whitespace-nowrap text-sm text-muted">
              Rank by
              <Select value={sort} onChange={(e) => setSort(e.target.value)} className="h-8 w-auto" data-testid="leaderboard-sort">
                <option value="weighted_score">Weighted score</option>
                {scorerNames.map((name) => (
                  <option key={name} value={name}>
                    {name}
                  </option>
                ))}
              </Select>
            </label>
            <label className="flex items-center gap-2 whitespace-nowrap text-sm text-muted">
              Show
              <Select value={limit} onChange={(e) => setLimit(Number(e.target.value))} className="h-8 w-auto">
                {LIMITS.map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </Select>
            </label>
            <Button
              size="sm"
              variant="secondary"
              disabled={rows.length < 2}
              data-testid="compare-top-two"
              onClick={() => navigate(`/compare?a=${rows[0]!.run_id}&b=${rows[1]!.run_id}`)}
            >
              Compare top two
            </Button>
          </>
        }
      />
      {query.isError && <ErrorMessage error={query.error} className="m-4" onRetry={() => void query.refetch()} />}
      {query.isPending ? (
        <div className="space-y-2 p-4" aria-busy="true">
          {Array.from({ length: 3 }, (_, i) => (
            <Skeleton key={i} className="h-7" />
          ))}
        </div>
      ) : rows.length === 0 && !query.isError ? (
        <EmptyState
          className="m-4"
          title="No scored runs yet"
          description={emptyHint ?? "Start a sweep: runs appear here, best first, as soon as they are scored."}
        />
      ) : (
        <LeaderboardTable rows={rows} sort={sort} sweptKeys={sweptKeys} scorerNames={scorerNames} reserveRows={reserve} />
      )}
    </Card>
  );
}

export function LeaderboardTable({
  rows,
  sort,
  sweptKeys,
  scorerNames,
  reserveRows = 0,
}: {
  rows: LeaderboardRow[];
  sort: string;
  sweptKeys: string[];
  scorerNames: string[];
  reserveRows?: number;
}) {
  const label = useValueLabel();
  const navigate = useNavigate();
  return (
    <div className="overflow-x-auto" style={{ minHeight: reserveRows ? (reserveRows + 1) * ROW_HEIGHT : undefined }}>
      <table className="w-full table-fixed border-collapse text-sm" aria-label="Leaderboard">
        <colgroup>
          <col className="w-12" />
          <col className="w-24" />
          {scorerNames.map((name) => (
            <col key={name} className="w-24" />
          ))}
          {sweptKeys.map((key) => (
            <col key={key} className="w-36" />
          ))}
          <col className="w-24" />
          <col className="w-24" />
          <col className="w-16" />
          <col className="w-24" />
          <col className="w-40" />
        </colgroup>
        <thead>
          <tr className="border-b border-line text-left text-xs uppercase tracking-wide text-muted" style={{ height: ROW_HEIGHT }}>
            <th scope="col" className="px-3 font-medium">#</th>
            <th scope="col" className={cn("px-3 text-right font-medium", sort === "weighted_score" && "text-fg")}>
              Score
            </th>
            {scorerNames.map((name) => (
              <th key={name} scope="col" className={cn("truncate px-3 text-right font-medium", sort === name && "text-fg")} title={name}>
                {name}
              </th>
            ))}
            {sweptKeys.map((key) => (
              <th key={key} scope="col" className="truncate px-3 font-medium" title={key}>
                {keyLabel(key)}
              </th>
            ))}
            <th scope="col" className="px-3 text-right font-medium">Tokens</th>
            <th scope="col" className="px-3 text-right font-medium" title="What one run's answers cost (cache hits included), so configurations compare">Cost</th>
            <th scope="col" className="px-3 text-right font-medium" title="Runs of this configuration in the experiment">Runs</th>
            <th scope="col" className="px-3 text-right font-medium">Time</th>
            <th scope="col" className="px-3 font-medium">
              <span className="sr-only">Details</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr
              key={row.run_id}
              data-testid="leaderboard-row"
              data-run-id={row.run_id}
              className={cn("cursor-pointer border-b border-line/60 last:border-0 hover:bg-raised/60", row.live && "bg-accent/5")}
              style={{ height: ROW_HEIGHT }}
              // The whole row opens the run (the run id link stays the keyboard and middle-click way in).
              onClick={(event) => {
                if ((event.target as HTMLElement).closest("a, button, input")) return;
                navigate(`/runs/${row.run_id}`);
              }}
            >
              <td className="num px-3 text-muted">{row.rank}</td>
              <td className="num px-3 text-right font-semibold" data-testid="leaderboard-score">
                {formatScore(row.weighted_score)}
              </td>
              {scorerNames.map((name) => (
                <td key={name} className="num px-3 text-right">
                  {formatScore(row.scores[name])}
                </td>
              ))}
              {sweptKeys.map((key) => {
                const value = label(key, configValue(row.config, key));
                return (
                  <td key={key} className={cn("truncate px-3 text-xs", value.named ? "font-medium" : "font-mono")} title={value.title} data-testid="leaderboard-variant">
                    {value.text}
                  </td>
                );
              })}
              <td className="num px-3 text-right">{formatTokens(row.tokens_in + row.tokens_out)}</td>
              <td
                className="num px-3 text-right"
                title={row.cost_spent === null ? undefined : `Spent ${formatCost(row.cost_spent)} · saved by the cache ${formatCost(row.cost_saved)} over ${row.runs} run${row.runs === 1 ? "" : "s"}`}
              >
                {formatCost(row.cost_estimate)}
              </td>
              <td className="num px-3 text-right" data-testid="leaderboard-runs">
                {row.runs}
              </td>
              <td className="num px-3 text-right">{formatDurationMs(row.duration_ms)}</td>
              <td className="px-3 text-right">
                <span className="inline-flex items-center gap-1.5">
                  <OriginBadge origin={row.origin} />
                  <Link to={`/runs/${row.run_id}`} className="text-accent hover:underline" aria-label={`Run ${shortId(row.run_id)} details`}>
                    {shortId(row.run_id)}
                  </Link>
                </span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
