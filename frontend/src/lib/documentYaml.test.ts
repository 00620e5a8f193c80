import { describe, expect, it } from "vitest";
import { cleanDocument, documentOf, documentToYaml, yamlToDocument, type ExperimentDocument } from "./documentYaml";
import { estimateLocal, gridCombinations, rangeValues } from "./estimate";

const doc: ExperimentDocument = {
  project_id: "p1",
  name: "summaries",
  description: "",
  sample_data: [
    { id: "s1", input: "line one\nline two", reference: "ref", vars: { topic: "x" } },
    { id: "s2", input: "short", reference: "" },
  ],
  pipeline_stages: [
    { name: "extract", endpoint_id: "e1", model: "m1", system_prompt: "", prompt_template: "Facts: {{ input }}", params: { temperature: 0.2 } },
    { name: "summarize", model: "m1", prompt_template: "Summarize: {{ previous }}", params: {} },
  ],
  scoring_config: [{ scorer: "keyword", weight: 2, config: { keywords: ["alpha"], mode: "all" } }],
  parameter_space: {
    temperature: [0.1, 0.5],
    "stages.summarize.prompt_template": ["Summarize: {{ previous }}", "TL;DR:\n{{ previous }}"],
    "vars.chunk_size": { min: 200, max: 2000, step: 600, type: "int" },
  },
};

describe("documentYaml", () => {
  it("round-trips a document through YAML", () => {
    const text = documentToYaml(doc);
    expect(text).not.toContain("project_id");
    expect(text.indexOf("name:")).toBeLessThan(text.indexOf("sample_data:"));
    const parsed = yamlToDocument(text);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const { project_id: _unused, ...expected } = cleanDocument(doc);
    expect(cleanDocument(parsed.document)).toEqual(expected);
  });

  it("takes the document out of an API experiment, cleaning nulls", () => {
    const api = {
      id: "x",
      status: "draft",
      run_count: 0,
      project_id: "p1",
      name: "n",
      description: null,
      sample_data: [{ id: "s1", input: "a", reference: null, vars: {} }],
      pipeline_stages: [{ name: "main", endpoint_id: null, model: "m1", system_prompt: null, prompt_template: "{{ input }}", params: {} }],
      scoring_config: [{ scorer: "keyword", name: null, weight: 1.0, config: { keywords: ["a"] } }],
      parameter_space: {},
    };
    const doc = documentOf(api);
    expect(doc).not.toHaveProperty("id");
    expect(doc).not.toHaveProperty("status");
    expect(cleanDocument(doc)).toEqual({
      project_id: "p1",
      name: "n",
      sample_data: [{ id: "s1", input: "a" }],
      pipeline_stages: [{ name: "main", model: "m1", prompt_template: "{{ input }}" }],
      scoring_config: [{ scorer: "keyword", weight: 1, config: { keywords: ["a"] } }],
      parameter_space: {},
    });
  });

  it("reports invalid YAML with a line and a wrong shape in words", () => {
    const broken = yamlToDocument("name: x\npipeline_stages: [\n");
    expect(broken.ok).toBe(false);
    const wrong = yamlToDocument("name: x\npipeline_stages: nope\n");
    expect(wrong).toEqual({ ok: false, error: "`pipeline_stages` must be a list." });
    const space = yamlToDocument("parameter_space:\n  temperature: 0.5\n");
    expect(space.ok).toBe(false);
  });
});

describe("estimate", () => {
  it("expands ranges like space.py", () => {
    expect(rangeValues({ min: 200, max: 2000, step: 600, type: "int" })).toEqual([200, 800, 1400, 2000]);
    expect(rangeValues({ min: 0, max: 1 })).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(rangeValues({ min: 0.1, max: 0.3, step: 0.1 })).toEqual([0.1, 0.2, 0.3]);
    expect(() => rangeValues({ min: 2, max: 1 })).toThrow(/greater than max/);
  });

  it("counts grid runs and calls", () => {
    expect(gridCombinations(doc.parameter_space).count).toBe(2 * 2 * 4);
    const estimate = estimateLocal(doc, "grid", null);
    expect(estimate.runs).toBe(16);
    expect(estimate.calls).toBe(16 * 2 * 2);
    expect(estimate.tokens_out).toBeGreaterThan(0);
    expect(estimateLocal(doc, "grid", 5).runs).toBe(5);
    expect(estimateLocal(doc, "random", null).runs).toBe(16);
    expect(estimateLocal({ ...doc, parameter_space: { temperature: [] } }, "grid", null).problems).toHaveLength(1);
  });
});
