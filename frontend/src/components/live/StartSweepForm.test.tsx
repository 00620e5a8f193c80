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

function serve() {
  return vi.fn(async (request: Request) => {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/endpoints")) {
      const items = [{ id: "e-opt", label: "optimizer box", url: "http://x/v1", has_api_key: false, max_concurrency: 4, pricing: {} }];
      return new Response(JSON.stringify({ items, total: 1, limit: 200, offset: 0 }), { status: 200, headers: { "Content-Type": "application/json" } });
    }
    const body = url.pathname.endsWith("/estimate")
      ? { ...estimate, runs: ((await request.clone().json()) as { max_runs: number | null }).max_runs ?? 4 }
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
