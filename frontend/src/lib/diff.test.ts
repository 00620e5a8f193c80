import { describe, expect, it } from "vitest";
import { configDiff, flattenConfig, sideText, wordDiff } from "./diff";

describe("wordDiff", () => {
  it("marks inserted and deleted words and can rebuild both sides", () => {
    const a = "The quick brown fox jumps";
    const b = "The slow brown fox leaps high";
    const diff = wordDiff(a, b);
    expect(diff.identical).toBe(false);
    expect(diff.parts.filter((p) => p.kind === "delete").map((p) => p.text.trim())).toEqual(["quick", "jumps"]);
    expect(diff.parts.filter((p) => p.kind === "insert").map((p) => p.text.trim())).toEqual(["slow", "leaps high"]);
    expect(diff.deleted).toBe(2);
    expect(diff.inserted).toBe(3);
    expect(sideText(diff.parts, "a")).toBe(a);
    expect(sideText(diff.parts, "b")).toBe(b);
  });

  it("treats identical and missing texts", () => {
    expect(wordDiff("same", "same")).toEqual({ parts: [{ kind: "equal", text: "same" }], inserted: 0, deleted: 0, identical: true });
    const fromNothing = wordDiff(null, "new text");
    expect(fromNothing.parts).toEqual([{ kind: "insert", text: "new text" }]);
    expect(fromNothing.inserted).toBe(2);
  });
});

describe("configDiff", () => {
  const a = {
    stages: [{ name: "main", model: "m1", prompt_template: "A {{ input }}", params: { temperature: 0.1 } }],
    vars: {},
  };
  const b = {
    stages: [{ name: "main", model: "m1", prompt_template: "B {{ input }}", params: { temperature: 0.9, top_p: 1 } }],
    vars: {},
  };

  it("flattens stages by name", () => {
    expect(flattenConfig(a)).toEqual({
      "stages.main.model": "m1",
      "stages.main.prompt_template": "A {{ input }}",
      "stages.main.params.temperature": 0.1,
      vars: {},
    });
  });

  it("lists changed paths first, with what is missing on one side", () => {
    const rows = configDiff(a, b);
    expect(rows.filter((r) => r.changed).map((r) => r.path)).toEqual([
      "stages.main.params.temperature",
      "stages.main.params.top_p",
      "stages.main.prompt_template",
    ]);
    expect(rows.find((r) => r.path === "stages.main.params.top_p")?.missing).toBe("a");
    expect(rows.find((r) => r.path === "stages.main.model")?.changed).toBe(false);
  });
});
