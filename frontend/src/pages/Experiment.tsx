import { lazy, Suspense, useMemo } from "react";
import { useParams, useSearchParams } from "react-router-dom";

import { useCanWrite } from "../components/layout/RequireAuth";
import { DuplicateExperiment } from "../components/live/DuplicateExperiment";
import { ExportsPanel } from "../components/exports/ExportsPanel";
import { Leaderboard } from "../components/leaderboard/Leaderboard";
import { LiveStats } from "../components/live/LiveStats";
import { ProposalsPanel } from "../components/live/ProposalsPanel";
import { StartSweepForm } from "../components/live/StartSweepForm";
import { SweepSelector } from "../components/live/SweepSelector";
import { SteeringControls } from "../components/live/SteeringControls";
import { ForkedFrom } from "../components/steering/ForkedFrom";
import { RedirectButton } from "../components/steering/RedirectButton";
import { SteeringActions } from "../components/steering/SteeringActions";
import { Timeline } from "../components/live/Timeline";
import { useExperimentLive } from "../components/live/useExperimentLive";
import { scorerNames, sweptKeys } from "../components/runs/configValue";
import { JudgeCalibration } from "../components/run/JudgeCalibration";
import { ReviewQueue } from "../components/run/ReviewQueue";
import { RunsTable } from "../components/runs/RunsTable";
import { ButtonLink, Card, ErrorMessage, PageHeader, PageLoading, Skeleton, StatusBadge, TabPanel, Tabs } from "../components/ui";
import { useExperiment } from "../api/queries/experiments";
import { useLeaderboard } from "../api/queries/leaderboard";
import { useSweepList } from "../api/queries/sweepList";
import { useProject } from "../api/queries/projects";
import { formatScore, pluralize } from "../lib/format";
import { liveRunsList } from "../lib/liveReducer";
import { SweepScope } from "../lib/sweepScope";
import { VariantLabels } from "../lib/variants";

const ExperimentCharts = lazy(() => import("../components/charts/ExperimentCharts"));
const BestSoFarChart = lazy(() => import("../components/charts/BestSoFarChart"));

type TabId = "live" | "runs" | "charts" | "review" | "exports";
const TABS: { id: TabId; label: string }[] = [
  { id: "live", label: "Live" },
  { id: "runs", label: "Runs" },
  { id: "charts", label: "Charts" },
  { id: "review", label: "Review" },
  { id: "exports", label: "Exports" },
];

export default function ExperimentPage() {
  const { experimentId } = useParams();
  const [search, setSearch] = useSearchParams();
  const tab = (TABS.find((t) => t.id === search.get("tab"))?.id ?? "live") as TabId;
  const experiment = useExperiment(experimentId);
  // Start the default leaderboard alongside the experiment (same key as the Leaderboard's first query).
  useLeaderboard(tab === "live" ? experimentId : undefined, { limit: 10, sort: "weighted_score" });
  const project = useProject(experiment.data?.project_id);
  const canWrite = useCanWrite();
  // The server answers one query at a time in SQLite mode: the page and the leaderboard first,
  // then the live history.
  const live = useExperimentLive(experiment.data ? experimentId : undefined, experiment.data?.status);

  const sweepList = useSweepList(experiment.data ? experimentId : undefined, live.state.progress.sweepId ?? experiment.data?.status);
  const sweepChoice = search.get("sweep") ?? "latest";
  const sweeps = sweepList.data ?? [];
  // One sweep (or none): nothing to keep apart, and the queries stay those of the whole experiment.
  const sweepId = sweeps.length < 2 || sweepChoice === "all" ? undefined : sweepChoice === "latest" ? sweeps[0]?.id : sweepChoice;
  const keys = useMemo(() => sweptKeys(experiment.data?.parameter_space), [experiment.data?.parameter_space]);
  const scorers = useMemo(() => scorerNames(experiment.data?.scoring_config), [experiment.data?.scoring_config]);
  const liveRuns = useMemo(() => liveRunsList(live.state), [live.state]);

  if (experiment.isPending) return <PageLoading label="Loading the experiment" />;
  if (experiment.isError || !experiment.data) {
    return <ErrorMessage error={experiment.error} title="Cannot open this experiment" onRetry={() => void experiment.refetch()} />;
  }
  const exp = experiment.data;
  // The live feed knows first; the REST status catches up on its next refetch.
  const status = live.state.status && live.state.status !== "idle" ? live.state.status : exp.status;
  const sweeping = status === "running" || status === "paused";

  return (
    <VariantLabels space={exp.parameter_space} names={exp.variant_names}>
      <PageHeader
        crumbs={[
          { label: "Projects", to: "/projects" },
          { label: project.data?.name ?? "Project", to: `/projects/${exp.project_id}` },
          { label: exp.name },
        ]}
        title={
          <span className="flex items-center gap-3">
            <span className="truncate">{exp.name}</span>
            <StatusBadge status={status} className="text-sm" />
          </span>
        }
        description={
          <span className="num">
            {exp.description ? `${exp.description} · ` : ""}
            {pluralize(exp.run_count, "run")} · best {formatScore(exp.best_score)} · {pluralize(exp.sample_data.length, "sample")} ·{" "}
            {pluralize(exp.pipeline_stages.length, "stage")}
            {exp.forked_from && (
              <>
                {" · "}
                <ForkedFrom origin={exp.forked_from} />
              </>
            )}
          </span>
        }
        actions={
          canWrite && (
            <>
              <DuplicateExperiment experiment={exp} />
              <ButtonLink to={`/experiments/${exp.id}/edit`} data-testid="edit-experiment">
                Edit
              </ButtonLink>
            </>
          )
        }
      />
      <Tabs id="experiment-tabs"
        label="Experiment views"
        value={tab}
        onChange={(next) => {
          const params: Record<string, string> = next === "live" ? {} : { tab: next };
          if (sweepChoice !== "latest") params.sweep = sweepChoice;
          setSearch(params, { replace: true });
        }}
        tabs={TABS}
      />
      <SweepScope sweepId={sweepId}>
      <div className="mb-3 flex justify-end">
        <SweepSelector
          sweeps={sweeps}
          value={sweepChoice}
          onChange={(value) => {
            const params: Record<string, string> = tab === "live" ? {} : { tab };
            if (value !== "latest") params.sweep = value;
            setSearch(params, { replace: true });
          }}
        />
      </div>
      <TabPanel tabsId="experiment-tabs" value={tab}>
        {tab === "live" && (
          <div className="grid min-w-0 gap-4">
            <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_auto]">
              <LiveStats state={live.state} feedStatus={live.feedStatus} status={status} />
              <Card className={`flex flex-col justify-center gap-2 p-4 ${sweeping ? "" : "opacity-60"}`} data-testid="steering-card" data-active={sweeping}>
                <h2 className="text-sm font-semibold">Steering</h2>
                {!sweeping && <p className="text-xs text-muted">No sweep is running: start one below.</p>}
                <SteeringControls experimentId={exp.id} status={status} disabled={!canWrite} />
                {canWrite && sweeping && <RedirectButton experiment={exp} />}
                {canWrite && <SteeringActions experiment={exp} />}
              </Card>
            </div>
            {!sweeping && canWrite && <StartSweepForm experiment={exp} />}
            {sweeps.length > 0 && (
              <Suspense fallback={<Skeleton className="h-80" />}>
                <BestSoFarChart experimentId={exp.id} sweepId={sweepChoice === "all" ? undefined : (sweepId ?? sweeps[0]?.id)} running={status === "running"} />
              </Suspense>
            )}
            <ProposalsPanel
              sweepId={sweepId ?? live.state.progress.sweepId ?? sweeps[0]?.id}
              version={live.state.proposalsVersion}
              readOnly={!canWrite}
            />
            <Leaderboard
              experimentId={exp.id}
              sweptKeys={keys}
              scorerNames={scorers}
              liveRuns={liveRuns}
              expectedRows={sweeping ? live.state.progress.total : 0}
            />
            {live.historyLoaded ? (
              <Timeline entries={live.state.timeline} typeCounts={live.state.typeCounts} />
            ) : (
              <Card className="p-4">
                <Skeleton className="h-6 w-1/3" />
                <Skeleton className="mt-3 h-64" />
              </Card>
            )}
          </div>
        )}
        {tab === "runs" && <RunsTable experimentId={exp.id} sweptKeys={keys} scorerNames={scorers} />}
        {tab === "charts" && (
          <Suspense fallback={<PageLoading label="Loading charts" />}>
            <ExperimentCharts experimentId={exp.id} />
          </Suspense>
        )}
        {tab === "review" && (
          <div className="space-y-6">
            <JudgeCalibration experimentId={exp.id} />
            <ReviewQueue experimentId={exp.id} readOnly={!canWrite} />
          </div>
        )}
        {tab === "exports" && <ExportsPanel experimentId={exp.id} experimentName={exp.name} />}
      </TabPanel>
      </SweepScope>
    </VariantLabels>
  );
}
