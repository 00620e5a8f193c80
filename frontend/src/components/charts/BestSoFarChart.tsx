// The Live tab's "best score so far against LLM calls spent" (lazy-loaded with echarts): the curve a
// tuning sweep is watched by, one step per run that raised the best; every finished run is a dot,
// coloured by who proposed it.
import { useEffect, useMemo, useState } from "react";

import { useAllRuns } from "../../api/queries/runs";
import { formatInt, formatScore, pluralize, shortId } from "../../lib/format";
import { useTheme } from "../../lib/theme";
import { Card, CardBody, CardHeader } from "../ui/Card";
import { EmptyState } from "../ui/EmptyState";
import { ErrorMessage } from "../ui/ErrorMessage";
import { OriginBadge } from "../ui/OriginBadge";
import { Skeleton } from "../ui/Spinner";
import { bestPoint, bestSoFar, type CurvePoint } from "./bestSoFar";
import { EChart } from "./EChart";
import { chartColors, OKABE_ITO, SCORE_HIGH, type ChartColors, type ChartOption } from "./echarts";
import { axisStyle, base, yAxisTitled } from "./options";

/** Past this many runs the curve is refreshed less often while the sweep runs. */
const BIG_SWEEP = 2_000;

/** Dot colours per origin (Okabe–Ito; the step line is the score blue). */
const ORIGIN_GROUPS: { name: string; origins: string[]; color: string }[] = [
  { name: "sampler", origins: ["sampler"], color: OKABE_ITO[0] },
  { name: "agent", origins: ["agent"], color: OKABE_ITO[6] },
  { name: "redirect", origins: ["redirect"], color: OKABE_ITO[2] },
  { name: "rewrite", origins: ["rewrite"], color: OKABE_ITO[5] },
];

function groupOf(point: CurvePoint): string {
  return ORIGIN_GROUPS.find((g) => point.origin && g.origins.includes(point.origin))?.name ?? "sweep";
}

export function bestSoFarOption(points: CurvePoint[], colors: ChartColors): ChartOption {
  const tooltip = (p: CurvePoint) =>
    `run ${shortId(p.runId)}${p.origin ? ` · ${p.origin}` : ""}<br/>score <b>${formatScore(p.score)}</b> · best so far <b>${formatScore(p.best)}</b><br/>after ${formatInt(p.calls)} paid LLM calls`;
  const scored = points.filter((p) => p.score !== null);
  const present = new Set(scored.map(groupOf));
  const groups = [{ name: "sweep", origins: [], color: colors.muted }, ...ORIGIN_GROUPS].filter((g) => present.has(g.name));
  // Every finished run after the first score is a step point, so a stretch without improvement shows flat.
  const line = points.filter((p) => p.best !== null);
  return {
    ...base(colors),
    grid: { left: 64, right: 20, top: 36, bottom: 56 },
    legend: { top: 0, type: "scroll", textStyle: { color: colors.fg, fontSize: 12 } },
    tooltip: { ...base(colors).tooltip, trigger: "item", formatter: (item: { data: { point: CurvePoint } }) => tooltip(item.data.point) },
    xAxis: { type: "value", name: "LLM calls paid", nameLocation: "middle", nameGap: 36, min: 0, minInterval: 1, ...axisStyle(colors) },
    yAxis: yAxisTitled("weighted score", colors, { min: 0, max: 1 }),
    series: [
      {
        name: "best so far",
        type: "line",
        step: "end",
        data: line.map((p) => ({ value: [p.calls, p.best], point: p })),
        symbol: "none",
        lineStyle: { color: SCORE_HIGH, width: 2.5 },
        itemStyle: { color: SCORE_HIGH },
        z: 2,
      },
      ...groups.map((g) => ({
        name: g.name === "sweep" ? "runs" : `${g.name} runs`,
        type: "scatter",
        data: scored.filter((p) => groupOf(p) === g.name).map((p) => ({ value: [p.calls, p.score], point: p })),
        symbolSize: (_: unknown, params: { data: { point: CurvePoint } }) => (params.data.point.improved ? 10 : 7),
        itemStyle: { color: g.color, opacity: g.name === "sweep" ? 0.55 : 0.9, borderColor: colors.panel, borderWidth: 1 },
        emphasis: { focus: "self", scale: 1.5 },
        z: 3,
      })),
    ],
  };
}

/** The best-so-far curve of one sweep (or of the experiment when `sweepId` is undefined). */
export default function BestSoFarChart({ experimentId, sweepId, running }: { experimentId: string; sweepId?: string; running: boolean }) {
  // Polled while the sweep runs (every 20 s past 2,000 runs: the whole list is fetched), once more when it stops.
  const [big, setBig] = useState(false);
  const runs = useAllRuns(experimentId, {
    sweepId,
    refetchInterval: running ? (big ? 20_000 : 4_000) : false,
  });
  const total = runs.data?.total ?? 0;
  useEffect(() => setBig(total > BIG_SWEEP), [total]);
  const { refetch } = runs;
  useEffect(() => {
    if (!running) void refetch();
  }, [running, refetch]);
  const { theme } = useTheme();
  const colors = useMemo(() => chartColors(), [theme]);
  const points = useMemo(() => bestSoFar(runs.data?.items ?? []), [runs.data]);
  const option = useMemo(() => bestSoFarOption(points, colors), [points, colors]);
  const best = bestPoint(points);
  const calls = points.length ? points[points.length - 1].calls : 0;

  let body;
  if (runs.isPending) body = <Skeleton className="h-64" />;
  else if (runs.isError) body = <ErrorMessage error={runs.error} title="Could not load the runs for the curve" onRetry={() => void runs.refetch()} />;
  else if (points.length === 0) body = <EmptyState title="No finished run yet" description="The curve starts with the first finished run of the sweep." />;
  else
    body = (
      <>
        <EChart
          option={option}
          label={`Best weighted score so far against LLM calls paid, over ${pluralize(points.length, "finished run")}; best ${formatScore(best?.best)} after ${formatInt(best?.calls ?? 0)} calls`}
          height={280}
          testId="chart-best-so-far"
        />
        <p className="mt-1 flex flex-wrap items-center gap-x-1.5 text-xs text-muted" data-testid="best-so-far-summary" data-points={points.length}>
          {best ? (
            <>
              <span className="num">
                Best {formatScore(best.best)} after {formatInt(best.calls)} of {formatInt(calls)} paid calls · run {shortId(best.runId)}
              </span>
              <OriginBadge origin={best.origin} />
            </>
          ) : (
            <span className="num">{pluralize(points.length, "finished run")}, none scored yet · {formatInt(calls)} paid calls</span>
          )}
        </p>
      </>
    );
  return (
    <Card data-testid="best-so-far-card">
      <CardHeader title="Best score so far" description="Against the LLM calls paid, in the order runs finished (cache hits cost nothing). Dots are runs, by who proposed them." />
      <CardBody>{body}</CardBody>
    </Card>
  );
}
