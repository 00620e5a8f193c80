import { keepPreviousData, useQueries } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { Link, useNavigate } from "react-router-dom";

import type { Run } from "../../api/client";
import type { RunListParams } from "../../api/queries/keys";
import { runsPageOptions } from "../../api/queries/runs";
import { formatCost, formatDurationMs, formatInt, formatScore, formatTokens, shortId } from "../../lib/format";
import { useSweepScope } from "../../lib/sweepScope";
import { useValueLabel } from "../../lib/variants";
import { Button, Card, CardHeader, cn, EmptyState, ErrorMessage, OriginBadge, Select, Skeleton, StatusBadge } from "../ui";
import { configValue, keyLabel } from "./configValue";

export const RUNS_PAGE_SIZE = 100;
const ROW_HEIGHT = 40;
type RunStatus = NonNullable<RunListParams["status"]>;
const STATUSES: RunStatus[] = ["completed", "cached", "failed", "cancelled", "running", "pending"];

interface Column {
  id: string;
  label: string;
  /** Server sort key, when the column can be sorted. */
  sort?: string;
  width: string;
  align?: "right";
  render: (run: Run) => ReactNode;
}

/**
 * Every run of an experiment: sorted and paginated by the server, rendered virtually (only the rows
 * on screen exist, their pages fetched as they scroll into view), so 10,000 runs stay responsive.
 * Tick two runs to compare them.
 */
export function RunsTable({
  experimentId,
  sweptKeys,
  scorerNames,
  height = 600,
}: {
  experimentId: string;
  sweptKeys: string[];
  scorerNames: string[];
  height?: number;
}) {
  const [sort, setSort] = useState("-weighted_score");
  const [status, setStatus] = useState<RunStatus | "">("");
  const [selected, setSelected] = useState<string[]>([]);
  const navigate = useNavigate();
  const label = useValueLabel();
  const sweepId = useSweepScope();
  const scrollRef = useRef<HTMLDivElement>(null);
  const filter = status || undefined;

  const columns = useMemo<Column[]>(
    () => [
      {
        id: "status",
        label: "Status",
        sort: "status",
        width: "w-44",
        render: (run) => (
          <span className="inline-flex items-center gap-1.5">
            <StatusBadge status={run.rejected ? "rejected" : run.status} />
            <OriginBadge origin={run.origin} />
          </span>
        ),
      },
      {
        id: "weighted_score",
        label: "Score",
        sort: "weighted_score",
        width: "w-24",
        align: "right",
        render: (run) => <span className="font-semibold">{formatScore(run.weighted_score)}</span>,
      },
      ...scorerNames.map<Column>((name) => ({
        id: `score:${name}`,
        label: name,
        sort: name,
        width: "w-24",
        align: "right",
        render: (run) => formatScore(run.scores[name]),
      })),
      ...sweptKeys.map<Column>((key) => ({
        id: `param:${key}`,
        label: keyLabel(key),
        width: "w-36",
        render: (run) => {
          const value = label(key, configValue(run.config, key));
          return (
            <span className={`block truncate text-xs ${value.named ? "font-medium" : "font-mono"}`} title={value.title} data-testid="run-variant">
              {value.text}
            </span>
          );
        },
      })),
      { id: "tokens", label: "Tokens", sort: "tokens_in", width: "w-24", align: "right", render: (run) => formatTokens(run.tokens_in + run.tokens_out) },
      { id: "cost", label: "Cost", sort: "cost_estimate", width: "w-24", align: "right", render: (run) => formatCost(run.cost_estimate) },
      { id: "duration", label: "Time", sort: "duration_ms", width: "w-24", align: "right", render: (run) => formatDurationMs(run.duration_ms) },
      {
        id: "cache",
        label: "Cache",
        sort: "cache_hits",
        width: "w-20",
        align: "right",
        render: (run) => (run.llm_calls ? `${run.cache_hits}/${run.llm_calls}` : "—"),
      },
    ],
    [scorerNames, sweptKeys, label],
  );

  // Page 0 always (it carries the total); further pages as the virtual window reaches them.
  const [visiblePages, setVisiblePages] = useState<number[]>([0]);
  const pageQueries = useQueries({
    queries: visiblePages.map((page) => ({
      ...runsPageOptions(experimentId, { sort, status: filter, limit: RUNS_PAGE_SIZE, offset: page * RUNS_PAGE_SIZE, ...(sweepId ? { sweep_id: sweepId } : {}) }),
      placeholderData: page === 0 ? keepPreviousData : undefined,
    })),
  });
  const first = pageQueries[0];
  const total = first?.data?.total ?? 0;
  const rowsByPage = new Map<number, Run[]>();
  visiblePages.forEach((page, i) => {
    const data = pageQueries[i]?.data;
    if (data) rowsByPage.set(page, data.items);
  });

  const virtualizer = useVirtualizer({
    count: total,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const firstIndex = items[0]?.index ?? 0;
  const lastIndex = items[items.length - 1]?.index ?? 0;

  useEffect(() => {
    const pages = new Set<number>([0]);
    for (let p = Math.floor(firstIndex / RUNS_PAGE_SIZE); p <= Math.floor(lastIndex / RUNS_PAGE_SIZE); p += 1) pages.add(p);
    const next = Array.from(pages).sort((a, b) => a - b);
    setVisiblePages((current) => (current.length === next.length && current.every((p, i) => p === next[i]) ? current : next));
  }, [firstIndex, lastIndex]);

  useEffect(() => {
    scrollRef.current?.scrollTo({ top: 0 });
  }, [sort, status]);

  const rowAt = (index: number): Run | undefined => rowsByPage.get(Math.floor(index / RUNS_PAGE_SIZE))?.[index % RUNS_PAGE_SIZE];

  const toggleSort = (key: string) => setSort((current) => (current === `-${key}` ? key : `-${key}`));
  const toggleSelected = (runId: string) =>
    setSelected((current) =>
      current.includes(runId) ? current.filter((id) => id !== runId) : current.length >= 2 ? [current[1]!, runId] : [...current, runId],
    );

  const padTop = items[0]?.start ?? 0;
  const padBottom = items.length ? virtualizer.getTotalSize() - items[items.length - 1]!.end : 0;
  const error = pageQueries.find((q) => q.isError)?.error;

  return (
    <Card data-testid="runs-table">
      <CardHeader
        title={`Runs${first?.data ? ` (${formatInt(total)})` : ""}`}
        description="Sorted by the server; click a column to sort. Tick two runs to compare them."
        actions={
          <>
            <label className="flex items-center gap-2 text-sm text-muted">
              Status
              <Select value={status} onChange={(e) => setStatus(e.target.value as RunStatus | "")} className="h-8 w-auto" data-testid="runs-status-filter">
                <option value="">All</option>
                {STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </Select>
            </label>
            <span className="num text-sm text-muted" aria-live="polite">
              {selected.length}/2 selected
            </span>
            <Button
              variant="primary"
              size="sm"
              disabled={selected.length !== 2}
              data-testid="compare-selected"
              onClick={() => navigate(`/compare?a=${selected[0]}&b=${selected[1]}`)}
            >
              Compare
            </Button>
          </>
        }
      />
      <ErrorMessage error={error} className="m-4" onRetry={() => pageQueries.forEach((q) => q.isError && void q.refetch())} />
      {first?.isPending ? (
        <div className="space-y-2 p-4" aria-busy="true">
          {Array.from({ length: 6 }, (_, i) => (
            <Skeleton key={i} className="h-7" />
          ))}
        </div>
      ) : total === 0 && !error ? (
        <EmptyState
          className="m-4"
          title={status ? `No ${status} runs` : "No runs yet"}
          description={status ? "Pick another status, or All." : "Start a sweep from the Live tab: every configuration it runs is listed here."}
        />
      ) : (
        <div ref={scrollRef} className="overflow-auto" style={{ height: Math.min(height, (total + 1) * ROW_HEIGHT + 2) }} data-testid="runs-scroll">
          <table className="w-full table-fixed border-collapse text-sm" aria-label="Runs" aria-rowcount={total + 1}>
            <colgroup>
              <col className="w-10" />
              <col className="w-16" />
              {columns.map((c) => (
                <col key={c.id} className={c.width} />
              ))}
              <col className="w-24" />
            </colgroup>
            <thead className="sticky top-0 z-10 bg-panel">
              <tr className="border-b border-line text-left text-xs uppercase tracking-wide text-muted" style={{ height: ROW_HEIGHT }}>
                <th scope="col" className="px-3">
                  <span className="sr-only">Select</span>
                </th>
                <th scope="col" className="px-3 font-medium">#</th>
                {columns.map((c) => {
                  const active = c.sort && sort.replace(/^-/, "") === c.sort;
                  const direction = active ? (sort.startsWith("-") ? "descending" : "ascending") : undefined;
                  return (
                    <th key={c.id} scope="col" aria-sort={direction ?? "none"} className={cn("truncate px-3 font-medium", c.align === "right" && "text-right")}>
                      {c.sort ? (
                        <button
                          type="button"
                          onClick={() => toggleSort(c.sort!)}
                          className={cn("inline-flex max-w-full items-center gap-1 uppercase hover:text-fg", active && "text-fg")}
                          title={`Sort by ${c.label}`}
                          data-testid={`sort-${c.id}`}
                        >
                          <span className="truncate">{c.label}</span>
                          <span aria-hidden="true" className="w-2">
                            {active ? (sort.startsWith("-") ? "↓" : "↑") : ""}
                          </span>
                        </button>
                      ) : (
                        <span title={c.label}>{c.label}</span>
                      )}
                    </th>
                  );
                })}
                <th scope="col" className="px-3 font-medium">
                  <span className="sr-only">Details</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {padTop > 0 && (
                <tr aria-hidden="true">
                  <td style={{ height: padTop, padding: 0 }} colSpan={columns.length + 3} />
                </tr>
              )}
              {items.map((item) => {
                const run = rowAt(item.index);
                if (!run) {
                  return (
                    <tr key={`loading-${item.index}`} style={{ height: ROW_HEIGHT }} aria-rowindex={item.index + 2}>
                      <td colSpan={columns.length + 3} className="px-3">
                        <Skeleton className="h-5" />
                      </td>
                    </tr>
                  );
                }
                const checked = selected.includes(run.id);
                return (
                  <tr
                    key={run.id}
                    data-testid="run-row"
                    data-run-id={run.id}
                    aria-rowindex={item.index + 2}
                    aria-selected={checked}
                    className={cn("cursor-pointer border-b border-line/60 hover:bg-raised/60", checked && "bg-accent/10")}
                    style={{ height: ROW_HEIGHT }}
                    onClick={(event) => {
                      if ((event.target as HTMLElement).closest("a, button, input, label")) return;
                      navigate(`/runs/${run.id}`);
                    }}
                  >
                    <td className="px-3">
                      <input
                        type="checkbox"
                        className="h-4 w-4 accent-[var(--pl-accent)]"
                        checked={checked}
                        onChange={() => toggleSelected(run.id)}
                        aria-label={`Select run ${shortId(run.id)} to compare`}
                        data-testid="run-select"
                      />
                    </td>
                    <td className="num px-3 text-muted">{item.index + 1}</td>
                    {columns.map((c) => (
                      <td key={c.id} className={cn("num truncate px-3", c.align === "right" && "text-right")}>
                        {c.render(run)}
                      </td>
                    ))}
                    <td className="px-3 text-right">
                      <Link to={`/runs/${run.id}`} className="text-accent hover:underline" aria-label={`Run ${shortId(run.id)} details`}>
                        {shortId(run.id)}
                      </Link>
                    </td>
                  </tr>
                );
              })}
              {padBottom > 0 && (
                <tr aria-hidden="true">
                  <td style={{ height: padBottom, padding: 0 }} colSpan={columns.length + 3} />
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
