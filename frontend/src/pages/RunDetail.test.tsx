import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { fakeApi, renderAt, Reply, type FakeRequest } from "../components/builder/testApi";
import RunDetailPage from "./RunDetail";

const RUN = "dddddddd-0000-0000-0000-000000000001";
const EXP = "44444444-4444-4444-4444-444444444444";

const run = {
  id: RUN,
  experiment_id: EXP,
  sweep_id: null,
  config_hash: "abc123def4567890",
  config: { stages: [{ name: "main", model: "m1", prompt_template: "Say {{ input }}", params: { temperature: 0.2 } }], vars: {} },
  status: "completed",
  started_at: "2025-01-01T00:00:00Z",
  completed_at: "2025-01-01T00:00:01Z",
  duration_ms: 1000,
  tokens_in: 10,
  tokens_out: 20,
  cost_estimate: 0.001,
  llm_calls: 2,
  cache_hits: 1,
  scores: { keyword: 0.5 },
  weighted_score: 0.5,
  rejected: false,
  error: null,
  repeat_index: 0,
  stage_results: [
    {
      stage_index: 0,
      stage_name: "main",
      sample_id: "s1",
      prompt_sent: JSON.stringify([
        { role: "system", content: "Be brief." },
        { role: "user", content: "Say hello" },
      ]),
      response_raw: "hello alpha",
      model_used: "m1",
      parameters: { temperature: 0.2 },
      tokens_in: 5,
      tokens_out: 10,
      latency_ms: 40,
      cached: true,
      error: null,
    },
  ],
  score_details: [{ name: "keyword", value: 0.5, metadata: { per_sample: { s1: 0.5 }, details: { s1: { found: ["alpha"] } } }, comment: null, created_at: null }],
};

function api(scoreReply: (request: FakeRequest) => unknown, runBody: unknown = run) {
  return fakeApi({
    [`GET /api/v1/runs/${RUN}`]: runBody,
    [`POST /api/v1/runs/${RUN}/score`]: scoreReply,
    [`PUT /api/v1/runs/${RUN}`]: (request: FakeRequest) => ({ ...run, rejected: (request.body as { rejected: boolean }).rejected }),
    "GET /api/v1/experiments/:id": {
      id: EXP,
      name: "demo",
      sample_data: [{ id: "s1", input: "hello", reference: "hi" }],
      scoring_config: [{ scorer: "keyword", weight: 2, config: { keywords: ["alpha"] } }],
      parameter_space: {},
    },
    "GET /api/v1/auth/me": { id: "u", username: "admin", is_admin: true, role: "admin" },
    "GET /api/v1/endpoints": { items: [], total: 0, limit: 200, offset: 0 },
  });
}

afterEach(() => vi.unstubAllGlobals());

describe("Run detail", { timeout: 30_000 }, () => {
  it("shows every stage's prompt and response with tokens, latency and the cache flag", async () => {
    api(() => run);
    renderAt(<RunDetailPage />, "/runs/:runId", `/runs/${RUN}`);
    const call = await screen.findByTestId("stage-result-s1-0");
    expect(call).toHaveTextContent("Be brief.");
    expect(call).toHaveTextContent("Say hello");
    expect(call).toHaveTextContent("hello alpha");
    expect(call).toHaveTextContent("5 in / 10 out tokens");
    expect(call).toHaveTextContent("40 ms");
    expect(call).toHaveTextContent("cached");
    expect(await screen.findByTestId("run-score-keyword")).toHaveTextContent("2"); // weight from the experiment
    expect(screen.getByTestId("summary-cache")).toHaveTextContent("1 (50%)");
  });

  it("shows what a cached run paid (nothing) apart from what its answers cost", async () => {
    api(() => run, { ...run, status: "cached", cache_hits: 2, cost_estimate: 0.07, cost_spent: 0, llm_calls_paid: 0, tokens_in_spent: 0, tokens_out_spent: 0 });
    renderAt(<RunDetailPage />, "/runs/:runId", `/runs/${RUN}`);
    expect(await screen.findByTestId("summary-spent")).toHaveTextContent("$0.00");
    expect(screen.getByTestId("summary-cost")).toHaveTextContent("$0.07");
    expect(screen.getByTestId("summary-calls")).toHaveTextContent("0");
  });

  it("says on how many samples a pruned run was scored", async () => {
    api(() => run, { ...run, status: "pruned", partial: true, samples_evaluated: 4 });
    renderAt(<RunDetailPage />, "/runs/:runId", `/runs/${RUN}`);
    expect(await screen.findByTestId("run-samples-evaluated")).toHaveTextContent("pruned after 4 samples");
  });

  it("shows no sample count for a run scored on every sample", async () => {
    api(() => run, { ...run, partial: false, samples_evaluated: 1 });
    renderAt(<RunDetailPage />, "/runs/:runId", `/runs/${RUN}`);
    await screen.findByTestId("stage-result-s1-0");
    expect(screen.queryByTestId("run-samples-evaluated")).not.toBeInTheDocument();
  });

  it("rates with stars optimistically and keyboard-operably", async () => {
    const user = userEvent.setup();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const calls = api(() => run);
    // Hold the answer so the optimistic state can be seen.
    vi.stubGlobal(
      "fetch",
      ((original) => async (input: Request) => {
        if (input.method === "POST") await gate;
        return original(input);
      })(globalThis.fetch as (input: Request) => Promise<Response>),
    );
    renderAt(<RunDetailPage />, "/runs/:runId", `/runs/${RUN}`);
    const star1 = await screen.findByTestId("rating-star-1");
    star1.focus();
    await user.keyboard("{ArrowRight}{ArrowRight}{ArrowRight}");
    expect(screen.getByTestId("rating-star-4")).toHaveFocus();
    await user.keyboard("{Enter}");
    // Optimistic: the rating is listed and the score moved before the server answered.
    expect(await screen.findByTestId("rating-history")).toHaveTextContent("4/5 stars");
    expect(screen.getByTestId("human-rating-score")).toHaveTextContent("0.750");
    expect(screen.getByTestId("rating-star-4")).toHaveAttribute("aria-pressed", "true");
    release();
    await waitFor(() => expect(calls.some((c) => c.method === "POST")).toBe(true));
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ rating: 4 });
  });

  it("rolls the optimistic rating back when the server refuses it", async () => {
    const user = userEvent.setup();
    api(() => new Reply(403, { detail: "Read-only users cannot rate runs.", code: "forbidden" }));
    renderAt(<RunDetailPage />, "/runs/:runId", `/runs/${RUN}`);
    await user.click(await screen.findByTestId("rating-thumbs-up"));
    expect(await screen.findByText("Read-only users cannot rate runs.")).toBeInTheDocument();
    expect(screen.queryByTestId("rating-history")).not.toBeInTheDocument();
    expect(screen.getByTestId("rating-thumbs-up")).toHaveAttribute("aria-pressed", "false");
  });

  it("rejects a run", async () => {
    const user = userEvent.setup();
    const calls = api(() => run);
    renderAt(<RunDetailPage />, "/runs/:runId", `/runs/${RUN}`);
    await user.click(await screen.findByTestId("run-reject"));
    await waitFor(() => expect(calls.some((c) => c.method === "PUT")).toBe(true));
    expect(calls.find((c) => c.method === "PUT")?.body).toEqual({ rejected: true });
    expect(within(document.body).getByTestId("run-reject")).toBeInTheDocument();
  });
});

describe("Run detail states", { timeout: 30_000 }, () => {
  it("a missing run says so and offers no Try again", async () => {
    fakeApi({
      [`GET /api/v1/runs/${RUN}`]: () => new Reply(404, { detail: "Run not found", code: "not_found" }),
      "GET /api/v1/auth/me": { id: "u", username: "admin", is_admin: true, role: "admin" },
    });
    renderAt(<RunDetailPage />, "/runs/:runId", `/runs/${RUN}`);
    expect(await screen.findByTestId("run-missing")).toHaveTextContent("This run does not exist");
    expect(screen.queryByRole("button", { name: "Try again" })).not.toBeInTheDocument();
  });

  it("a failed run shows its error and how to fix it, not an empty sample list", async () => {
    const failed = { ...run, status: "failed", error: "Connection refused by http://127.0.0.1:9/v1", stage_results: [], score_details: [], scores: {}, weighted_score: null };
    fakeApi({
      [`GET /api/v1/runs/${RUN}`]: failed,
      "GET /api/v1/experiments/:id": { id: EXP, name: "demo", sample_data: [{ id: "s1", input: "hello" }], scoring_config: [], parameter_space: {} },
      "GET /api/v1/auth/me": { id: "u", username: "admin", is_admin: true, role: "admin" },
      "GET /api/v1/endpoints": { items: [], total: 0, limit: 200, offset: 0 },
    });
    renderAt(<RunDetailPage />, "/runs/:runId", `/runs/${RUN}`);
    expect(await screen.findByTestId("run-error-fix")).toHaveTextContent("Admin › LLM endpoints");
    expect(screen.getByText(/Connection refused/)).toBeInTheDocument();
    expect(screen.getByTestId("run-no-outputs")).toBeInTheDocument();
    expect(screen.queryByText(/No sample matches/)).not.toBeInTheDocument();
    expect(screen.queryByRole("heading", { name: /Samples \(0\)/ })).not.toBeInTheDocument();
  });

  it("Reject run is a quiet button, not the page's most prominent one", async () => {
    api(() => run);
    renderAt(<RunDetailPage />, "/runs/:runId", `/runs/${RUN}`);
    const reject = await screen.findByTestId("run-reject");
    expect(reject.className).not.toMatch(/bg-bad|bg-accent/);
  });
});

describe("Rating per output", { timeout: 30_000 }, () => {
  it("rates the selected output with the keyboard; a second rating replaces the first", async () => {
    const user = userEvent.setup();
    const stored = new Map<string, number>();
    const answer = () => ({
      items: [...stored].map(([sample_id, rating]) => ({ run_id: RUN, sample_id, rating, rater: "admin", comment: null, updated_at: "2025-01-01T00:00:00Z", mine: true })),
      human_score: stored.size ? ([...stored.values()].reduce((a, b) => a + b, 0) / stored.size - 1) / 4 : null,
      count: stored.size,
    });
    const calls = fakeApi({
      [`GET /api/v1/runs/${RUN}`]: run,
      [`GET /api/v1/runs/${RUN}/ratings`]: () => answer(),
      [`PUT /api/v1/runs/${RUN}/samples/s1/rating`]: (request: FakeRequest) => {
        stored.set("s1", (request.body as { rating: number }).rating);
        return answer();
      },
      "GET /api/v1/experiments/:id": { id: EXP, name: "demo", sample_data: [{ id: "s1", input: "hello" }], scoring_config: [], parameter_space: {} },
      "GET /api/v1/auth/me": { id: "u", username: "admin", is_admin: true, role: "admin" },
      "GET /api/v1/endpoints": { items: [], total: 0, limit: 200, offset: 0 },
    });
    renderAt(<RunDetailPage />, "/runs/:runId", `/runs/${RUN}`);
    expect(await screen.findByTestId("review-keys-hint")).toHaveTextContent("1–5 rate");
    await waitFor(() => expect(screen.getByTestId("sample-s1")).toHaveAttribute("data-selected", "true"));
    await user.keyboard("4");
    await waitFor(() => expect(screen.getByTestId("output-rating-s1")).toHaveAttribute("data-mine", "4"));
    await user.keyboard("2");
    await waitFor(() => expect(screen.getByTestId("output-rating-s1")).toHaveAttribute("data-mine", "2"));
    const puts = calls.filter((c) => c.method === "PUT");
    expect(puts.map((c) => c.body)).toEqual([{ rating: 4 }, { rating: 2 }]);
    expect(screen.getByTestId("review-keys-hint")).toHaveTextContent("1 rating, human score 0.250");
    expect(screen.getByRole("button", { name: "2 of 5 (poor)" })).toHaveAttribute("aria-pressed", "true");
  });
});
