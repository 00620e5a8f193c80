import { describe, expect, it } from "vitest";
import { checkTemplate, definedVars, knownNames, parseTemplate, referencedNames, splitTemplate } from "./templateVars";

const first = { stageIndex: 0, earlierStages: [], vars: ["topic"] };
const second = { stageIndex: 1, earlierStages: ["extract"], vars: [] };

describe("referencedNames", () => {
  it("reads plain names and vars/stages paths like the backend", () => {
    expect(referencedNames("Facts in: {{ input }} about {{ vars.topic }}")).toEqual(["input", "vars.topic"]);
    expect(referencedNames('{{ stages["extract"].output }} {{ stages.extract.output|upper }}')).toEqual([
      "stages.extract.output",
    ]);
    expect(referencedNames("{{ vars['topic'].upper() }}")).toEqual(["vars.topic"]);
  });

  it("ignores filters, tests, keyword arguments, literals and keywords", () => {
    expect(referencedNames('{{ x|default("input") }}')).toEqual(["x"]);
    expect(referencedNames("{{ input is defined and reference is not none }}")).toEqual(["input", "reference"]);
    expect(referencedNames("{{ foo(bar=1) }}")).toEqual(["foo"]);
    expect(referencedNames('{{ "a" ~ input if true else 3.5 }}')).toEqual(["input"]);
  });

  it("leaves out names declared by for and set", () => {
    const text = "{% for item in vars.items %}{{ item }} {{ loop.index }}{% endfor %}{% set y = input %}{{ y }}{{ z }}";
    expect(referencedNames(text)).toEqual(["input", "vars.items", "z"]);
  });

  it("does not read inside comments or raw blocks", () => {
    expect(referencedNames("{# {{ nope }} #}{% raw %}{{ nope2 }}{% endraw %}{{ input }}")).toEqual(["input"]);
  });

  it("gives positions for highlighting", () => {
    const text = "Hi {{  vars.topic }}!";
    const [ref] = parseTemplate(text).refs;
    expect(text.slice(ref.start, ref.end)).toBe("vars.topic");
  });
});

describe("splitTemplate", () => {
  it("splits text, expressions, statements and comments", () => {
    const { segments } = splitTemplate("a {{ input }} b {% if x %}c{% endif %}{# note #}");
    expect(segments.map((s) => s.kind)).toEqual(["text", "expr", "text", "stmt", "text", "stmt", "comment"]);
    expect(segments.map((s) => s.text).join("")).toBe("a {{ input }} b {% if x %}c{% endif %}{# note #}");
  });

  it("reports an unclosed tag", () => {
    const { issues } = splitTemplate("Hello {{ input");
    expect(issues).toHaveLength(1);
    expect(issues[0].message).toMatch(/never closed/);
  });
});

describe("checkTemplate", () => {
  it("accepts known names", () => {
    expect(checkTemplate("{{ input }} {{ reference }} {{ vars.topic }} {{ range(3)|list }}", first)).toEqual([]);
    expect(checkTemplate("{{ previous }} {{ stages.extract.output }}", second)).toEqual([]);
  });

  it("flags unknown names with a reason", () => {
    const issues = checkTemplate("{{ inptu }} {{ vars.lang }} {{ previous }}", first);
    expect(issues.map((i) => i.name)).toEqual(["inptu", "vars.lang", "previous"]);
    expect(issues[0].message).toMatch(/not defined/);
    expect(issues[2].message).toMatch(/second stage/);
  });

  it("only lets a stage read earlier stages, and only their output", () => {
    expect(checkTemplate("{{ stages.later.output }}", second)[0].message).toMatch(/earlier stages \(extract\)/);
    expect(checkTemplate("{{ stages.extract.prompt }}", second)[0].message).toMatch(/only has `output`/);
  });
});

describe("definedVars and knownNames", () => {
  it("intersects sample vars and adds swept vars", () => {
    const samples = [{ vars: { topic: "a", lang: "en" } }, { vars: { topic: "b" } }];
    expect(definedVars(samples, ["vars.tone", "temperature"])).toEqual(["tone", "topic"]);
    expect(definedVars([], [])).toEqual([]);
  });

  it("lists what a stage may use", () => {
    expect(knownNames(second)).toEqual(["input", "reference", "previous", "stages.extract.output"]);
  });
});
