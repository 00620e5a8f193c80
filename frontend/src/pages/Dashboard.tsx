import { Link } from "react-router-dom";

import type { ExperimentSummary } from "../api/client";
import { useMe } from "../api/queries/auth";
import { useExperiments } from "../api/queries/experiments";
import { useHealth } from "../api/queries/health";
import { useStats } from "../api/queries/admin";
import { useProjects } from "../api/queries/projects";
import { FeedIndicator } from "../components/live/LiveStats";
import { Timeline } from "../components/live/Timeline";
import { useDashboardFeed, type SweepProgress } from "../components/live/useDashboardFeed";
import { ButtonLink, Card, CardBody, CardHeader, EmptyState, ErrorMessage, PageHeader, Skeleton, StatusBadge } from "../components/ui";
import { formatCost, formatInt, formatPercent, formatRelative, formatScore, formatTokens, shortId } from "../lib/format";

export default function DashboardPage() {
  const me = useMe();
  const isAdmin = !!me.data?.is_admin;
  const feed = useDashboardFeed();
  const live = feed.feedStatus === "live";
  // Without the socket, fall back to polling the lists.
  const running = useExperiments({ status: "running", limit: 50, offset: 0 }, { refetchInterval: live ? undefined : 5000 });
  const paused = useExperiments({ status: "paused", limit: 50, offset: 0 }, { refetchInterval: live ? undefined : 15000 });
  const recent = useExperiments({ limit: 8, offset: 0 });
  const projects = useProjects({ limit: 1, offset: 0 });
  const stats = useStats({ enabled: isAdmin, refetchInterval: 15000 });
  const health = useHealth({ refetchInterval: 30000 });

  const names: Record<string, string> = {};
  for (const list of [running.data, paused.data, recent.data]) for (const e of list?.items ?? []) names[e.id] = e.name;
  const active = [...(running.data?.items ?? []), ...(paused.data?.items ?? [])];

  return (
    <>
      <PageHeader title="Dashboard" description="Sweeps running now, and what happened across every experiment." actions={<FeedIndicator status={feed.feedStatus} />} />
      <div className="grid gap-4 lg:grid-cols-3">
        <div className="grid content-start gap-4 lg:col-span-2">
          <Card data-testid="running-sweeps">
            <CardHeader title="Running sweeps" description="Live progress of every active sweep." />
            <CardBody className="p-0">
              {running.isPending ? (
                <div className="space-y-2 p-4">
                  <Skeleton className="h-8" />
                  <Skeleton className="h-8" />
                </div>
              ) : running.isError ? (
                <ErrorMessage error={running.error} className="m-4" onRetry={() => void running.refetch()} />
              ) : active.length === 0 ? (
                <EmptyState
                  className="m-4"
                  title="No sweep is running"
                  description="Open an experiment and start a sweep from its Live tab; its progress shows up here."
                  action={<ButtonLink to="/projects">Go to projects</ButtonLink>}
                />
              ) : (
                <ul className="divide-y divide-line/60">
                  {active.map((e) => (
                    <ActiveSweep key={e.id} experiment={e} progress={feed.state.progress[e.id]} />
                  ))}
                </ul>
              )}
            </CardBody>
          </Card>
          <Timeline
            title="Activity"
            entries={feed.state.timeline}
            typeCounts={feed.state.typeCounts}
            height={360}
            showExperiment={(entry) => {
              const id = feed.state.experimentOf[entry.key];
              return id ? (
                <Link to={`/experiments/${id}`} className="mr-2 font-medium hover:text-accent hover:underline">
                  {names[id] ?? `experiment ${shortId(id)}`}
                </Link>
              ) : null;
            }}
          />
        </div>
        <div className="grid content-start gap-4">
          <Card>
            <CardHeader title="System" />
            <CardBody>
              {isAdmin ? (
                stats.isError ? (
                  <ErrorMessage error={stats.error} />
                ) : (
                  <dl className="grid grid-cols-2 gap-3 text-sm" data-testid="system-stats">
                    <StatItem label="Projects" value={stats.data ? formatInt(stats.data.projects) : null} />
                    <StatItem label="Experiments" value={stats.data ? formatInt(stats.data.experiments) : null} />
                    <StatItem label="Runs" value={stats.data ? formatInt(stats.data.runs) : null} />
                    <StatItem label="LLM calls paid" value={stats.data ? formatInt(stats.data.llm_calls) : null} />
                    <StatItem label="Spent" value={stats.data ? formatCost(stats.data.cost_spent) : null} />
                    <StatItem label="Saved by cache" value={stats.data ? formatCost(stats.data.cost_saved) : null} />
                    {stats.data &&
                      Object.entries(stats.data.runs_by_status).map(([status, count]) => <StatItem key={status} label={`Runs ${status}`} value={formatInt(count)} />)}
                    {stats.data &&
                      Object.entries(stats.data.cache).map(([name, value]) => (
                        <StatItem key={name} label={`Cache ${name.replace(/_/g, " ")}`} value={formatCacheStat(name, value)} />
                      ))}
                  </dl>
                )
              ) : (
                <dl className="grid grid-cols-2 gap-3 text-sm" data-testid="system-stats">
                  <StatItem label="Projects" value={projects.data ? formatInt(projects.data.total) : null} />
                  <StatItem label="Experiments" value={recent.data ? formatInt(recent.data.total) : null} />
                  <StatItem label="Running" value={running.data ? formatInt(running.data.total) : null} />
                  <StatItem label="Paused" value={paused.data ? formatInt(paused.data.total) : null} />
                </dl>
              )}
              <div className="mt-4 border-t border-line pt-3 text-sm" data-testid="health">
                {health.isError ? (
                  <ErrorMessage error={health.error} title="The server reports a problem" />
                ) : health.data ? (
                  <p className="text-muted">
                    <span className="font-medium text-good">Healthy</span> · database {health.data.database} · queue {health.data.queue} · redis{" "}
                    {health.data.redis} · v{health.data.version}
                  </p>
                ) : (
                  <Skeleton className="w-2/3" />
                )}
              </div>
            </CardBody>
          </Card>
          <Card>
            <CardHeader title="Recent experiments" actions={<ButtonLink to="/projects" size="sm" variant="ghost">All projects</ButtonLink>} />
            {recent.data?.items.length === 0 ? (
              <EmptyState className="m-4" title="No experiments yet" description="Create a project, then build an experiment in it." action={<ButtonLink to="/projects" variant="primary">Create a project</ButtonLink>} />
            ) : (
              <ul className="divide-y divide-line/60">
                {(recent.data?.items ?? []).map((e) => (
                  <li key={e.id} className="flex items-center justify-between gap-2 px-4 py-2 text-sm">
                    <Link to={`/experiments/${e.id}`} className="truncate hover:text-accent hover:underline">
                      {e.name}
                    </Link>
                    <span className="flex shrink-0 items-center gap-2">
                      <span className="num text-xs text-muted">{formatScore(e.best_score)}</span>
                      <StatusBadge status={e.status} />
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </Card>
        </div>
      </div>
    </>
  );
}

/** The cache figures are counts, except the hit rate (a ratio) and the cost saved (USD). */
function formatCacheStat(name: string, value: number): string {
  if (name === "hit_rate") return formatPercent(value);
  if (name === "cost_saved") return formatCost(value);
  if (name === "tokens_saved") return formatTokens(value);
  return formatInt(value);
}

function StatItem({ label, value }: { label: string; value: string | null }) {
  return (
    <div>
      <dt className="text-xs text-muted">{label}</dt>
      <dd className="num text-lg font-semibold">{value ?? <Skeleton className="mt-1 h-5 w-12" />}</dd>
    </div>
  );
}

function ActiveSweep({ experiment, progress }: { experiment: ExperimentSummary; progress?: SweepProgress }) {
  const ratio = progress && progress.total > 0 ? Math.min(1, progress.completed / progress.total) : 0;
  return (
    <li className="px-4 py-3" data-testid="running-sweep">
      <div className="flex items-center justify-between gap-3">
        <Link to={`/experiments/${experiment.id}`} className="truncate font-medium hover:text-accent hover:underline">
          {experiment.name}
        </Link>
        <StatusBadge status={experiment.status} />
      </div>
      <div className="mt-2 h-2 overflow-hidden rounded-full bg-raised" role="progressbar" aria-label={`${experiment.name} progress`} aria-valuemin={0} aria-valuemax={progress?.total ?? 0} aria-valuenow={progress?.completed ?? 0}>
        <div className={`h-full rounded-full transition-[width] duration-500 ${progress?.failed ? "bg-warn" : "bg-accent"}`} style={{ width: `${ratio * 100}%` }} />
      </div>
      <p className="num mt-1 text-xs text-muted">
        {progress
          ? `${formatInt(progress.completed)} of ${formatInt(progress.total)} runs · ${formatCost(progress.cost)} spent${progress.failed ? ` · ${formatInt(progress.failed)} failed` : ""} · ${formatRelative(progress.ts)}`
          : `${formatInt(experiment.run_count)} runs · best ${formatScore(experiment.best_score)} · waiting for progress…`}
      </p>
    </li>
  );
}
