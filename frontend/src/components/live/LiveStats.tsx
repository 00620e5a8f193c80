import { useEffect, useState } from "react";

import { formatCost, formatInt, formatPercent, formatScore, formatSeconds, formatTokens } from "../../lib/format";
import { cacheHitRate, etaSeconds, type LiveState } from "../../lib/liveReducer";
import type { FeedStatus } from "../../lib/ws";
import { Badge, Card, cn, StatusBadge } from "../ui";

const FEED_LABELS: Record<FeedStatus, { label: string; tone: string }> = {
  connecting: { label: "Connecting…", tone: "bg-muted" },
  live: { label: "Live", tone: "bg-good" },
  reconnecting: { label: "Reconnecting…", tone: "bg-warn" },
  polling: { label: "Live (polling)", tone: "bg-warn" },
  unauthorized: { label: "Not allowed: log in again", tone: "bg-bad" },
  not_found: { label: "Experiment not found", tone: "bg-bad" },
  closed: { label: "Disconnected", tone: "bg-muted" },
};

/** What the indicator says once the sweep is not running: nothing is live to watch. */
const SWEEP_LABELS: Record<string, { label: string; tone: string }> = {
  paused: { label: "Paused: nothing runs until you resume", tone: "bg-warn" },
  completed: { label: "Finished", tone: "bg-muted" },
  failed: { label: "Finished with failures", tone: "bg-bad" },
  draft: { label: "No sweep yet", tone: "bg-muted" },
};

/** Where the live feed stands (WebSocket, polling fallback, reconnecting), or that the sweep is
 * paused or over (a finished sweep shows no green pulsing "Live"). */
export function FeedIndicator({ status, sweepStatus }: { status: FeedStatus; sweepStatus?: string }) {
  const quiet = status === "live" || status === "polling" || status === "connecting" ? SWEEP_LABELS[sweepStatus ?? ""] : undefined;
  const { label, tone } = quiet ?? FEED_LABELS[status];
  return (
    <span
      className="inline-flex items-center gap-1.5 text-xs text-muted"
      data-testid="feed-status"
      data-status={status}
      data-sweep-status={sweepStatus}
      aria-live="polite"
    >
      <span className={cn("h-2 w-2 rounded-full", tone, status === "live" && !quiet && "animate-pulse")} aria-hidden="true" />
      {label}
    </span>
  );
}

function Stat({ label, value, testId, hint }: { label: string; value: string; testId?: string; hint?: string }) {
  return (
    <div className="min-w-0" title={hint}>
      <dt className="text-xs uppercase tracking-wide text-muted">{label}</dt>
      <dd className="num mt-0.5 truncate text-lg font-semibold" data-testid={testId}>
        {value}
      </dd>
    </div>
  );
}

/** Progress bar "X of Y", tokens, cost, cache hit rate and ETA of the current sweep. */
export function LiveStats({ state, feedStatus, status }: { state: LiveState; feedStatus: FeedStatus; status: string }) {
  const p = state.progress;
  const [now, setNow] = useState(() => Date.now());
  const running = state.status === "running";
  useEffect(() => {
    if (!running) return;
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, [running]);

  const ratio = p.total > 0 ? Math.min(1, p.completed / p.total) : 0;
  const eta = etaSeconds(state, now);
  const hitRate = cacheHitRate(state);
  const shownStatus = state.status === "idle" || !state.status ? status : state.status;
  // A finished sweep with failures is not a success: say so, in the warning colour.
  const completedWithFailures = shownStatus === "completed" && p.failed > 0;
  const okRatio = p.total > 0 ? Math.min(1, Math.max(0, p.completed - p.failed) / p.total) : 0;
  const failedRatio = p.total > 0 ? Math.min(1 - okRatio, p.failed / p.total) : 0;
  const tokensSpent = p.tokensSpent ?? p.tokensIn + p.tokensOut;
  const costSpent = p.costSpent ?? p.cost;

  return (
    <Card className="p-4" data-testid="live-stats">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <div className="flex items-center gap-3">
          {completedWithFailures ? (
            <Badge tone="warn">
              <span data-status="completed" data-testid="status-completed-failed">
                completed, {formatInt(p.failed)} failed
              </span>
            </Badge>
          ) : (
            <StatusBadge status={shownStatus} />
          )}
          {p.sweepType && <span className="text-sm text-muted">{p.sweepType} sweep</span>}
          {state.statusReason === "budget" && <span className="text-sm text-warn">paused by the budget</span>}
          {state.statusReason === "stopped" && <span className="text-sm text-warn">stopped</span>}
        </div>
        <FeedIndicator status={feedStatus} sweepStatus={shownStatus} />
      </div>
      <div className="mt-4">
        <div className="flex items-baseline justify-between gap-2 text-sm">
          <span className="text-muted">Runs in this sweep</span>
          <span className="num font-semibold" data-testid="progress" aria-live="polite">
            {formatInt(p.completed)} of {formatInt(p.total)}
          </span>
        </div>
        <div
          className="mt-1.5 h-2.5 overflow-hidden rounded-full bg-raised"
          role="progressbar"
          aria-label="Sweep progress"
          aria-valuemin={0}
          aria-valuemax={p.total}
          aria-valuenow={p.completed}
          aria-valuetext={`${p.completed} of ${p.total} runs`}
        >
          {p.failed > 0 ? (
            <div className="flex h-full w-full">
              <div className="h-full bg-accent transition-[width] duration-500" style={{ width: `${okRatio * 100}%` }} data-testid="progress-ok" />
              <div className="h-full bg-warn transition-[width] duration-500" style={{ width: `${failedRatio * 100}%` }} data-testid="progress-failed" />
            </div>
          ) : (
            <div
              className={cn(
              "h-full rounded-full transition-[width] duration-500",
              shownStatus === "paused" ? "bg-warn bg-[repeating-linear-gradient(135deg,transparent_0_6px,rgb(0_0_0/0.18)_6px_12px)]" : shownStatus === "running" ? "bg-accent" : "bg-muted",
              )}
              data-testid="progress-fill"
              style={{ width: `${ratio * 100}%` }}
            />
          )}
        </div>
        <p className="num mt-1 h-4 text-xs text-muted">
          {[
            p.failed > 0 && <span key="failed" className="text-warn">{formatInt(p.failed)} failed</span>,
            p.cached > 0 && <span key="cached">{formatInt(p.cached)} fully cached</span>,
            state.inFlight.length > 0 && <span key="flight">{formatInt(state.inFlight.length)} in flight</span>,
          ]
            .filter(Boolean)
            .map((part, i) => (
              <span key={i}>
                {i > 0 && " · "}
                {part}
              </span>
            ))}
        </p>
      </div>
      <dl className="mt-3 grid grid-cols-2 gap-4 sm:grid-cols-4 lg:grid-cols-8">
        <Stat
          label="Tokens paid"
          value={formatTokens(tokensSpent)}
          testId="stat-tokens"
          hint={`Tokens of the calls actually made. The answers hold ${formatInt(p.tokensIn)} in · ${formatInt(p.tokensOut)} out, cache hits included.`}
        />
        <Stat label="Spent" value={formatCost(costSpent)} testId="stat-cost" hint="What the calls actually made cost (from the endpoints' pricing); a cache hit costs nothing" />
        <Stat
          label="Saved by cache"
          value={p.costSaved === null ? "—" : formatCost(p.costSaved)}
          testId="stat-saved"
          hint={p.tokensSaved === null ? "What cache hits saved" : `Cache hits saved ${formatInt(p.tokensSaved)} tokens`}
        />
        <Stat label="LLM calls" value={p.callsPaid === null ? "—" : formatInt(p.callsPaid)} testId="stat-calls" hint="Calls sent to the endpoints (paid); cache hits are counted apart" />
        <Stat label="Cache hits" value={p.cacheHits === null ? "—" : formatInt(p.cacheHits)} testId="stat-hits" hint="Calls answered from the cache (free)" />
        <Stat label="Cache hit rate" value={formatPercent(hitRate)} testId="stat-cache" hint="Share of LLM calls answered from the cache" />
        <Stat label="ETA" value={eta === null ? (shownStatus === "completed" ? "done" : "—") : formatSeconds(eta)} testId="stat-eta" />
        <Stat label="Best score" value={formatScore(state.bestScore)} testId="stat-best" />
      </dl>
      {state.budget && (
        <p className="mt-3 text-sm text-warn" role="status">
          The budget is spent ({formatTokens(state.budget.tokens)} tokens{state.budget.cost !== null ? `, ${formatCost(state.budget.cost)}` : ""}): the sweep paused. Resume to go on anyway.
        </p>
      )}
      {state.rescore && (
        <p className="num mt-3 text-sm text-muted" role="status">
          Re-scoring runs: {formatInt(state.rescore.done)} of {formatInt(state.rescore.total)}
        </p>
      )}
    </Card>
  );
}
