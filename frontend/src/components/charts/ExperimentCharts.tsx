// The experiment's Charts tab (lazy-loaded with echarts): score distribution, a parallel-coordinates
// view of the whole sweep, and score by value for every swept parameter.
import { useMemo, useState } from "react";

import { useExperiment } from "../../api/queries/experiments";
import { RUNS_CAP, useAllRuns } from "../../api/queries/runs";
import { formatInt, pluralize } from "../../lib/format";
import { useTheme } from "../../lib/theme";
import { useSweepScope } from "../../lib/sweepScope";
import { useValueLabel } from "../../lib/variants";
import { Card, CardBody, CardHeader } from "../ui/Card";
import { EmptyState } from "../ui/EmptyState";
import { ErrorMessage } from "../ui/ErrorMessage";
import { Select } from "../ui/Field";
import { Skeleton } from "../ui/Spinner";
import { ImportanceChart, ParetoChart } from "./AnalysisCharts";
import { EChart } from "./EChart";
import { chartColors } from "./echarts";
import { histogramOption, parallelOption, parameterOption } from "./options";
import { scoredRuns, sweptParameter, type RunLike } from "./sweepData";

export default function ExperimentCharts({ experimentId }: { experimentId: string }) {
  const experiment = useExperiment(experimentId);
  const running = experiment.data?.status === "running";
  const sweepId = useSweepScope();
  const runs = useAllRuns(experimentId, { refetchInterval: running ? 10_000 : false, sweepId });
  const { theme } = useTheme();
  const [metric, setMetric] = useState("weighted_score");

  // The colours come from CSS variables: read them again whenever the theme flips.
  const colors = useMemo(() => chartColors(), [theme]);
  const allRuns = (runs.data?.items ?? []) as RunLike[];
  const metrics = useMemo(() => {
    const names = new Set<string>();
    allRuns.forEach((r) => Object.keys(r.scores ?? {}).forEach((n) => names.add(n)));
    return ["weighted_score", ...[...names].sort()];
  }, [allRuns]);
  const scored = useMemo(() => scoredRuns(allRuns, metric), [allRuns, metric]);
  const keys = useMemo(() => Object.keys(experiment.data?.parameter_space ?? {}), [experiment.data]);
  const label = useValueLabel();
  // Swept prompts are drawn under their variant names (v1, concise, ...); the tooltip keeps the text.
  const params = useMemo(
    () =>
      keys.map((key) => {
        const param = sweptParameter(scored, key, keys);
        return { ...param, values: param.values.map((v) => (label(key, v.raw).named ? { ...v, label: label(key, v.raw).text } : v)) };
      }),
    [keys, scored, label],
  );
  const varying = params.filter((p) => p.values.length > 1);

  const histogram = useMemo(() => histogramOption(scored, metric, colors), [scored, metric, colors]);
  const parallel = useMemo(() => (varying.length > 0 ? parallelOption(varying, scored, metric, colors) : null), [varying, scored, metric, colors]);
  const perParam = useMemo(() => params.map((p) => parameterOption(p, scored, metric, colors)), [params, scored, metric, colors]);

  if (runs.isPending || experiment.isPending) {
    return (
      <div className="space-y-4" aria-busy="true" aria-label="Loading charts">
        <Skeleton className="h-72" />
        <Skeleton className="h-72" />
      </div>
    );
  }
  if (runs.isError || experiment.isError) {
    return <ErrorMessage error={runs.error ?? experiment.error} title="Could not load the runs for the charts" onRetry={() => void runs.refetch()} />;
  }
  if (scored.length === 0) {
    return (
      <EmptyState
        title="No scored run yet"
        description={
          allRuns.length > 0
            ? `${formatInt(allRuns.length)} run${allRuns.length === 1 ? "" : "s"}, none finished with a ${metric}. Charts appear as runs complete.`
            : "Start a sweep: these charts show how the score depends on each parameter once runs complete."
        }
      />
    );
  }

  return (
    <div className="space-y-6" data-testid="experiment-charts">
      <div className="flex flex-wrap items-end justify-between gap-3">
        <p className="text-sm text-muted" data-testid="charts-coverage">
          {formatInt(scored.length)} scored run{scored.length === 1 ? "" : "s"} of {formatInt(runs.data.total)}
          {runs.data.capped ? ` — only the first ${formatInt(RUNS_CAP)} runs are charted` : ""}
          {running ? " · refreshing every 10 s while the sweep runs" : ""}.
        </p>
        <label className="flex items-center gap-2 text-sm">
          Score
          <Select value={metric} onChange={(e) => setMetric(e.target.value)} className="h-8 max-w-52" data-testid="charts-metric">
            {metrics.map((m) => (
              <option key={m} value={m}>
                {m === "weighted_score" ? "weighted score" : m}
              </option>
            ))}
          </Select>
        </label>
      </div>

      <Card>
        <CardHeader title="Score distribution" description={`How many runs reached each ${metric} (20 bins from 0 to 1).`} />
        <CardBody>
          <EChart option={histogram} label={`Histogram of ${metric} over ${pluralize(scored.length, "run")}`} height={260} testId="chart-histogram" />
        </CardBody>
      </Card>

      <div className="grid gap-4 xl:grid-cols-2">
        <ImportanceChart experimentId={experimentId} sweepId={sweepId} colors={colors} running={running} />
        <ParetoChart runs={scored} keys={keys} metric={metric} colors={colors} />
      </div>

      {parallel ? (
        <Card>
          <CardHeader
            title="The whole sweep"
            description="One line per run across every swept parameter, ending at its score (colour: low orange → high blue). Drag on an axis to filter."
          />
          <CardBody>
            <EChart
              option={parallel}
              label={`Parallel coordinates of ${pluralize(scored.length, "run")} over ${varying.map((p) => p.key).join(", ")} and ${metric}`}
              height={360}
              testId="chart-parallel"
            />
          </CardBody>
        </Card>
      ) : (
        <p className="text-sm text-muted">Nothing varies between these runs, so there is no sweep to draw: add values to the parameter space.</p>
      )}

      {params.length > 0 && (
        <section aria-labelledby="by-parameter" className="space-y-3">
          <h2 id="by-parameter" className="text-lg font-semibold">
            Score by parameter value
          </h2>
          <div className="grid gap-4 xl:grid-cols-2">
            {params.map((param, i) => (
              <Card key={param.key}>
                <CardHeader
                  title={<span className="font-mono">{param.key}</span>}
                  description={
                    param.numeric && param.values.length > 12
                      ? "Each dot is a run."
                      : `Box: spread of the runs' ${metric} per value; diamond: mean. ${param.values.length} value${param.values.length === 1 ? "" : "s"}.`
                  }
                />
                <CardBody>
                  <EChart option={perParam[i]} label={`${metric} by ${param.key}`} height={260} testId={`chart-param-${param.key}`} />
                </CardBody>
              </Card>
            ))}
          </div>
        </section>
      )}
    </div>
  );
}
