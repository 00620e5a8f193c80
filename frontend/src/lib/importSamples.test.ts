import { describe, expect, it } from "vitest";
import { detectFormat, importSamples, parseCsv, samplesFromCsv, samplesFromJsonl } from "./importSamples";

describe("parseCsv", () => {
  it("keeps commas, doubled quotes and line breaks inside quoted fields", () => {
    const text = 'id,input\r\n1,"Hello, world"\r\n2,"She said ""hi""\nthen left"\n';
    expect(parseCsv(text)).toEqual([
      ["id", "input"],
      ["1", "Hello, world"],
      ["2", 'She said "hi"\nthen left'],
    ]);
  });
});

describe("samplesFromCsv", () => {
  it("maps input/reference/id and turns other columns into vars", () => {
    const text = 'Input,reference,topic,id\n"Paris, France",capital,geo,a\nBerlin,,history,\n';
    const result = samplesFromCsv(text);
    expect(result.errors).toEqual([]);
    expect(result.samples).toEqual([
      { id: "a", input: "Paris, France", reference: "capital", vars: { topic: "geo" } },
      { id: "s1", input: "Berlin", vars: { topic: "history" } },
    ]);
  });

  it("reads tab-separated files and skips blank rows", () => {
    const result = importSamples("input\tlang\nhola\tes\n\n", { fileName: "x.tsv" });
    expect(result.samples).toEqual([{ id: "s1", input: "hola", vars: { lang: "es" } }]);
  });

  it("says so when there is no input column", () => {
    const result = samplesFromCsv("text,label\na,b\n");
    expect(result.samples).toEqual([]);
    expect(result.errors[0]).toMatch(/needs an `input` column/);
  });

  it("renames duplicate ids with a warning", () => {
    const result = samplesFromCsv("id,input\nx,1\nx,2\n");
    expect(result.samples.map((s) => s.id)).toEqual(["x", "s1"]);
    expect(result.warnings[0]).toMatch(/more than once/);
  });
});

describe("samplesFromJsonl", () => {
  it("reads one object per line; extra keys become vars", () => {
    const text = '{"id": "q1", "input": "2+2?", "reference": "4"}\n\n{"input": "3+3?", "vars": {"x": 1}, "level": "easy"}\n"plain"\n';
    const result = samplesFromJsonl(text);
    expect(result.errors).toEqual([]);
    expect(result.samples).toEqual([
      { id: "q1", input: "2+2?", reference: "4" },
      { id: "s1", input: "3+3?", vars: { x: 1, level: "easy" } },
      { id: "s2", input: "plain" },
    ]);
  });

  it("reports bad lines with their number and keeps the good ones", () => {
    const result = samplesFromJsonl('{"input": "ok"}\n{oops}\n{"text": "no input"}\n');
    expect(result.samples).toHaveLength(1);
    expect(result.errors).toHaveLength(2);
    expect(result.errors[0]).toMatch(/^Line 2 is not valid JSON/);
    expect(result.errors[1]).toMatch(/^Line 3: the object has no `input`/);
  });
});

describe("importSamples (pasted text)", () => {
  it("detects a JSON array, JSONL and plain lines", () => {
    expect(detectFormat('[{"input": "a"}]')).toBe("json");
    expect(detectFormat('{"input": "a"}\n{"input": "b"}')).toBe("jsonl");
    expect(detectFormat("one\ntwo")).toBe("lines");
    expect(importSamples("first line\n\nsecond line\n").samples).toEqual([
      { id: "s1", input: "first line" },
      { id: "s2", input: "second line" },
    ]);
    expect(importSamples('["a", {"input": "b", "id": "s1"}]').samples).toEqual([
      { id: "s2", input: "a" },
      { id: "s1", input: "b" },
    ]);
  });
});
