import { useEffect, useRef } from "react";

import { echarts, type ChartOption } from "./echarts";

interface Props {
  option: ChartOption;
  /** Accessible description of what the chart shows (canvas has no text for screen readers). */
  label: string;
  height?: number;
  testId?: string;
}

/** One ECharts instance bound to a div: created once, updated with each option, resized with its box. */
export function EChart({ option, label, height = 280, testId }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<ReturnType<typeof echarts.init> | null>(null);

  useEffect(() => {
    if (!box.current) return;
    const instance = echarts.init(box.current, undefined, { renderer: "canvas" });
    chart.current = instance;
    const observer = typeof ResizeObserver !== "undefined" ? new ResizeObserver(() => instance.resize()) : null;
    observer?.observe(box.current);
    return () => {
      observer?.disconnect();
      instance.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption(option, { notMerge: true, lazyUpdate: true });
  }, [option]);

  return <div ref={box} role="img" aria-label={label} data-testid={testId} style={{ height, width: "100%" }} />;
}
