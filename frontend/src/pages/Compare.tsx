// Two runs side by side (/compare?a=<runId>&b=<runId>): what differs in their configs, each
// sample's output word by word, and their scores overlaid.
import { useMemo } from "react";
import { Link, useSearchParams } from "react-router-dom";

import type { RunDetail } from "../api/client";
import { useEndpoints } from "../api/queries/endpoints";
import { useProject } from "../api/queries/projects";
import { useExperiment, useExperiments } from "../api/queries/experiments";
import { useLeaderboard } from "../api/queries/leaderboard";
import { usePairedDifference, useRun } from "../api/queries/runs";
import { OutputDiffs } from "../components/compare/OutputDiffs";
import { ParamDiff } from "../components/compare/ParamDiff";
import { RunPicker } from "../components/compare/RunPicker";
import { ScoreOverlay } from "../components/compare/ScoreOverlay";
import { Button, Card, CardBody, cn, EmptyState, ErrorMessage, PageHeader, Select, Skeleton, StatusBadge } from "../components/ui";
import { formatCost, formatDurationMs, formatInt, formatScore, shortId } from "../lib/format";
import { formatInterval, pairedSentence } from "../lib/stats";

export default function ComparePage() {
  const [params, setParams] = useSearchParams();
  const a = params.get("a");
  const b = params.get("b");
  const runA = useRun(a ?? undefined);
  const runB = useRun(b ?? undefined);
  const experimentId = runA.data?.experiment_id ?? runB.data?.experiment_id ?? params.get("experiment") ?? undefined;
  const experiment = useExperiment(experimentId);
  const project = useProject(experiment.data?.project_id);
  const leaderboard = useLeaderboard(experimentId, { limit: 100 });
  const experiments = useExperiments({ limit: 100, offset: 0 });
  const endpoints = useEndpoints({ limit: 200, offset: 0 });
  const endpointLabels = useMemo(() => new Map((endpoints.data?.items ?? []).map((e) => [e.id, e.label])), [endpoints.data]);
  const sampleData = experiment.data?.sample_data as { id: string; input: string }[] | undefined;
  const order = useMemo(() => (sampleData ?? []).map((s) => s.id), [sampleData]);
  const inputs = useMemo(() => new Map((sampleData ?? []).map((s) => [s.id, s.input])), [sampleData]);
  const entries = leaderboard.data?.items ?? [];

  const set = (key: "a" | "b" | "experiment", value: string | null) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };
  const swap = () => {
    const next = new URLSearchParams(params);
    if (b) next.set("a", b);
    else next.delete("a");
    if (a) next.set("b", a);
    else next.delete("b");
    setParams(next, { replace: true });
  };

  const bothLoaded = runA.data && runB.data;
  return (
    <>
      <PageHeader
        title="Compare runs"
        crumbs={[
          { label: "Projects", to: "/projects" },
          ...(experiment.data
            ? [{ label: project.data?.name ?? "Project", to: `/projects/${experiment.data.project_id}` }]
            : []),
          ...(experiment.data ? [{ label: experiment.data.name, to: `/experiments/${experiment.data.id}` }] : []),
          { label: "Compare" },
        ]}
        description="Any two runs side by side: the parameters that differ, each sample's output word by word, and their scores."
      />
      <Card className="mb-6">
        <CardBody className="space-y-3">
          {!experimentId && (
            <label className="flex flex-col gap-1 text-sm font-medium">
              Experiment
              <Select data-testid="compare-experiment" value="" onChange={(e) => set("experiment", e.target.value)}>
                <option value="" disabled>
                  {experiments.data?.items.length === 0 ? "No experiment yet" : "Pick an experiment"}
                </option>
                {(experiments.data?.items ?? []).map((e) => (
                  <option key={e.id} value={e.id}>
                    {e.name} ({e.run_count} runs)
                  </option>
                ))}
              </Select>
            </label>
          )}
          <div className="flex flex-wrap items-end gap-3">
            <RunPicker label="Run A" value={a} onChange={(id) => set("a", id)} entries={entries} testId="compare-pick-a" disabled={!experimentId} />
            <Button onClick={swap} disabled={!a && !b} aria-label="Swap A and B" data-testid="compare-swap">
              ⇄ Swap
            </Button>
            <RunPicker label="Run B" value={b} onChange={(id) => set("b", id)} entries={entries} testId="compare-pick-b" disabled={!experimentId} />
          </div>
          <ErrorMessage error={leaderboard.error} title="Could not load the leaderboard" />
        </CardBody>
      </Card>
      <ErrorMessage error={runA.error} title="Could not load run A" className="mb-4" />
      <ErrorMessage error={runB.error} title="Could not load run B" className="mb-4" />
      {(!a || !b) && (
        <EmptyState
          title={!a && !b ? "Pick two runs to compare" : `Pick run ${a ? "B" : "A"}`}
          description="Choose them from the experiment's leaderboard above, or open Compare from a run's page or the leaderboard."
        />
      )}
      {a && b && !bothLoaded && !runA.error && !runB.error && (
        <div className="space-y-3" aria-busy="true">
          <Skeleton className="h-24" />
          <Skeleton className="h-48" />
        </div>
      )}
      {bothLoaded && (
        <div className="space-y-6">
          {runA.data.experiment_id !== runB.data.experiment_id && (
            <p className="rounded-md border border-warn/40 bg-warn/10 px-3 py-2 text-sm">
              These runs belong to different experiments, so their samples and scorers may differ.
            </p>
          )}
          <div className="grid gap-4 md:grid-cols-2">
            <RunSummary run={runA.data} label="A" />
            <RunSummary run={runB.data} label="B" />
          </div>
          <PairedDifferenceCard a={runA.data.id} b={runB.data.id} />
          <ScoreOverlay a={runA.data} b={runB.data} />
          <ParamDiff a={runA.data.config} b={runB.data.config} endpointLabels={endpointLabels} />
          <OutputDiffs a={runA.data} b={runB.data} order={order} inputs={inputs} />
        </div>
      )}
    </>
  );
}

function PairedDifferenceCard({ a, b }: { a: string; b: string }) {
  const paired = usePairedDifference(a, b);
  return (
    <Card data-testid="compare-paired">
      <CardBody className="space-y-1">
        <p className="text-sm font-medium">Paired difference of the weighted score</p>
        {paired.isError ? (
          <ErrorMessage error={paired.error} />
        ) : paired.data ? (
          <p className={cn("num text-sm", paired.data.significant ? "text-fg" : "text-muted")} data-testid="compare-paired-text">
            {pairedSentence(paired.data)}
          </p>
        ) : (
          <Skeleton className="h-5" />
        )}
        <p className="text-xs text-muted">Per sample both runs were scored on; 95% bootstrap interval of the mean; Wilcoxon signed-rank test.</p>
      </CardBody>
    </Card>
  );
}

function RunSummary({ run, label }: { run: RunDetail; label: string }) {
  return (
    <Card data-testid={`compare-run-${label.toLowerCase()}`}>
      <CardBody className="space-y-1">
        <p className="flex items-center gap-2">
          <span className="rounded bg-raised px-1.5 font-semibold">{label}</span>
          <Link to={`/runs/${run.id}`} className="font-mono text-accent hover:underline">
            {shortId(run.id)}
          </Link>
          <StatusBadge status={run.status} />
          {run.rejected && <span className="text-xs text-bad">rejected</span>}
        </p>
        <p className="num text-sm text-muted">
          score <strong className="text-fg">{formatScore(run.weighted_score)}</strong>{" "}
          <span data-testid="compare-run-ci">{formatInterval(run)}</span> · {formatInt(run.tokens_in + run.tokens_out)} tokens ·{" "}
          {formatCost(run.cost_estimate)} · {formatDurationMs(run.duration_ms)}
        </p>
      </CardBody>
    </Card>
  );
}
