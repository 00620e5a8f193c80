// ECharts options of the analysis charts: parameter importance (bars) and score vs cost (Pareto).
import { SCORE_HIGH, SCORE_LOW, type ChartColors, type ChartOption } from "./echarts";
import { axisStyle, base, escapeHtml, TICK_SIZE, yAxisTitled } from "./options";
import type { CostPoint } from "./pareto";

/** Horizontal bars, most important key on top, with its share as a percentage. */
export function importanceOption(items: { key: string; importance: number }[], colors: ChartColors): ChartOption {
  const rows = [...items].reverse(); // ECharts draws a category y axis bottom-up
  return {
    ...base(colors),
    grid: { left: 16, right: 56, top: 8, bottom: 48, containLabel: true },
    tooltip: {
      ...base(colors).tooltip,
      trigger: "axis",
      axisPointer: { type: "shadow" },
      formatter: (points: { dataIndex: number }[]) => {
        const row = rows[points[0]?.dataIndex ?? 0];
        return `${escapeHtml(row.key)}: <b>${(row.importance * 100).toFixed(1)}%</b> of the score's variation`;
      },
    },
    xAxis: { type: "value", name: "importance (share, PED-ANOVA)", nameLocation: "middle", nameGap: 32, min: 0, max: 1, ...axisStyle(colors) },
    yAxis: {
      type: "category",
      data: rows.map((r) => r.key),
      ...axisStyle(colors),
      axisLabel: { color: colors.fg, fontSize: TICK_SIZE, margin: 12, width: 180, overflow: "truncate" },
      splitLine: { show: false },
    },
    series: [
      {
        type: "bar",
        data: rows.map((r) => r.importance),
        itemStyle: { color: SCORE_HIGH },
        emphasis: { focus: "self", itemStyle: { color: SCORE_LOW } },
        blur: { itemStyle: { opacity: 0.35 } },
        label: { show: true, position: "right", color: colors.fg, fontSize: TICK_SIZE, formatter: (p: { value: number }) => `${(p.value * 100).toFixed(0)}%` },
        barMaxWidth: 28,
      },
    ],
  };
}

export interface LabelledPoint extends CostPoint {
  label: string;
}

/** Every run as a dot (cost against score); the Pareto front as a stepped line through its runs. */
export function paretoOption(points: LabelledPoint[], front: LabelledPoint[], metric: string, colors: ChartColors): ChartOption {
  const ids = new Set(front.map((p) => p.id));
  const others = points.filter((p) => !ids.has(p.id));
  const tooltip = (p: LabelledPoint) => `${escapeHtml(p.label)}<br/>${metric}: <b>${p.score.toFixed(3)}</b> · cost $${p.cost.toFixed(4)}`;
  return {
    ...base(colors),
    grid: { left: 64, right: 24, top: 36, bottom: 56 },
    legend: { top: 0, textStyle: { color: colors.fg, fontSize: TICK_SIZE } },
    tooltip: { ...base(colors).tooltip, trigger: "item", formatter: (item: { data: { point: LabelledPoint } }) => tooltip(item.data.point) },
    xAxis: { type: "value", name: "cost per run (USD)", nameLocation: "middle", nameGap: 36, scale: true, ...axisStyle(colors) },
    yAxis: yAxisTitled(metric, colors, { min: 0, max: 1 }),
    series: [
      {
        name: "runs",
        type: "scatter",
        data: others.map((p) => ({ value: [p.cost, p.score], point: p })),
        symbolSize: 7,
        itemStyle: { color: colors.muted, opacity: 0.6 },
        emphasis: { focus: "self", scale: 1.6, itemStyle: { opacity: 1 } },
        large: others.length > 2000,
      },
      {
        name: "Pareto front (best score for its cost)",
        type: "line",
        step: "end",
        data: front.map((p) => ({ value: [p.cost, p.score], point: p })),
        symbol: "circle",
        symbolSize: 10,
        lineStyle: { color: SCORE_LOW, width: 2 },
        itemStyle: { color: SCORE_LOW, borderColor: colors.panel, borderWidth: 1 },
        emphasis: { focus: "series", scale: 1.4 },
        z: 3,
      },
    ],
  };
}
