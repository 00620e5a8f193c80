import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import ProjectDetailPage from "../../pages/ProjectDetail";
import { fakeApi, renderAt, type FakeRequest } from "../builder/testApi";
import { ApproveButton } from "./ApproveButton";
import type { Experiment } from "../../api/client";
import { ForkButton } from "./ForkButton";
import { RedirectButton } from "./RedirectButton";

const PROJECT = "11111111-1111-1111-1111-111111111111";
const EXP = "44444444-4444-4444-4444-444444444444";
const RUN = "dddddddd-0000-0000-0000-000000000001";
const SAVED = "55555555-5555-5555-5555-555555555555";

const project = {
  id: PROJECT, name: "memory", description: null, notes: "m2 wins", owner_id: null,
  created_at: "2025-01-01T00:00:00Z", updated_at: "2025-01-01T00:00:00Z", experiment_count: 1,
  experiments: [{ id: EXP, project_id: PROJECT, name: "demo", description: null, status: "completed",
    created_at: "2025-01-01T00:00:00Z", updated_at: "2025-01-01T00:00:00Z", run_count: 4, best_score: 1 }],
};
const saved = {
  id: SAVED, project_id: PROJECT, experiment_id: EXP, run_id: RUN, name: "house style", note: "cheaper",
  config: { stages: [{ name: "answer", model: "m1" }], vars: {} }, config_hash: "abc", score: 0.75, scores: {},
  approved_by: "admin", approved_at: "2025-01-01T00:00:00Z",
};
const exported = {
  id: "66666666-6666-6666-6666-666666666666", format: "env", experiment_id: EXP, run_id: RUN, saved_config_id: SAVED,
  config_hash: "abc", user: "admin", created_at: "2025-01-01T00:00:00Z",
};

afterEach(() => vi.unstubAllGlobals());

describe("Steering", { timeout: 30_000 }, () => {
  it("shows the project's saved configurations, export history and notes, and saves edited notes", async () => {
    const calls = fakeApi({
      [`GET /api/v1/projects/${PROJECT}`]: project,
      [`GET /api/v1/projects/${PROJECT}/configs`]: { items: [saved], total: 1, limit: 20, offset: 0 },
      [`GET /api/v1/projects/${PROJECT}/exports`]: { items: [exported], total: 1, limit: 20, offset: 0 },
      [`PUT /api/v1/projects/${PROJECT}`]: (r: FakeRequest) => ({ ...project, ...(r.body as object) }),
      "GET /api/v1/auth/me": { id: "u", username: "admin", is_admin: true, role: "admin" },
    });
    renderAt(<ProjectDetailPage />, "/projects/:projectId", `/projects/${PROJECT}`);
    const row = await screen.findByTestId("saved-config-row");
    expect(row).toHaveTextContent("house style");
    expect(row).toHaveTextContent("cheaper");
    expect(row).toHaveTextContent("m1");
    const history = await screen.findByTestId("export-row");
    expect(history).toHaveTextContent("env");
    expect(within(history).getByRole("link", { name: "demo" })).toHaveAttribute("href", `/experiments/${EXP}`);
    expect(history).toHaveTextContent("approved");
    expect(screen.getByTestId("notes-view")).toHaveTextContent("m2 wins");
    const user = userEvent.setup();
    await user.click(await screen.findByTestId("notes-edit"));
    const text = screen.getByTestId("notes-text");
    await user.clear(text);
    await user.type(text, "keep temperature low");
    await user.click(screen.getByTestId("notes-save"));
    await waitFor(() => expect(calls.some((c) => c.method === "PUT")).toBe(true));
    expect(calls.find((c) => c.method === "PUT")?.body).toEqual({ notes: "keep temperature low" });
  });

  it("approves a run with a name and a note", async () => {
    const calls = fakeApi({ [`POST /api/v1/runs/${RUN}/approve`]: saved });
    renderAt(<ApproveButton runId={RUN} defaultName="demo" />, "/runs/:runId", `/runs/${RUN}`);
    const user = userEvent.setup();
    await user.click(screen.getByTestId("run-approve"));
    expect(screen.getByTestId("approve-name")).toHaveValue("demo");
    await user.type(screen.getByTestId("approve-note"), "cheaper");
    await user.click(screen.getByTestId("approve-confirm"));
    await waitFor(() => expect(screen.getByTestId("run-approve")).toHaveTextContent("Approved"));
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ name: "demo", note: "cheaper" });
  });

  it("redirects the running sweep with the edited parameter space and shows what changed", async () => {
    const calls = fakeApi({
      "GET /api/v1/endpoints": { items: [], total: 0, limit: 200, offset: 0 },
      [`POST /api/v1/experiments/${EXP}/redirect`]: { sweep_id: "s", dropped: 3, added: 2, total_runs: 7 },
    });
    const experiment = {
      id: EXP, project_id: PROJECT, name: "demo", status: "running", sample_data: [{ id: "s1", input: "x" }],
      pipeline_stages: [{ name: "answer", model: "m1", prompt_template: "Answer: {{ input }}" }],
      scoring_config: [], parameter_space: { model: ["m1", "m2"], temperature: [0.1, 0.9] },
    } as unknown as Experiment;
    renderAt(<RedirectButton experiment={experiment} />, "/experiments/:experimentId", `/experiments/${EXP}`);
    const user = userEvent.setup();
    await user.click(screen.getByTestId("redirect-sweep"));
    expect(within(screen.getByTestId("redirect-dialog")).getByTestId("space-section")).toHaveTextContent("Parameter space (2)");
    await user.click(screen.getByTestId("redirect-confirm"));
    await waitFor(() => expect(screen.getByTestId("redirect-result")).toHaveTextContent("2 runs added, 3 dropped (7 in all)"));
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({
      parameter_space: { model: ["m1", "m2"], temperature: [0.1, 0.9] },
    });
  });

  it("forks from a run and opens the new experiment in the builder", async () => {
    const calls = fakeApi({ [`POST /api/v1/experiments/${EXP}/fork`]: { id: "77777777-0000-0000-0000-000000000000" } });
    const { router } = renderAt(<ForkButton experimentId={EXP} experimentName="demo" runId={RUN} />, "/runs/:runId", `/runs/${RUN}`);
    const user = userEvent.setup();
    await user.click(screen.getByTestId("fork-experiment"));
    expect(screen.getByTestId("fork-name")).toHaveValue("demo (fork)");
    await user.click(screen.getByTestId("fork-confirm"));
    await waitFor(() => expect(router.state.location.pathname).toBe("/experiments/77777777-0000-0000-0000-000000000000/edit"));
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ name: "demo (fork)", run_id: RUN });
  });
});
