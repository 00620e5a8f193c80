// Parameter importance (Optuna's PED-ANOVA, computed by the server) and score against cost with the
// Pareto front (computed here from the runs the Charts tab already loaded).
import { useMemo } from "react";

import { useImportance } from "../../api/queries/importance";
import { pluralize } from "../../lib/format";
import { useValueLabel } from "../../lib/variants";
import { configValue } from "../runs/configValue";
import { Card, CardBody, CardHeader } from "../ui/Card";
import { ErrorMessage } from "../ui/ErrorMessage";
import { Skeleton } from "../ui/Spinner";
import { importanceOption, paretoOption, type LabelledPoint } from "./analysisOptions";
import { EChart } from "./EChart";
import type { ChartColors } from "./echarts";
import { paretoFront } from "./pareto";
import { scoreOf, shorten, type RunLike } from "./sweepData";

export function ImportanceChart({ experimentId, sweepId, colors, running }: { experimentId: string; sweepId?: string; colors: ChartColors; running: boolean }) {
  const importance = useImportance(experimentId, sweepId, { refetchInterval: running ? 15_000 : false });
  const option = useMemo(() => (importance.data?.items.length ? importanceOption(importance.data.items, colors) : null), [importance.data, colors]);
  return (
    <Card data-testid="importance-card">
      <CardHeader
        title="Parameter importance"
        description="How much of the weighted score's variation each swept parameter explains (Optuna's PED-ANOVA over the scored runs; shares add up to 100%)."
      />
      <CardBody>
        {importance.isPending ? (
          <Skeleton className="h-40" />
        ) : importance.isError ? (
          <ErrorMessage error={importance.error} title="Could not compute the importance" onRetry={() => void importance.refetch()} />
        ) : option ? (
          <>
            <EChart
              option={option}
              label={`Importance: ${importance.data.items.map((i) => `${i.key} ${(i.importance * 100).toFixed(0)}%`).join(", ")}`}
              height={Math.max(140, 56 + importance.data.items.length * 40)}
              testId="chart-importance"
            />
            <p className="mt-1 text-xs text-muted" data-testid="importance-runs">
              From {pluralize(importance.data.runs_used, "scored run")}
              {importance.data.runs_used < 30 ? ": with this few runs the split is rough, more runs sharpen it" : ""}.
            </p>
          </>
        ) : (
          <p className="text-sm text-muted" data-testid="importance-reason">
            {importance.data.reason ?? "Nothing to rank yet."}
          </p>
        )}
      </CardBody>
    </Card>
  );
}

export function ParetoChart({ runs, keys, metric, colors }: { runs: RunLike[]; keys: string[]; metric: string; colors: ChartColors }) {
  const valueLabel = useValueLabel();
  const points = useMemo<LabelledPoint[]>(
    () =>
      runs.flatMap((run) => {
        const score = scoreOf(run, metric);
        const cost = (run as RunLike & { cost_estimate?: number }).cost_estimate;
        if (score === null || typeof cost !== "number") return [];
        const label = keys.map((k) => `${k}=${shorten(valueLabel(k, configValue(run.config, k)).text, 40)}`).join(", ") || run.id.slice(0, 8);
        return [{ id: run.id, cost, score, label }];
      }),
    [runs, keys, metric, valueLabel],
  );
  const front = useMemo(() => paretoFront(points), [points]);
  const option = useMemo(() => paretoOption(points, front, metric, colors), [points, front, metric, colors]);
  const priced = points.some((p) => p.cost > 0);
  return (
    <Card data-testid="pareto-card">
      <CardHeader
        title="Score against cost"
        description={`Each dot is a run; the line joins the Pareto front: the runs no other run beats on both ${metric} and cost.`}
      />
      <CardBody>
        <EChart option={option} label={`${metric} against cost for ${pluralize(points.length, "run")}; ${pluralize(front.length, "run")} on the Pareto front`} height={300} testId="chart-pareto" />
        <p className="mt-1 text-xs text-muted" data-testid="pareto-front">
          {pluralize(front.length, "run")} on the front{priced ? "" : " · every run cost $0 (no pricing on the endpoints, or all cached)"}.
        </p>
      </CardBody>
    </Card>
  );
}
