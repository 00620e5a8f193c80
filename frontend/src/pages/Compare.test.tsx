import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { fakeApi, renderAt } from "../components/builder/testApi";
import { DiffText } from "../components/compare/DiffText";
import { wordDiff } from "../lib/diff";
import ComparePage from "./Compare";

const EXP = "44444444-4444-4444-4444-444444444444";
const A = "aaaaaaaa-0000-0000-0000-000000000001";
const B = "bbbbbbbb-0000-0000-0000-000000000002";
const C = "cccccccc-0000-0000-0000-000000000003";

function stage(sample: string, output: string, extra: object = {}) {
  return {
    stage_index: 0,
    stage_name: "main",
    sample_id: sample,
    prompt_sent: JSON.stringify([{ role: "user", content: `Say ${sample}` }]),
    response_raw: output,
    model_used: "m1",
    parameters: {},
    tokens_in: 5,
    tokens_out: 7,
    latency_ms: 12,
    cached: false,
    error: null,
    ...extra,
  };
}

function run(id: string, temperature: number, outputs: [string, string], scores: Record<string, number>, weighted: number) {
  return {
    id,
    experiment_id: EXP,
    sweep_id: null,
    config_hash: id.replace(/-/g, ""),
    config: {
      stages: [{ name: "main", endpoint_id: "e1", model: "m1", system_prompt: null, prompt_template: "Say {{ input }}", params: { temperature } }],
      vars: {},
    },
    status: "completed",
    started_at: null,
    completed_at: null,
    duration_ms: 1200,
    tokens_in: 10,
    tokens_out: 14,
    cost_estimate: 0,
    llm_calls: 2,
    cache_hits: 0,
    scores,
    weighted_score: weighted,
    rejected: false,
    error: null,
    repeat_index: 0,
    stage_results: [stage("s1", outputs[0]), stage("s2", outputs[1])],
    score_details: [],
  };
}

const runA = run(A, 0.2, ["The quick brown fox", "same answer"], { keyword: 0.5 }, 0.5);
const runB = run(B, 0.8, ["The slow brown fox jumps", "same answer"], { keyword: 1 }, 1);

function leaderboardEntry(r: typeof runA, rank: number) {
  return { rank, run_id: r.id, config: r.config, config_hash: r.config_hash, weighted_score: r.weighted_score, scores: r.scores, tokens_in: 1, tokens_out: 1, cost_estimate: 0, duration_ms: 1, status: "completed" };
}

function api() {
  return fakeApi({
    [`GET /api/v1/runs/${A}/paired-difference/${B}`]: { run_a: A, run_b: B, samples: 2, diff: 0.5, ci_low: 0, ci_high: 1, p_value: 0.5, significant: false },
    [`GET /api/v1/runs/${A}`]: runA,
    [`GET /api/v1/runs/${B}`]: runB,
    [`GET /api/v1/runs/${C}`]: { ...runB, id: C },
    "GET /api/v1/experiments/:id/leaderboard": { items: [leaderboardEntry(runB, 1), leaderboardEntry(runA, 2)] },
    "GET /api/v1/experiments/:id": {
      id: EXP,
      name: "demo",
      sample_data: [
        { id: "s1", input: "first" },
        { id: "s2", input: "second" },
      ],
      parameter_space: {},
    },
    "GET /api/v1/experiments": { items: [], total: 0, limit: 100, offset: 0 },
    "GET /api/v1/endpoints": { items: [], total: 0, limit: 200, offset: 0 },
  });
}

afterEach(() => vi.unstubAllGlobals());

describe("DiffText", () => {
  it("marks insertions and deletions with elements and words, not only colour", () => {
    const { parts } = wordDiff("alpha beta gamma", "alpha delta gamma");
    const { container } = render(<DiffText parts={parts} />);
    expect(container.querySelector("del")).toHaveTextContent("removed: beta");
    expect(container.querySelector("ins")).toHaveTextContent("added: delta");
    expect(container.querySelector("del")?.className).toContain("line-through");
    expect(container.querySelector("ins")?.className).toContain("underline");
  });

  it("shows one side only", () => {
    const { parts } = wordDiff("alpha beta", "alpha delta");
    const { container } = render(<DiffText parts={parts} side="a" />);
    expect(container.querySelector("ins")).toBeNull();
    expect(container).toHaveTextContent("alpha [removed: beta]");
  });
});

describe("Compare page", { timeout: 30_000 }, () => {
  it("shows the parameter diff, per-sample word diffs and the score overlay", async () => {
    api();
    renderAt(<ComparePage />, "/compare", `/compare?a=${A}&b=${B}`);
    const params = await screen.findByTestId("compare-params");
    const changed = within(params).getAllByTestId("param-changed");
    expect(changed).toHaveLength(1);
    expect(changed[0]).toHaveAttribute("data-path", "stages.main.params.temperature");
    expect(changed[0]).toHaveTextContent("0.2");
    expect(changed[0]).toHaveTextContent("0.8");

    const a = screen.getByTestId("diff-s1-a");
    const b = screen.getByTestId("diff-s1-b");
    expect(a.querySelector("del")).toHaveTextContent("quick");
    expect(a.querySelector("ins")).toBeNull();
    expect(within(b).getAllByText(/slow|jumps/).length).toBeGreaterThan(0);
    expect(b.querySelectorAll("ins")).toHaveLength(2);
    expect(screen.getByTestId("diff-s2")).toHaveTextContent("identical");
    expect(screen.getByTestId("compare-outputs")).toHaveTextContent("1 of 2 samples differ");

    expect(await screen.findByTestId("compare-paired-text")).toHaveTextContent(
      "B − A = +0.500 [0.000, +1.000] over 2 samples (p = 0.5, not significant: may be noise).",
    );

    const keyword = screen.getByTestId("compare-score-keyword");
    expect(keyword).toHaveTextContent("0.500");
    expect(keyword).toHaveTextContent("1.000");
    expect(keyword).toHaveTextContent("+0.500");
  });

  it("lets the user pick run B from the leaderboard when it is missing", async () => {
    const user = userEvent.setup();
    api();
    const { router } = renderAt(<ComparePage />, "/compare", `/compare?a=${A}`);
    expect(await screen.findByText("Pick run B")).toBeInTheDocument();
    const picker = screen.getByTestId("compare-pick-b");
    await within(picker).findByRole("option", { name: /#1 · 1\.000/ });
    await user.selectOptions(picker, B);
    expect(router.state.location.search).toContain(`b=${B}`);
    expect(await screen.findByTestId("compare-scores")).toBeInTheDocument();
  });

  it("rates each side's output per sample (the same per-output rating as the run page)", async () => {
    const user = userEvent.setup();
    const calls = fakeApi({
      [`GET /api/v1/runs/${A}`]: runA,
      [`GET /api/v1/runs/${B}`]: runB,
      [`GET /api/v1/runs/${A}/ratings`]: { items: [], human_score: null, count: 0 },
      [`GET /api/v1/runs/${B}/ratings`]: { items: [], human_score: null, count: 0 },
      [`PUT /api/v1/runs/${B}/samples/s1/rating`]: {
        items: [{ run_id: B, sample_id: "s1", rating: 3, rater: "admin", comment: null, updated_at: "2025-01-01T00:00:00Z", mine: true }],
        human_score: 0.5,
        count: 1,
      },
      "GET /api/v1/experiments/:id/leaderboard": { items: [] },
      "GET /api/v1/experiments/:id": { id: EXP, name: "demo", sample_data: [{ id: "s1", input: "first" }], parameter_space: {} },
      "GET /api/v1/experiments": { items: [], total: 0, limit: 100, offset: 0 },
      "GET /api/v1/endpoints": { items: [], total: 0, limit: 200, offset: 0 },
      "GET /api/v1/auth/me": { id: "u", username: "admin", is_admin: true, role: "admin" },
    });
    renderAt(<ComparePage />, "/compare", `/compare?a=${A}&b=${B}`);
    const side = await screen.findByTestId(`compare-rating-${B.slice(0, 8)}-s1`);
    await user.click(within(side).getByRole("button", { name: "3 of 5 (fair)" }));
    expect(await within(side).findByRole("button", { name: "3 of 5 (fair)", pressed: true })).toBeInTheDocument();
    expect(calls.find((c) => c.method === "PUT")?.body).toEqual({ rating: 3 });
  });
});
