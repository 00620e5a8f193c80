// ECharts, tree-shaken: only the charts and components the experiment charts use, on canvas.
// This module (and so echarts) is only reached through the lazily loaded ExperimentCharts.
import { BarChart, BoxplotChart, LineChart, ParallelChart, ScatterChart } from "echarts/charts";
import { GridComponent, LegendComponent, ParallelComponent, TooltipComponent, VisualMapComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([
  BarChart,
  BoxplotChart,
  LineChart,
  ParallelChart,
  ScatterChart,
  GridComponent,
  LegendComponent,
  ParallelComponent,
  TooltipComponent,
  VisualMapComponent,
  CanvasRenderer,
]);

export { echarts };
export type { EChartsCoreOption as ChartOption } from "echarts/core";

export interface ChartColors {
  fg: string;
  muted: string;
  line: string;
  panel: string;
  accent: string;
  good: string;
  warn: string;
  bad: string;
}

/** Okabe & Ito's colour-blind-safe palette (no red/green pair): orange, sky blue, bluish green,
 * yellow, blue, vermillion, reddish purple. Low scores are orange, high ones blue. */
export const OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"] as const;
export const SCORE_LOW = "#E69F00";
export const SCORE_MID = "#C9C9C9";
export const SCORE_HIGH = "#0072B2";

/** The app's palette (CSS variables of the current theme) for chart text, axes and series. */
export function chartColors(): ChartColors {
  const style = getComputedStyle(document.documentElement);
  const read = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  return {
    fg: read("--pl-fg", "#151922"),
    muted: read("--pl-muted", "#5b6474"),
    line: read("--pl-line", "#d9dde5"),
    panel: read("--pl-panel", "#ffffff"),
    accent: read("--pl-accent", "#4338ca"),
    good: read("--pl-good", "#15803d"),
    warn: read("--pl-warn", "#b45309"),
    bad: read("--pl-bad", "#b91c1c"),
  };
}
