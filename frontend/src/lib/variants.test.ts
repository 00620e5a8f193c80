import { describe, expect, it } from "vitest";

import { variantLabeler } from "./variants";

const A = "Extract the key facts from the text below and list them: {{ input }}";
const B = "Extract the key facts from the text below, one per line: {{ input }}";

describe("variantLabeler", () => {
  it("names swept prompts by their given name or v1, v2, ... and keeps the full text as the title", () => {
    const label = variantLabeler({ prompt_template: [A, B], model: ["m1", "m2"] }, { prompt_template: ["concise", ""] });
    expect(label("prompt_template", A)).toEqual({ text: "concise", title: A, named: true });
    expect(label("prompt_template", B)).toEqual({ text: "v2", title: B, named: true });
    expect(label("model", "m2")).toEqual({ text: "m2", title: "m2", named: false });
    expect(label("temperature", 0.5).text).toBe("0.5");
  });

  it("names long swept texts of any key, and stage-scoped prompt keys", () => {
    const label = variantLabeler({ "stages.summarize.system_prompt": ["a", "b"], "vars.style": [A, "short"] }, {});
    expect(label("stages.summarize.system_prompt", "b").text).toBe("v2");
    expect(label("vars.style", A).text).toBe("v1");
    expect(label("vars.style", "short").text).toBe("v2");
  });
});
