import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { endpoint, fakeApi, keywordScorer, lengthScorer, renderAt, Reply, type Routes } from "../components/builder/testApi";
import BuilderPage from "./Builder";

const PROJECT = "22222222-2222-2222-2222-222222222222";

function routes(extra: Routes = {}): Routes {
  return {
    "GET /api/v1/projects/:id": { id: PROJECT, name: "Demo project", experiments: [] },
    "GET /api/v1/endpoints": { items: [endpoint], total: 1, limit: 200, offset: 0 },
    "POST /api/v1/endpoints/:id/test": { ok: true, models: ["m1", "m2"], latency_ms: 3 },
    "GET /api/v1/scorers": { items: [keywordScorer, lengthScorer], total: 2, limit: 100, offset: 0 },
    ...extra,
  };
}

function renderBuilder(extra: Routes = {}) {
  const calls = fakeApi(routes(extra));
  const view = renderAt(<BuilderPage />, "/projects/:projectId/experiments/new", `/projects/${PROJECT}/experiments/new`);
  return { calls, ...view };
}

async function pasteSamples(text: string) {
  fireEvent.change(await screen.findByTestId("samples-paste"), { target: { value: text } });
  fireEvent.click(screen.getByTestId("samples-paste-add"));
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("Builder", { timeout: 30_000 }, () => {
  it("renders every section with one stage", async () => {
    renderBuilder();
    expect(await screen.findByRole("heading", { name: "New experiment" })).toBeInTheDocument();
    expect(screen.getByTestId("samples-section")).toBeInTheDocument();
    expect(screen.getByTestId("stage-0")).toBeInTheDocument();
    expect(screen.getByTestId("scorers-section")).toBeInTheDocument();
    expect(screen.getByTestId("space-section")).toBeInTheDocument();
    expect(await screen.findByRole("option", { name: /local — http/ })).toBeInTheDocument();
    expect(await screen.findByRole("option", { name: "keyword" })).toBeInTheDocument();
  });

  it("adds pasted samples to the table and the count", async () => {
    renderBuilder();
    await pasteSamples("first input\nsecond input\n\nthird input");
    const table = await screen.findByTestId("samples-table");
    expect(within(table).getAllByRole("row")).toHaveLength(4); // header + 3
    expect(screen.getByTestId("sample-2-input")).toHaveValue("third input");
    expect(screen.getByTestId("samples-import-report")).toHaveTextContent("3 samples added");
    await waitFor(() => expect(screen.getByTestId("estimate-calls")).toHaveTextContent("3"));
  });

  it("adds JSONL samples with vars as columns", async () => {
    renderBuilder();
    await pasteSamples('{"id": "a", "input": "x", "topic": "geo"}\n{"input": "y", "topic": "art"}');
    expect(await screen.findByRole("columnheader", { name: /vars\.topic/ })).toBeInTheDocument();
    expect(screen.getByLabelText("Sample 2 variable topic")).toHaveValue("art");
  });

  it("imports a CSV file with quoted commas; extra columns become vars", async () => {
    const user = userEvent.setup();
    renderBuilder();
    const csv = 'id,input,reference,topic\nq1,"Paris, France",capital,geo\nq2,"He said ""hi""",,talk\n';
    await user.upload(await screen.findByTestId("samples-file"), new File([csv], "samples.csv", { type: "text/csv" }));
    expect(await screen.findByTestId("samples-import-report")).toHaveTextContent("samples.csv: 2 samples added");
    expect(screen.getByTestId("sample-0-input")).toHaveValue("Paris, France");
    expect(screen.getByTestId("sample-1-input")).toHaveValue('He said "hi"');
    expect(screen.getByLabelText("Sample 1 reference")).toHaveValue("capital");
    expect(screen.getByLabelText("Sample 2 variable topic")).toHaveValue("talk");
  });

  it("flags unknown template names and accepts sample vars", async () => {
    renderBuilder();
    const template = await screen.findByTestId("stage-0-template");
    fireEvent.change(template, { target: { value: "Summarize {{ input }} about {{ vars.topic }} {{ inptu }}" } });
    const issues = screen.getByTestId("stage-0-template-issues");
    expect(issues).toHaveTextContent("`inptu` is not defined");
    expect(issues).toHaveTextContent("`vars.topic` is not defined");
    expect(template).toHaveAttribute("aria-invalid", "true");

    await pasteSamples('{"input": "x", "topic": "geo"}');
    await waitFor(() => expect(screen.getByTestId("stage-0-template-issues")).not.toHaveTextContent("vars.topic"));
    fireEvent.change(template, { target: { value: "Summarize {{ input }} about {{ vars.topic }}" } });
    expect(screen.queryByTestId("stage-0-template-issues")).not.toBeInTheDocument();
  });

  it("updates the live count when a parameter value is added (browser count)", async () => {
    const user = userEvent.setup();
    renderBuilder();
    await pasteSamples("a\nb\nc");
    await waitFor(() => expect(screen.getByTestId("estimate-runs")).toHaveTextContent("1"));
    await user.selectOptions(screen.getByTestId("space-add-field"), "temperature");
    await user.click(screen.getByTestId("space-add"));
    expect(screen.getByTestId("space-0-key")).toHaveTextContent("temperature");
    await user.type(screen.getByTestId("space-0-value-input"), "0.2{Enter}");
    await waitFor(() => expect(screen.getByTestId("estimate-runs")).toHaveTextContent("1"));
    await user.type(screen.getByTestId("space-0-value-input"), "0.8, 1.0{Enter}");
    await waitFor(() => expect(screen.getByTestId("estimate-runs")).toHaveTextContent("3"));
    expect(screen.getByTestId("estimate-calls")).toHaveTextContent("9");
    expect(screen.getByTestId("space-0-count")).toHaveTextContent("3 values");
    await waitFor(() => expect(screen.getByTestId("estimate-source")).toHaveTextContent("local"));
  });

  it("prefers the server estimate once it answers for the current document", async () => {
    const user = userEvent.setup();
    const { calls } = renderBuilder({
      "POST /api/v1/experiments/estimate": (request: { body: unknown }) => {
        const body = request.body as { document: { parameter_space: Record<string, unknown[]>; sample_data: unknown[] } };
        const runs = Object.values(body.document.parameter_space).reduce((n, v) => n * v.length, 1);
        const samples = body.document.sample_data.length;
        return { runs, calls: runs * samples, samples, stages: 1, tokens_in: 100, tokens_out: 200, cost: 0.0042, priced: true };
      },
    });
    await pasteSamples("a\nb");
    await user.click(screen.getByTestId("space-add"));
    await user.type(screen.getByTestId("space-0-value-input"), "0.1, 0.5{Enter}");
    await waitFor(() => expect(screen.getByTestId("estimate-source")).toHaveTextContent("server"));
    expect(screen.getByTestId("estimate-runs")).toHaveTextContent("2");
    expect(screen.getByTestId("estimate-calls")).toHaveTextContent("4");
    expect(screen.getByTestId("estimate-cost")).toHaveTextContent("$0.0042");
    const last = calls.filter((c) => c.path === "/api/v1/experiments/estimate").at(-1)!;
    expect(last.body).toMatchObject({ type: "grid", document: { parameter_space: { temperature: [0.1, 0.5] } } });
  });

  it("shows the server's 422 problems next to the estimate", async () => {
    renderBuilder({
      "POST /api/v1/experiments/estimate": new Reply(422, {
        code: "validation_error",
        detail: [{ loc: ["body", "document", "pipeline_stages", 0, "model"], msg: "Stage `main` has no model.", type: "x" }],
      }),
    });
    expect(await screen.findByTestId("estimate-problems", {}, { timeout: 3000 })).toHaveTextContent(
      "Stage 1 › model: Stage `main` has no model.",
    );
  });

  it("round-trips through the YAML view and keeps the form on invalid YAML", async () => {
    const user = userEvent.setup();
    renderBuilder();
    fireEvent.change(await screen.findByTestId("builder-name"), { target: { value: "summaries" } });
    await pasteSamples("hello");
    await user.click(screen.getByTestId("builder-tab-yaml"));
    const editor = screen.getByTestId("yaml-editor") as HTMLTextAreaElement;
    expect(editor.value).toContain("name: summaries");
    expect(editor.value).toContain("input: hello");

    fireEvent.change(editor, { target: { value: editor.value.replace("name: summaries", "name: renamed") } });
    expect(screen.queryByTestId("yaml-error")).not.toBeInTheDocument();
    fireEvent.change(editor, { target: { value: "name: [broken\n" } });
    expect(screen.getByTestId("yaml-error")).toBeInTheDocument();
    expect(editor.value).toBe("name: [broken\n");

    await user.click(screen.getByTestId("builder-tab-form"));
    expect(screen.getByTestId("builder-name")).toHaveValue("renamed");
    expect(screen.getByTestId("sample-0-input")).toHaveValue("hello");
    // Back to YAML: the invalid text is still there, nothing lost.
    await user.click(screen.getByTestId("builder-tab-yaml"));
    expect(screen.getByTestId("yaml-editor")).toHaveValue("name: [broken\n");
  });

  it("builds and saves an experiment, then opens it", async () => {
    const user = userEvent.setup();
    const { calls } = renderBuilder({
      "POST /api/v1/experiments": (request: { body: unknown }) => ({ id: "33333333-3333-3333-3333-333333333333", ...(request.body as object) }),
    });
    fireEvent.change(await screen.findByTestId("builder-name"), { target: { value: "demo" } });
    await pasteSamples("alpha text\nbeta text");
    await screen.findByRole("option", { name: /local — http/ });
    await user.selectOptions(screen.getByTestId("stage-0-endpoint"), endpoint.id);
    fireEvent.change(screen.getByTestId("stage-0-model"), { target: { value: "m1" } });
    fireEvent.change(screen.getByTestId("stage-0-template"), { target: { value: "Say {{ input }}" } });
    await screen.findByRole("option", { name: "keyword" });
    await user.selectOptions(screen.getByTestId("scorer-add-select"), "keyword");
    await user.click(screen.getByTestId("scorer-add"));
    fireEvent.change(screen.getByTestId("scorer-0-config-keywords"), { target: { value: "alpha\n" } });
    await user.selectOptions(screen.getByTestId("space-add-field"), "temperature");
    await user.click(screen.getByTestId("space-add"));
    await user.type(screen.getByTestId("space-0-value-input"), "0.2, 0.8{Enter}");
    await user.click(screen.getByTestId("builder-save"));

    expect(await screen.findByTestId("navigated")).toBeInTheDocument();
    const post = calls.find((c) => c.method === "POST" && c.path === "/api/v1/experiments")!;
    expect(post.body).toEqual({
      project_id: PROJECT,
      name: "demo",
      sample_data: [
        { id: "s1", input: "alpha text" },
        { id: "s2", input: "beta text" },
      ],
      pipeline_stages: [{ name: "main", endpoint_id: endpoint.id, model: "m1", prompt_template: "Say {{ input }}" }],
      scoring_config: [{ scorer: "keyword", weight: 1, config: { keywords: ["alpha"] } }],
      parameter_space: { temperature: [0.2, 0.8] },
    });
  });

  it("edits an existing experiment and saves it with PUT", async () => {
    const user = userEvent.setup();
    const EXP = "55555555-5555-5555-5555-555555555555";
    const calls = fakeApi(
      routes({
        [`GET /api/v1/experiments/${EXP}`]: {
          id: EXP,
          project_id: PROJECT,
          name: "existing",
          description: null,
          status: "completed",
          run_count: 4,
          sample_data: [{ id: "s1", input: "hello", reference: null, vars: { topic: "x" } }],
          pipeline_stages: [
            { name: "extract", endpoint_id: null, model: "m1", system_prompt: null, prompt_template: "{{ input }} {{ vars.topic }}", params: {} },
          ],
          scoring_config: [{ scorer: "length", name: null, weight: 1, config: { max_words: 10 } }],
          parameter_space: { "stages.extract.temperature": [0.1, 0.9] },
        },
        [`PUT /api/v1/experiments/${EXP}`]: (request: { body: unknown }) => ({ id: EXP, ...(request.body as object) }),
      }),
    );
    renderAt(<BuilderPage />, "/experiments/:experimentId/edit", `/experiments/${EXP}/edit`);
    expect(await screen.findByRole("heading", { name: "Edit existing" })).toBeInTheDocument();
    expect(screen.queryByTestId("stage-0-template-issues")).not.toBeInTheDocument();
    fireEvent.change(screen.getByTestId("stage-0-name"), { target: { value: "facts" } });
    expect(screen.getByTestId("space-0-key")).toHaveTextContent("stages.facts.temperature");
    await user.click(screen.getByTestId("builder-save"));
    expect(await screen.findByTestId("navigated")).toBeInTheDocument();
    const put = calls.find((c) => c.method === "PUT")!;
    expect(put.body).toEqual({
      name: "existing",
      description: null,
      sample_data: [{ id: "s1", input: "hello", vars: { topic: "x" } }],
      pipeline_stages: [{ name: "facts", model: "m1", prompt_template: "{{ input }} {{ vars.topic }}" }],
      scoring_config: [{ scorer: "length", weight: 1, config: { max_words: 10 } }],
      parameter_space: { "stages.facts.temperature": [0.1, 0.9] },
      variant_names: {},
    });
  });

  it("names swept prompt variants and saves the names", async () => {
    const user = userEvent.setup();
    const EXP = "66666666-6666-6666-6666-666666666666";
    const calls = fakeApi(
      routes({
        [`GET /api/v1/experiments/${EXP}`]: {
          id: EXP,
          project_id: PROJECT,
          name: "variants",
          description: null,
          status: "draft",
          run_count: 0,
          sample_data: [{ id: "s1", input: "hello" }],
          pipeline_stages: [{ name: "main", endpoint_id: null, model: "m1", system_prompt: null, prompt_template: "{{ input }}", params: {} }],
          scoring_config: [],
          parameter_space: { prompt_template: ["Answer: {{ input }}", "Think, then answer: {{ input }}"] },
          variant_names: {},
        },
        [`PUT /api/v1/experiments/${EXP}`]: (request: { body: unknown }) => ({ id: EXP, ...(request.body as object) }),
      }),
    );
    renderAt(<BuilderPage />, "/experiments/:experimentId/edit", `/experiments/${EXP}/edit`);
    const name = await screen.findByTestId("space-0-variant-name-1");
    expect(name).toHaveAttribute("placeholder", "v2");
    await user.type(name, "stepwise");
    await user.click(screen.getByTestId("builder-save"));
    expect(await screen.findByTestId("navigated")).toBeInTheDocument();
    const put = calls.find((c) => c.method === "PUT")!;
    expect((put.body as { variant_names: unknown }).variant_names).toEqual({ prompt_template: ["", "stepwise"] });
  });

  it("shows the API's field errors in words next to the fields", async () => {
    const user = userEvent.setup();
    renderBuilder({
      "POST /api/v1/experiments": new Reply(422, {
        code: "validation_error",
        detail: [
          { loc: ["body", "name"], msg: "String should have at least 1 character", type: "string_too_short" },
          { loc: ["body", "pipeline_stages", 0, "model"], msg: "Stage `main` has no model: set `model` or sweep it.", type: "definition_error" },
        ],
      }),
    });
    await user.click(await screen.findByTestId("builder-save"));
    const summary = await screen.findByTestId("builder-errors");
    expect(summary).toHaveTextContent("Stage 1 › model: Stage `main` has no model");
    const stage = screen.getByTestId("stage-0");
    expect(within(stage).getByText(/has no model: set `model`/)).toBeInTheDocument();
    expect(screen.getByTestId("builder-name")).toHaveAttribute("aria-invalid", "true");
  });

  it("asks before leaving with unsaved changes, and stays when told to", async () => {
    const user = userEvent.setup();
    const { router } = renderBuilder();
    await user.type(await screen.findByTestId("builder-name"), "draft");
    await user.click(screen.getByRole("link", { name: "Cancel" }));
    const dialog = await screen.findByTestId("unsaved-changes");
    expect(dialog).toHaveTextContent("Leave without saving?");
    await user.click(within(dialog).getByRole("button", { name: "Keep editing" }));
    expect(router.state.location.pathname).toBe(`/projects/${PROJECT}/experiments/new`);
    expect(screen.getByTestId("builder-name")).toHaveValue("draft");
    await user.click(screen.getByRole("link", { name: "Cancel" }));
    await user.click(await screen.findByTestId("unsaved-leave"));
    expect(await screen.findByTestId("navigated")).toBeInTheDocument();
  });

  it("leaves without asking when nothing changed", async () => {
    const user = userEvent.setup();
    renderBuilder();
    await user.click(await screen.findByRole("link", { name: "Cancel" }));
    expect(await screen.findByTestId("navigated")).toBeInTheDocument();
    expect(screen.queryByTestId("unsaved-changes")).not.toBeInTheDocument();
  });

  it("grows a prompt box with its text and opens it full screen", async () => {
    const user = userEvent.setup();
    renderBuilder();
    const box = (await screen.findByLabelText("Prompt template")) as HTMLTextAreaElement;
    const before = box.rows;
    fireEvent.change(box, { target: { value: Array.from({ length: 25 }, (_, i) => `line ${i + 1}`).join("\n") } });
    expect(box.rows).toBeGreaterThanOrEqual(26);
    expect(box.rows).toBeGreaterThan(before);
    await user.click(screen.getAllByRole("button", { name: "Full screen" })[0]);
    expect(screen.getByRole("dialog", { name: /\(full screen\)/ })).toBeInTheDocument();
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog", { name: /\(full screen\)/ })).not.toBeInTheDocument();
  });
});
