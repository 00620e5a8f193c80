// Editors of one parameter_space entry's values: chips, prompt variants, endpoints, a numeric range.
import { useState } from "react";

import type { Endpoint } from "../../api/client";
import type { RangeDoc } from "../../lib/documentYaml";
import { rangeValues } from "../../lib/estimate";
import type { TemplateScope } from "../../lib/templateVars";
import { Button } from "../ui/Button";
import { Checkbox, Input, Select } from "../ui/Field";
import { NumberInput } from "./NumberInput";
import { parseLooseValue, valueText } from "./spaceKeys";
import { TemplateEditor } from "./TemplateEditor";

export function safeRangeValues(range: RangeDoc): unknown[] {
  try {
    return rangeValues(range);
  } catch {
    return [range.min, range.max];
  }
}

export function rangeFrom(values: unknown[]): RangeDoc {
  const numbers = values.filter((v): v is number => typeof v === "number");
  if (numbers.length === 0) return { min: 0, max: 1, step: 0.25, type: "float" };
  const min = Math.min(...numbers);
  const max = Math.max(...numbers);
  const int = numbers.every(Number.isInteger);
  return { min, max: max > min ? max : min + 1, step: null, type: int ? "int" : "float" };
}

/** Values as removable chips; the input adds one, or several separated by commas. */
export function ChipValues({
  values,
  onChange,
  testId,
  typed,
}: {
  values: unknown[];
  onChange: (values: unknown[]) => void;
  testId: string;
  typed: boolean;
}) {
  const [text, setText] = useState("");
  const add = () => {
    const parts = text
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean);
    if (parts.length === 0) return;
    const next = [...values];
    for (const part of parts) {
      const value = typed ? parseLooseValue(part) : part;
      if (!next.some((v) => JSON.stringify(v) === JSON.stringify(value))) next.push(value);
    }
    onChange(next);
    setText("");
  };
  return (
    <div className="space-y-2">
      <ul className="flex flex-wrap gap-1.5" data-testid={`${testId}-values`} aria-label="Values">
        {values.map((value, i) => (
          <li
            key={`${i}:${valueText(value)}`}
            className="inline-flex items-center gap-1 rounded border border-line bg-raised px-2 py-0.5 font-mono text-sm"
            data-testid={`${testId}-value-${i}`}
          >
            {valueText(value)}
            <button
              type="button"
              className="rounded px-1 text-muted hover:text-fg"
              aria-label={`Remove value ${valueText(value)}`}
              onClick={() => onChange(values.filter((_, j) => j !== i))}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      <div className="flex items-center gap-2">
        <Input
          aria-label="Add values (separate several with commas)"
          data-testid={`${testId}-value-input`}
          value={text}
          placeholder={typed ? "e.g. 0.2, 0.8" : "e.g. model-a, model-b"}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              add();
            }
          }}
          className="h-8 max-w-64 font-mono"
        />
        <Button size="sm" onClick={add} disabled={!text.trim()} data-testid={`${testId}-value-add`}>
          Add
        </Button>
      </div>
    </div>
  );
}

export function TemplateValues({
  values,
  onChange,
  testId,
  scopes,
  fallback,
  names = [],
  onNames,
}: {
  values: unknown[];
  onChange: (values: unknown[]) => void;
  testId: string;
  scopes: TemplateScope[];
  fallback: string;
  /** The variants' names (blank: v1, v2, ...), shown in tables and charts instead of the text. */
  names?: string[];
  onNames?: (names: string[]) => void;
}) {
  const setName = (i: number, name: string) => {
    const next = values.map((_, j) => names[j] ?? "");
    next[i] = name;
    onNames?.(next);
  };
  return (
    <div className="space-y-3">
      {values.map((value, i) => (
        <div key={i} className="flex items-start gap-2">
          <div className="min-w-0 flex-1 space-y-1">
            {onNames && (
              <label className="flex flex-wrap items-center gap-2 text-xs text-muted">
                Name
                <Input
                  value={names[i] ?? ""}
                  placeholder={`v${i + 1}`}
                  maxLength={60}
                  onChange={(e) => setName(i, e.target.value)}
                  className="h-7 max-w-48 text-sm"
                  data-testid={`${testId}-variant-name-${i}`}
                  aria-label={`Name of variant ${i + 1}`}
                />
                <span>shown in the leaderboard, runs and charts (the full text on hover)</span>
              </label>
            )}
            <TemplateEditor
              label={`Variant ${i + 1}${names[i] ? ` · ${names[i]}` : ""}`}
              value={typeof value === "string" ? value : ""}
              onChange={(text) => onChange(values.map((v, j) => (j === i ? text : v)))}
              scope={scopes.length > 0 ? scopes : [{ stageIndex: 0, earlierStages: [], vars: [] }]}
              testId={`${testId}-template-${i}`}
              rows={3}
            />
          </div>
          <Button
            size="sm"
            variant="ghost"
            aria-label={`Remove variant ${i + 1}`}
            onClick={() => {
              onChange(values.filter((_, j) => j !== i));
              if (names.length > i) onNames?.(names.filter((_, j) => j !== i));
            }}
          >
            ×
          </Button>
        </div>
      ))}
      <Button size="sm" onClick={() => onChange([...values, values.length > 0 ? values[values.length - 1] : fallback])} data-testid={`${testId}-add-variant`}>
        Add a variant
      </Button>
    </div>
  );
}

export function EndpointValues({
  values,
  onChange,
  endpoints,
  testId,
}: {
  values: unknown[];
  onChange: (values: unknown[]) => void;
  endpoints: Endpoint[];
  testId: string;
}) {
  const unknown = values.filter((v) => !endpoints.some((e) => e.id === v));
  return (
    <fieldset className="flex flex-wrap gap-3" data-testid={`${testId}-values`}>
      <legend className="sr-only">Endpoints</legend>
      {endpoints.length === 0 && <p className="text-sm text-muted">No endpoint configured yet.</p>}
      {endpoints.map((endpoint) => (
        <Checkbox
          key={endpoint.id}
          label={endpoint.label}
          checked={values.includes(endpoint.id)}
          onChange={(e) => onChange(e.target.checked ? [...values, endpoint.id] : values.filter((v) => v !== endpoint.id))}
        />
      ))}
      {unknown.map((id) => (
        <span key={String(id)} className="text-sm text-bad">
          Unknown endpoint {String(id)}
        </span>
      ))}
    </fieldset>
  );
}

export function RangeEditor({ value, onChange, testId }: { value: RangeDoc; onChange: (value: RangeDoc) => void; testId: string }) {
  let preview: string;
  try {
    const points = rangeValues(value);
    preview = `Grid points: ${points.slice(0, 8).join(", ")}${points.length > 8 ? `, … (${points.length})` : ""}`;
  } catch (error) {
    preview = (error as Error).message;
  }
  return (
    <div className="space-y-2">
      <div className="flex flex-wrap items-end gap-3">
        {(["min", "max", "step"] as const).map((field) => (
          <label key={field} className="flex flex-col gap-1 text-xs text-muted">
            {field}
            {field === "step" ? " (optional)" : ""}
            <NumberInput
              data-testid={`${testId}-${field}`}
              value={value[field] ?? undefined}
              onValue={(next) => {
                if (field === "step") onChange({ ...value, step: next ?? null });
                else if (next !== undefined) onChange({ ...value, [field]: next });
              }}
              className="h-8 max-w-28"
            />
          </label>
        ))}
        <label className="flex flex-col gap-1 text-xs text-muted">
          type
          <Select
            data-testid={`${testId}-type`}
            value={value.type ?? "float"}
            onChange={(e) => onChange({ ...value, type: e.target.value as "float" | "int" })}
            className="h-8 max-w-24"
          >
            <option value="float">float</option>
            <option value="int">int</option>
          </Select>
        </label>
        <Checkbox label="log scale" checked={!!value.log} onChange={(e) => onChange({ ...value, log: e.target.checked })} />
      </div>
      <p className="text-xs text-muted num">{preview}. Random sweeps draw any value in the range{value.step ? " on the step" : ""}.</p>
    </div>
  );
}
