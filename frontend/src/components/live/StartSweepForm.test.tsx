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
});
