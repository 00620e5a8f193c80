import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Experiment } from "../../api/client";
import { StartSweepForm } from "./StartSweepForm";

const experiment = {
  id: "exp-1",
  project_id: "p-1",
  name: "guided",
  status: "draft",
  grid_size: 4,
  run_count: 0,
  sample_data: [{ id: "s1", input: "alpha" }],
  pipeline_stages: [{ name: "a", endpoint_id: "e1", model: "m1", prompt_template: "{{ input }}", params: {} }],
  scoring_config: [],
  parameter_space: { model: ["m1", "m2"] },
} as unknown as Experiment;

const estimate = { runs: 12, calls: 12, samples: 1, stages: 1, tokens_in: 100, tokens_out: 100, cost: 0, priced: true };

type EstimateBody = { max_runs: number | null; early_stopping?: { min_samples: number; eta: number } };

function serve() {
  return vi.fn(async (request: Request) => {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/endpoints")) {
      const items = [{ id: "e-opt", label: "optimizer box", url: "http://x/v1", has_api_key: false, max_concurrency: 4, pricing: {} }];
      return new Response(JSON.stringify({ items, total: 1, limit: 200, offset: 0 }), { status: 200, headers: { "Content-Type": "application/json" } });
    }
    const sent = url.pathname.endsWith("/estimate") ? ((await request.clone().json()) as EstimateBody) : null;
    // The server's halving estimate for 9 runs on 10 samples: rungs 2 → 6 → 10.
    const halving = sent?.early_stopping ? { rungs: [2, 6, 10], llm_calls_best: 34, llm_calls_worst: 90 } : null;
    const body = sent
      ? { ...estimate, runs: sent.max_runs ?? 4, early_stopping: halving }
      : { sweep_id: "sw-1", experiment_id: "exp-1", type: "guided", status: "running", total_runs: 2 };
    return new Response(JSON.stringify(body), { status: url.pathname.endsWith("/sweep") ? 202 : 200, headers: { "Content-Type": "application/json" } });
  });
}

function wrapper({ children }: { children: ReactNode }) {
  return <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>{children}</QueryClientProvider>;
}

describe("StartSweepForm", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("starts a guided sweep with its run cap and estimates it as at most that many runs", async () => {
    const fetchMock = serve();
    vi.stubGlobal("fetch", fetchMock);
    render(<StartSweepForm experiment={experiment} />, { wrapper });
    await userEvent.selectOptions(screen.getByTestId("sweep-type"), "guided");
    expect(screen.getByText(/Bayesian search \(Optuna TPE\)/)).toBeInTheDocument();
    await userEvent.type(screen.getByTestId("sweep-max-runs"), "12");
    await waitFor(() => expect(screen.getByTestId("sweep-estimate")).toHaveTextContent(/^At most: 12 runs/));
    await userEvent.click(screen.getByTestId("start-sweep"));
    const bodies = async (suffix: string) =>
      Promise.all(fetchMock.mock.calls.map((c) => c[0] as Request).filter((r) => new URL(r.url).pathname.endsWith(suffix)).map((r) => r.clone().json()));
    await waitFor(async () => expect(await bodies("/sweep")).toHaveLength(1));
    const [started] = await bodies("/sweep");
    expect(started).toMatchObject({ type: "guided", max_runs: 12 });
    const estimates = await bodies("/estimate");
    expect(estimates).toContainEqual(expect.objectContaining({ type: "random", max_runs: 12 }));
  });

  it("offers early stopping with its fields, estimates best and worst calls, and starts the sweep with it", async () => {
    const fetchMock = serve();
    vi.stubGlobal("fetch", fetchMock);
    render(<StartSweepForm experiment={experiment} />, { wrapper });
    expect(screen.queryByTestId("sweep-min-samples")).not.toBeInTheDocument();
    expect(screen.getByText(/Successive halving: every configuration first runs on the first N samples/)).toBeInTheDocument();
    await userEvent.click(screen.getByTestId("sweep-early-stopping"));
    const minSamples = screen.getByTestId("sweep-min-samples");
    await userEvent.clear(minSamples);
    await userEvent.type(minSamples, "2");
    await waitFor(() =>
      expect(screen.getByTestId("sweep-estimate")).toHaveTextContent(
        "early stopping: 34 LLM calls best case, 90 worst case (rungs of 2 → 6 → 10 samples)",
      ),
    );
    await userEvent.click(screen.getByTestId("start-sweep"));
    const bodies = async (suffix: string) =>
      Promise.all(fetchMock.mock.calls.map((c) => c[0] as Request).filter((r) => new URL(r.url).pathname.endsWith(suffix)).map((r) => r.clone().json()));
    await waitFor(async () => expect(await bodies("/sweep")).toHaveLength(1));
    const [started] = await bodies("/sweep");
    expect(started).toMatchObject({ type: "grid", early_stopping: { min_samples: 2, eta: 3 } });
    expect(await bodies("/estimate")).toContainEqual(expect.objectContaining({ early_stopping: { min_samples: 2, eta: 3 } }));
  });

  it("sends no early stopping when it is off, and guided estimates halve each wave", async () => {
    const fetchMock = serve();
    vi.stubGlobal("fetch", fetchMock);
    render(<StartSweepForm experiment={experiment} />, { wrapper });
    await userEvent.selectOptions(screen.getByTestId("sweep-type"), "guided");
    await userEvent.click(screen.getByTestId("sweep-early-stopping"));
    await userEvent.type(screen.getByLabelText(/Concurrency/), "3");
    await waitFor(() => expect(screen.getByTestId("sweep-estimate")).toHaveTextContent(/best case/));
    const estimates = () =>
      Promise.all(fetchMock.mock.calls.map((c) => c[0] as Request).filter((r) => new URL(r.url).pathname.endsWith("/estimate")).map((r) => r.clone().json()));
    await waitFor(async () => expect(await estimates()).toContainEqual(expect.objectContaining({ halving_batch: 3 })));
    await userEvent.click(screen.getByTestId("sweep-early-stopping"));
    expect(screen.queryByTestId("sweep-eta")).not.toBeInTheDocument();
    await userEvent.click(screen.getByTestId("start-sweep"));
    const started = () =>
      Promise.all(fetchMock.mock.calls.map((c) => c[0] as Request).filter((r) => new URL(r.url).pathname.endsWith("/sweep")).map((r) => r.clone().json()));
    await waitFor(async () => expect(await started()).toHaveLength(1));
    const [body] = await started();
    expect(body).toMatchObject({ type: "guided", concurrency: 3 });
    expect(body).not.toHaveProperty("early_stopping");
  });

  it("starts a guided sweep that proposes prompt rewrites with the chosen optimizer", async () => {
    const fetchMock = serve();
    vi.stubGlobal("fetch", fetchMock);
    render(<StartSweepForm experiment={experiment} />, { wrapper });
    expect(screen.queryByTestId("rewrite-toggle")).toBeNull();
    await userEvent.selectOptions(screen.getByTestId("sweep-type"), "guided");
    await userEvent.click(screen.getByTestId("rewrite-toggle"));
    await userEvent.type(screen.getByTestId("rewrite-model"), "big-model");
    await userEvent.selectOptions(await screen.findByTestId("rewrite-endpoint"), await screen.findByRole("option", { name: "optimizer box" }));
    await userEvent.selectOptions(screen.getByTestId("rewrite-approval"), "auto");
    await userEvent.clear(screen.getByTestId("rewrite-every"));
    await userEvent.type(screen.getByTestId("rewrite-every"), "4");
    await userEvent.click(screen.getByTestId("start-sweep"));
    const starts = () => fetchMock.mock.calls.map((c) => c[0] as Request).filter((r) => new URL(r.url).pathname.endsWith("/sweep"));
    await waitFor(() => expect(starts()).toHaveLength(1));
    const started = await starts()[0]!.clone().json();
    expect(started.guided).toEqual({ n_startup: 8, rewrite: { model: "big-model", endpoint_id: "e-opt", stage: "a", field: "prompt_template", every: 4,
      candidates: 2, approval: "auto", meta_prompt: null } });
  });
});
