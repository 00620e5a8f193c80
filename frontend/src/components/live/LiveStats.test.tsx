import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Experiment } from "../../api/client";
import { initialLiveState, liveReducer, type LiveEvent } from "../../lib/liveReducer";
import { fakeApi, renderAt } from "../builder/testApi";
import { LiveStats } from "./LiveStats";
import { describeEstimate, StartSweepForm } from "./StartSweepForm";

const SWEEP = "sweep-1";
let seq = 0;
// Partial payloads on purpose: the reducer must cope with whatever fields an event carries.
const ev = (type: string, data: Record<string, unknown>, run_id: string | null = null): LiveEvent =>
  ({
    type,
    seq: ++seq,
    experiment_id: "exp-1",
    sweep_id: SWEEP,
    run_id,
    data,
    ts: "2026-12-01T12:00:00Z",
  }) as unknown as LiveEvent;

function fold(events: LiveEvent[]) {
  return liveReducer(initialLiveState(), { kind: "events", events });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("LiveStats", () => {
  it("shows a sweep whose runs all failed as 'completed, N failed' in the warning colour, not a full bar", () => {
    const state = fold([
      ev("sweep.started", { type: "grid", total: 3 }),
      ...["r1", "r2", "r3"].map((id) => ev("run.failed", { status: "failed", error: "boom" }, id)),
      ev("experiment.completed", { completed: 3, total: 3, failed: 3, cached: 0, tokens_in: 0, tokens_out: 0, cost_estimate: 0, eta_s: 0 }),
    ]);
    render(<LiveStats state={state} feedStatus="live" status="completed" />);
    const badge = screen.getByTestId("status-completed-failed");
    expect(badge).toHaveTextContent("completed, 3 failed");
    expect(badge.parentElement).toHaveClass("text-warn");
    expect(screen.getByTestId("progress-ok")).toHaveStyle({ width: "0%" });
    expect(screen.getByTestId("progress-failed")).toHaveClass("bg-warn");
    expect(screen.getByTestId("progress-failed")).toHaveStyle({ width: "100%" });
    const done = state.timeline.find((t) => t.type === "experiment.completed");
    expect(done?.summary).toBe("Completed, 3 failed");
    expect(done?.tone).toBe("warn");
  });

  it("keeps a clean sweep's plain 'completed' badge", () => {
    const state = fold([
      ev("sweep.started", { type: "grid", total: 1 }),
      ev("experiment.completed", { completed: 1, total: 1, failed: 0, cached: 0, tokens_in: 1, tokens_out: 1, cost_estimate: 0.01, eta_s: 0 }),
    ]);
    render(<LiveStats state={state} feedStatus="live" status="completed" />);
    expect(screen.queryByTestId("status-completed-failed")).toBeNull();
    expect(screen.getByText("completed")).toBeInTheDocument();
  });

  it("shows what was spent and what the cache saved apart, and counts paid calls apart from hits", () => {
    const state = fold([
      ev("sweep.started", { type: "grid", total: 4 }),
      ev("sweep.progress", {
        completed: 4, total: 4, failed: 0, cached: 4, tokens_in: 10_000, tokens_out: 4_604, cost_estimate: 0.07, eta_s: 0,
        tokens_in_spent: 0, tokens_out_spent: 0, cost_spent: 0, tokens_saved: 14_604, cost_saved: 0.07, llm_calls: 0, cache_hits: 12,
      }),
    ]);
    render(<LiveStats state={state} feedStatus="live" status="running" />);
    expect(screen.getByTestId("stat-cost")).toHaveTextContent("$0.00");
    expect(screen.getByTestId("stat-tokens")).toHaveTextContent("0");
    expect(screen.getByTestId("stat-saved")).toHaveTextContent("$0.07");
    expect(screen.getByTestId("stat-calls")).toHaveTextContent("0");
    expect(screen.getByTestId("stat-hits")).toHaveTextContent("12");
    expect(screen.getByTestId("stat-cache")).toHaveTextContent("100");
  });
});

const EXPERIMENT = {
  id: "exp-1",
  project_id: "p-1",
  name: "flow",
  status: "draft",
  grid_size: 4,
  sample_data: [{ id: "s1", input: "x" }],
  pipeline_stages: [{ name: "a", model: "m1", prompt_template: "{{ input }}" }],
  scoring_config: [],
  parameter_space: {},
} as unknown as Experiment;

describe("StartSweepForm", () => {
  it("offers exactly the strategies the server runs", async () => {
    fakeApi({
      "POST /api/v1/experiments/estimate": { runs: 4, calls: 4, samples: 1, stages: 1, tokens_in: 10, tokens_out: 10, cost: 0, priced: false },
    });
    renderAt(<StartSweepForm experiment={EXPERIMENT} />, "/", "/");
    const select = await screen.findByTestId("sweep-type");
    const options = within(select).getAllByRole("option").map((o) => (o as HTMLOptionElement).value);
    expect(options).toEqual(["grid", "random", "guided"]);
    await userEvent.selectOptions(select, "random");
    expect(screen.getByText("Required for random sweeps.")).toBeInTheDocument();
    expect(screen.queryByText(/Configurations to try/)).toBeNull();
  });

  it("describes scorer calls and what the cache already holds", () => {
    const text = describeEstimate({
      runs: 4, calls: 24, llm_calls: 12, scorer_calls: 12, cached_calls: 12, cache_checked: 12,
      samples: 3, stages: 1, tokens_in: 1000, tokens_out: 500, cost: 0.35, cost_usd_uncached: 0, priced: true,
    });
    expect(text).toContain("24 calls (12 LLM + 12 scorer)");
    expect(text).toContain("12 already cached");
    expect(text).toContain("$0.00 to pay (of ~$0.35)");
  });
});
