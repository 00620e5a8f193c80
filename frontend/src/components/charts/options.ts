// ECharts options of the experiment charts, built from plain data and the theme's colours.
import { OKABE_ITO, SCORE_HIGH, SCORE_LOW, SCORE_MID, type ChartColors, type ChartOption } from "./echarts";
import { boxStats, histogram, scoreOf, shorten, type RunLike, type SweptParameter } from "./sweepData";

/** Ticks and axis titles big enough to read (13 px), labels kept off the axis line. */
export const TICK_SIZE = 13;
export function axisStyle(colors: ChartColors) {
  return {
    axisLine: { lineStyle: { color: colors.line } },
    axisTick: { lineStyle: { color: colors.line } },
    axisLabel: { color: colors.muted, fontSize: TICK_SIZE, margin: 10 },
    splitLine: { lineStyle: { color: colors.line, opacity: 0.6 } },
    nameTextStyle: { color: colors.fg, fontSize: TICK_SIZE, fontWeight: 500 },
  };
}

/** A y axis whose title is written along it, beside the ticks, so it is never clipped at the top. */
export function yAxisTitled(name: string, colors: ChartColors, extra: Record<string, unknown> = {}) {
  return { type: "value", name, nameLocation: "middle", nameRotate: 90, nameGap: 44, ...axisStyle(colors), ...extra };
}

export function base(colors: ChartColors) {
  return {
    backgroundColor: "transparent",
    color: [...OKABE_ITO],
    textStyle: { color: colors.fg, fontFamily: "inherit" },
    animation: false,
    tooltip: {
      backgroundColor: colors.panel,
      borderColor: colors.line,
      textStyle: { color: colors.fg },
      confine: true,
    },
  };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A histogram of the runs' scores in 20 bins over [0, 1]. */
export function histogramOption(runs: RunLike[], metric: string, colors: ChartColors): ChartOption {
  const values = runs.map((r) => scoreOf(r, metric)).filter((v): v is number => v !== null);
  const bins = histogram(values, 20);
  return {
    ...base(colors),
    grid: { left: 64, right: 16, top: 16, bottom: 56 },
    tooltip: {
      ...base(colors).tooltip,
      trigger: "axis",
      axisPointer: { type: "shadow" },
      formatter: (items: { dataIndex: number }[]) => {
        const bin = bins[items[0]?.dataIndex ?? 0];
        return `${bin.lower.toFixed(2)}–${bin.upper.toFixed(2)}: <b>${bin.count}</b> run${bin.count === 1 ? "" : "s"}`;
      },
    },
    xAxis: {
      type: "category",
      name: metric,
      nameLocation: "middle",
      nameGap: 36,
      data: bins.map((b) => b.lower.toFixed(2)),
      ...axisStyle(colors),
      splitLine: { show: false },
    },
    yAxis: yAxisTitled("runs", colors, { minInterval: 1 }),
    series: [
      {
        type: "bar",
        data: bins.map((b) => b.count),
        itemStyle: { color: SCORE_HIGH },
        barCategoryGap: "8%",
        emphasis: { focus: "self", itemStyle: { color: SCORE_LOW } },
        blur: { itemStyle: { opacity: 0.35 } },
      },
    ],
  };
}

/** Score by one parameter: box plots and means per value, or a scatter for many numeric values. */
export function parameterOption(param: SweptParameter, runs: RunLike[], metric: string, colors: ChartColors): ChartOption {
  const scores = runs.map((r) => scoreOf(r, metric));
  if (param.numeric && param.values.length > 12) {
    const points = runs
      .map((_, i) => [param.values[param.indexOf[i]].raw as number, scores[i]])
      .filter((p): p is [number, number] => p[1] !== null);
    return {
      ...base(colors),
      grid: { left: 64, right: 16, top: 16, bottom: 56 },
      tooltip: { ...base(colors).tooltip, trigger: "item", formatter: (p: { value: number[] }) => `${param.key} = ${p.value[0]}<br/>${metric}: <b>${p.value[1].toFixed(3)}</b>` },
      xAxis: { type: "value", name: param.key, nameLocation: "middle", nameGap: 36, scale: true, ...axisStyle(colors) },
      yAxis: yAxisTitled(metric, colors, { min: 0, max: 1 }),
      series: [
        {
          type: "scatter",
          data: points,
          symbolSize: 6,
          itemStyle: { color: SCORE_HIGH, opacity: 0.55 },
          emphasis: { focus: "self", scale: 1.6, itemStyle: { opacity: 1, color: SCORE_LOW } },
          large: points.length > 2000,
        },
      ],
    };
  }
  const groups = param.values.map(() => [] as number[]);
  runs.forEach((_, i) => {
    const score = scores[i];
    if (score !== null) groups[param.indexOf[i]].push(score);
  });
  const stats = groups.map((g) => boxStats(g));
  const labels = param.values.map((v) => v.label);
  return {
    ...base(colors),
    grid: { left: 64, right: 16, top: 16, bottom: labels.some((l) => l.length > 8) ? 84 : 56 },
    tooltip: {
      ...base(colors).tooltip,
      trigger: "axis",
      axisPointer: { type: "shadow" },
      formatter: (items: { dataIndex: number }[]) => {
        const index = items[0]?.dataIndex ?? 0;
        const s = stats[index];
        const head = escapeHtml(shorten(param.values[index].full, 160));
        if (!s) return `${head}<br/>no scored run`;
        return `${head}<br/>${s.count} run${s.count === 1 ? "" : "s"} · mean <b>${s.mean.toFixed(3)}</b><br/>median ${s.median.toFixed(3)} · min ${s.min.toFixed(3)} · max ${s.max.toFixed(3)}`;
      },
    },
    xAxis: {
      type: "category",
      data: labels,
      name: param.key,
      nameLocation: "middle",
      nameGap: labels.some((l) => l.length > 8) ? 64 : 36,
      ...axisStyle(colors),
      axisLabel: { color: colors.muted, fontSize: TICK_SIZE, margin: 12, interval: 0, rotate: labels.some((l) => l.length > 8) ? 20 : 0, width: 110, overflow: "truncate" },
      splitLine: { show: false },
    },
    yAxis: yAxisTitled(metric, colors, { min: 0, max: 1 }),
    series: [
      {
        name: "spread",
        type: "boxplot",
        data: stats.map((s) => (s ? [s.min, s.q1, s.median, s.q3, s.max] : null)),
        itemStyle: { color: "transparent", borderColor: SCORE_HIGH, borderWidth: 1.5 },
        emphasis: { focus: "self", itemStyle: { borderWidth: 3 } },
        boxWidth: [8, 40],
      },
      {
        name: "mean",
        type: "scatter",
        data: stats.map((s) => (s ? s.mean : null)),
        symbol: "diamond",
        symbolSize: 11,
        itemStyle: { color: SCORE_LOW, borderColor: colors.panel, borderWidth: 1 },
        emphasis: { scale: 1.5 },
      },
    ],
  };
}

/** One line per run across every swept parameter and the score, coloured by score. */
export function parallelOption(params: SweptParameter[], runs: RunLike[], metric: string, colors: ChartColors): ChartOption {
  const axes = [
    ...params.map((p, dim) =>
      p.numeric
        ? { dim, name: shorten(p.key, 24), type: "value" as const, scale: true }
        : { dim, name: shorten(p.key, 24), type: "category" as const, data: p.values.map((v) => v.label) },
    ),
    { dim: params.length, name: metric, type: "value" as const, min: 0, max: 1 },
  ];
  const data = runs
    .map((run, i) => {
      const score = scoreOf(run, metric);
      if (score === null) return null;
      return [...params.map((p) => (p.numeric ? (p.values[p.indexOf[i]].raw as number) : p.values[p.indexOf[i]].label)), score];
    })
    .filter((row): row is (string | number)[] => row !== null);
  const style = axisStyle(colors);
  return {
    ...base(colors),
    parallel: { left: 56, right: 130, top: 40, bottom: 32, parallelAxisDefault: { nameTextStyle: { color: colors.fg, fontSize: TICK_SIZE }, nameGap: 14, axisLine: style.axisLine, axisTick: style.axisTick, axisLabel: { ...style.axisLabel, width: 90, overflow: "truncate" } } },
    parallelAxis: axes,
    visualMap: {
      type: "continuous",
      min: 0,
      max: 1,
      dimension: params.length,
      calculable: true,
      right: 16,
      top: "middle",
      itemHeight: 120,
      text: ["high", "low"],
      textStyle: { color: colors.muted },
      inRange: { color: [SCORE_LOW, SCORE_MID, SCORE_HIGH] },
    },
    series: [
      {
        type: "parallel",
        data,
        lineStyle: { width: 1, opacity: data.length > 1000 ? 0.15 : data.length > 200 ? 0.3 : 0.6 },
        emphasis: { focus: "self", lineStyle: { width: 3, opacity: 1 } },
        blur: { lineStyle: { opacity: 0.05 } },
        progressive: 500,
        smooth: false,
      },
    ],
  };
}
