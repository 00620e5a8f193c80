import { describe, expect, it } from "vitest";

import { boxStats, histogram, scoredRuns, sweptParameter, valueOf, type RunLike } from "./sweepData";

function run(id: string, temperature: number, template: string, tone: string, score: number | null, status = "completed"): RunLike {
  return {
    id,
    status,
    weighted_score: score,
    scores: score === null ? {} : { keyword: score },
    config: {
      stages: [
        { name: "extract", model: "m1", prompt_template: "Facts: {{ input }}", params: { temperature } },
        { name: "summarize", model: "m1", prompt_template: template, params: { temperature: 0 } },
      ],
      vars: { tone },
    },
  };
}

const keys = ["temperature", "stages.summarize.temperature", "stages.summarize.prompt_template", "vars.tone"];
const runs = [
  run("1", 0.2, "Summarize: {{ previous }} in a few words please", "dry", 0.4),
  run("2", 0.8, "TL;DR: {{ previous }}", "dry", 0.9),
  run("3", 0.8, "Summarize: {{ previous }} in a few words please", "warm", 0.7),
  run("4", 0.2, "TL;DR: {{ previous }}", "warm", null, "failed"),
];

describe("valueOf", () => {
  it("reads bare, stage and vars keys from a resolved config (stage keys beat bare keys)", () => {
    const config = runs[1].config;
    expect(valueOf(config, "temperature", keys)).toBe(0.8); // stage 0: summarize's temperature is its own key
    expect(valueOf(config, "stages.summarize.temperature", keys)).toBe(0);
    expect(valueOf(config, "stages.1.prompt_template", keys)).toBe("TL;DR: {{ previous }}");
    expect(valueOf(config, "vars.tone", keys)).toBe("dry");
    expect(valueOf(config, "model", keys)).toBe("m1");
  });
});

describe("sweptParameter", () => {
  const scored = scoredRuns(runs, "weighted_score");

  it("keeps finished scored runs only", () => {
    expect(scored.map((r) => r.id)).toEqual(["1", "2", "3"]);
  });

  it("sorts numeric values and indexes each run", () => {
    const p = sweptParameter(scored, "temperature", keys);
    expect(p.numeric).toBe(true);
    expect(p.values.map((v) => v.label)).toEqual(["0.2", "0.8"]);
    expect(p.indexOf).toEqual([0, 1, 1]);
  });

  it("labels long texts #1, #2 with a short preview", () => {
    const p = sweptParameter(scored, "stages.summarize.prompt_template", keys);
    expect(p.numeric).toBe(false);
    expect(p.values[0].label).toMatch(/^#1 Summarize/);
    expect(p.values[1].label).toMatch(/^#2 TL;DR/);
    expect(p.values[0].full).toBe("Summarize: {{ previous }} in a few words please");
  });
});

describe("statistics", () => {
  it("computes box stats and histograms", () => {
    expect(boxStats([1, 2, 3, 4, 5])).toEqual({ min: 1, q1: 2, median: 3, q3: 4, max: 5, mean: 3, count: 5 });
    expect(boxStats([])).toBeNull();
    const bins = histogram([0, 0.05, 0.5, 1], 10);
    expect(bins).toHaveLength(10);
    expect(bins[0].count).toBe(2);
    expect(bins[5].count).toBe(1);
    expect(bins[9].count).toBe(1);
  });
});
