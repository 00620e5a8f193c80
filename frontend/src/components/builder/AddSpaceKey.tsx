// The form that adds a key to the parameter space: every stage, one stage or a template variable.
import { useState } from "react";

import type { ExperimentDocument, SpaceValue } from "../../lib/documentYaml";
import { Button } from "../ui/Button";
import { Input, Select } from "../ui/Field";
import { COMMON_PARAMS, STAGE_FIELDS, buildKey, paramNameProblem, type ParsedKey } from "./spaceKeys";

const OTHER = "__other__";

export function AddKeyForm({ doc, onAdd }: { doc: ExperimentDocument; onAdd: (key: string, value: SpaceValue) => void }) {
  const [scope, setScope] = useState("all");
  const [field, setField] = useState("temperature");
  const [name, setName] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const isVar = scope === "var";
  const custom = isVar || field === OTHER;

  const submit = () => {
    const fieldName = custom ? name.trim() : field;
    let parsed: ParsedKey;
    if (isVar) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(fieldName)) {
        setProblem("A variable name uses letters, digits and underscores, and does not start with a digit.");
        return;
      }
      parsed = { scope: "var", name: fieldName };
    } else {
      const why = paramNameProblem(fieldName);
      if (why) {
        setProblem(why);
        return;
      }
      const stageIndex = scope.startsWith("stage:") ? Number(scope.slice(6)) : null;
      const stageName = stageIndex === null ? undefined : doc.pipeline_stages[stageIndex]?.name;
      parsed = stageIndex === null ? { scope: "all", name: fieldName } : { scope: "stage", stage: stageName || String(stageIndex), name: fieldName };
    }
    const key = buildKey(parsed);
    if (key in doc.parameter_space) {
      setProblem(`\`${key}\` is already swept.`);
      return;
    }
    onAdd(key, initialValues(doc, parsed));
    setProblem(null);
    setName("");
  };

  return (
    <div className="space-y-2 rounded-md border border-dashed border-line p-3" data-testid="space-add-form">
      <div className="flex flex-wrap items-end gap-2">
        <label className="flex flex-col gap-1 text-sm font-medium">
          Applies to
          <Select data-testid="space-add-scope" value={scope} onChange={(e) => setScope(e.target.value)} className="max-w-52">
            <option value="all">Every stage</option>
            {doc.pipeline_stages.map((stage, i) => (
              <option key={i} value={`stage:${i}`}>
                Stage {i + 1}: {stage.name || "(unnamed)"}
              </option>
            ))}
            <option value="var">A template variable (vars.*)</option>
          </Select>
        </label>
        {!isVar && (
          <label className="flex flex-col gap-1 text-sm font-medium">
            Parameter
            <Select data-testid="space-add-field" value={field} onChange={(e) => setField(e.target.value)} className="max-w-52">
              <optgroup label="Request parameters">
                {COMMON_PARAMS.map((p) => (
                  <option key={p} value={p}>
                    {p}
                  </option>
                ))}
              </optgroup>
              <optgroup label="Stage fields">
                {STAGE_FIELDS.map((f) => (
                  <option key={f} value={f}>
                    {f}
                  </option>
                ))}
              </optgroup>
              <option value={OTHER}>Another request parameter…</option>
            </Select>
          </label>
        )}
        {custom && (
          <label className="flex flex-col gap-1 text-sm font-medium">
            {isVar ? "Variable name" : "Parameter name"}
            <Input
              data-testid="space-add-name"
              value={name}
              onChange={(e) => setName(e.target.value)}
              placeholder={isVar ? "e.g. tone" : "e.g. repetition_penalty"}
              className="max-w-52 font-mono"
            />
          </label>
        )}
        {/* Named apart from each stage's "Add parameter" (request parameters) for screen readers. */}
        <Button variant="primary" data-testid="space-add" onClick={submit} aria-label="Add parameter to the sweep">
          Add parameter
        </Button>
      </div>
      {problem && (
        <p className="text-sm text-bad" role="alert">
          {problem}
        </p>
      )}
    </div>
  );
}

/** Start a new key with what the stage already uses, so the sweep begins from the current config. */
function initialValues(doc: ExperimentDocument, parsed: ParsedKey): unknown[] {
  if (parsed.scope === "var") return [];
  const stage =
    parsed.scope === "stage"
      ? doc.pipeline_stages.find((s, i) => s.name === parsed.stage || String(i) === parsed.stage)
      : doc.pipeline_stages[0];
  if (!stage) return [];
  if ((STAGE_FIELDS as readonly string[]).includes(parsed.name)) {
    const current = stage[parsed.name as (typeof STAGE_FIELDS)[number]];
    return current ? [current] : [];
  }
  return [];
}
