import { describe, expect, it } from "vitest";

import { parseTemplate } from "../../lib/templateVars";
import { DEFAULT_JUDGE_PROMPT, starterConfig } from "./scorerDefaults";

describe("scorer starters", () => {
  it("the LLM judge starts from a prompt that reads only input, output and reference and asks for x/10", () => {
    const parsed = parseTemplate(DEFAULT_JUDGE_PROMPT);
    expect(parsed.syntaxIssues).toEqual([]);
    const names = new Set(parsed.refs.map((r) => r.name));
    expect([...names].sort()).toEqual(["input", "output", "reference"]);
    expect(DEFAULT_JUDGE_PROMPT).toMatch(/x\/10/);
    const config = starterConfig("llm_judge", { model: "", prompt: "" });
    expect(config.prompt).toBe(DEFAULT_JUDGE_PROMPT);
    expect(config.params).toEqual({ temperature: 0, max_tokens: 10 });
    expect(config.model).toBe("");
  });

  it("other scorers keep their schema's starting config", () => {
    expect(starterConfig("keyword", { keywords: [] })).toEqual({ keywords: [] });
  });
});
