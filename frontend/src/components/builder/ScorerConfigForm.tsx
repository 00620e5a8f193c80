import { useEffect, useState } from "react";

import type { Endpoint } from "../../api/client";
import { Checkbox, Input, Select, Textarea } from "../ui/Field";
import { NumberInput } from "./NumberInput";
import { formFields, type FormField, type JsonSchema } from "./configSchema";

interface Props {
  schema: JsonSchema;
  config: Record<string, unknown>;
  onChange: (config: Record<string, unknown>) => void;
  endpoints: Endpoint[];
  testId: string;
}

/** A form built from a scorer's config schema; fields it cannot render are edited as JSON. */
export function ScorerConfigForm({ schema, config, onChange, endpoints, testId }: Props) {
  const fields = formFields(schema);
  if (fields.length === 0) return <p className="text-sm text-muted">This scorer has no settings.</p>;
  const set = (name: string, value: unknown) => {
    const copy = { ...config };
    if (value === undefined) delete copy[name];
    else copy[name] = value;
    onChange(copy);
  };
  return (
    <div className="grid gap-3 md:grid-cols-2">
      {fields.map((field) => (
        <ConfigField
          key={field.name}
          field={field}
          value={config[field.name]}
          onChange={(value) => set(field.name, value)}
          endpoints={endpoints}
          testId={`${testId}-${field.name}`}
        />
      ))}
    </div>
  );
}

function ConfigField({
  field,
  value,
  onChange,
  endpoints,
  testId,
}: {
  field: FormField;
  value: unknown;
  onChange: (value: unknown) => void;
  endpoints: Endpoint[];
  testId: string;
}) {
  const wide = field.kind === "text" || field.kind === "json" || field.kind === "string-list";
  const label = (
    <span className="text-sm font-medium">
      {field.name}
      {field.required ? <span className="text-bad"> *</span> : <span className="font-normal text-muted"> (optional)</span>}
    </span>
  );
  const hint = field.description ? <span className="text-xs text-muted">{field.description}</span> : null;
  const placeholder = field.schema.default !== undefined && field.schema.default !== null ? `default: ${JSON.stringify(field.schema.default)}` : undefined;

  if (field.kind === "boolean") {
    const checked = typeof value === "boolean" ? value : field.schema.default === true;
    return (
      <div className={wide ? "md:col-span-2" : ""}>
        <Checkbox label={field.name} checked={checked} data-testid={testId} onChange={(e) => onChange(e.target.checked)} />
        {hint && <p>{hint}</p>}
      </div>
    );
  }

  let control;
  switch (field.kind) {
    case "enum":
      control = (
        <Select aria-label={field.name} data-testid={testId} value={value === undefined ? "" : String(value)} onChange={(e) => onChange(e.target.value === "" ? undefined : field.options?.find((o) => String(o) === e.target.value))}>
          {!field.required && <option value="">{placeholder ?? "(default)"}</option>}
          {field.options?.map((option) => (
            <option key={String(option)} value={String(option)}>
              {String(option)}
            </option>
          ))}
        </Select>
      );
      break;
    case "endpoint":
      control = (
        <Select aria-label={field.name} data-testid={testId} value={typeof value === "string" ? value : ""} onChange={(e) => onChange(e.target.value || undefined)}>
          <option value="">Default endpoint</option>
          {endpoints.map((endpoint) => (
            <option key={endpoint.id} value={endpoint.id}>
              {endpoint.label}
            </option>
          ))}
        </Select>
      );
      break;
    case "integer":
    case "number":
      control = (
        <NumberInput
          aria-label={field.name}
          data-testid={testId}
          value={typeof value === "number" ? value : undefined}
          placeholder={placeholder}
          onValue={onChange}
        />
      );
      break;
    case "string-list":
      control = <StringListField value={value} onChange={onChange} testId={testId} label={`${field.name} (one per line)`} />;
      break;
    case "text":
      control = (
        <Textarea
          aria-label={field.name}
          data-testid={testId}
          rows={field.name === "code" ? 8 : 4}
          value={typeof value === "string" ? value : ""}
          placeholder={placeholder}
          onChange={(e) => onChange(e.target.value === "" && !field.required ? undefined : e.target.value)}
        />
      );
      break;
    case "json":
      control = <JsonField value={value} onChange={onChange} testId={testId} label={field.name} />;
      break;
    default:
      control = (
        <Input
          aria-label={field.name}
          data-testid={testId}
          value={typeof value === "string" ? value : ""}
          placeholder={placeholder}
          onChange={(e) => onChange(e.target.value === "" && !field.required ? undefined : e.target.value)}
        />
      );
  }
  return (
    <label className={`flex flex-col gap-1 ${wide ? "md:col-span-2" : ""}`}>
      {label}
      {control}
      {hint}
    </label>
  );
}

/** A JSON value edited as text; the value changes only while the text parses. */
export function JsonField({
  value,
  onChange,
  testId,
  label,
  rows = 3,
}: {
  value: unknown;
  onChange: (value: unknown) => void;
  testId: string;
  label: string;
  rows?: number;
}) {
  const [text, setText] = useState(() => (value === undefined ? "" : JSON.stringify(value, null, 2)));
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    // Follow outside changes (YAML edits) unless the text already means the same value.
    setText((current) => {
      try {
        if (current.trim() !== "" && JSON.stringify(JSON.parse(current)) === JSON.stringify(value)) return current;
      } catch {
        return current;
      }
      return value === undefined ? "" : JSON.stringify(value, null, 2);
    });
  }, [value]);
  return (
    <>
      <Textarea
        aria-label={label}
        data-testid={testId}
        rows={rows}
        value={text}
        aria-invalid={error ? true : undefined}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value.trim() === "") {
            setError(null);
            onChange(undefined);
            return;
          }
          try {
            onChange(JSON.parse(e.target.value));
            setError(null);
          } catch (err) {
            setError(`Not valid JSON yet: ${(err as Error).message}`);
          }
        }}
      />
      {error && <span className="text-xs text-bad">{error}</span>}
    </>
  );
}

/** A list of strings edited one per line (blank lines are dropped from the value, not from the text). */
export function StringListField({
  value,
  onChange,
  testId,
  label,
}: {
  value: unknown;
  onChange: (value: string[]) => void;
  testId: string;
  label: string;
}) {
  const list = Array.isArray(value) ? value.map(String) : [];
  const [text, setText] = useState(() => list.join("\n"));
  const joined = list.join("\n");
  useEffect(() => {
    setText((current) => (linesOf(current).join("\n") === joined ? current : joined));
  }, [joined]);
  return (
    <Textarea
      aria-label={label}
      data-testid={testId}
      rows={3}
      value={text}
      placeholder="One per line"
      className="font-sans"
      onChange={(e) => {
        setText(e.target.value);
        onChange(linesOf(e.target.value));
      }}
    />
  );
}

function linesOf(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
}
