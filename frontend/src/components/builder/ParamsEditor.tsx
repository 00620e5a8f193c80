import { useState } from "react";

import { Button } from "../ui/Button";
import { Input } from "../ui/Field";
import { NumberInput } from "./NumberInput";
import { paramNameProblem, parseLooseValue, valueText } from "./spaceKeys";

const NUMBER_PARAMS: { name: string; label: string }[] = [
  { name: "temperature", label: "Temperature" },
  { name: "top_p", label: "Top p" },
  { name: "max_tokens", label: "Max tokens" },
  { name: "seed", label: "Seed" },
];

interface Props {
  params: Record<string, unknown>;
  onChange: (params: Record<string, unknown>) => void;
  testId: string;
  /** Params swept in the parameter space for this stage (their fixed value is overridden). */
  swept: string[];
}

/** A stage's request parameters: the usual numbers as fields, anything else as name = value rows. */
export function ParamsEditor({ params, onChange, testId, swept }: Props) {
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const others = Object.entries(params).filter(([key]) => !NUMBER_PARAMS.some((p) => p.name === key));

  const set = (key: string, next: unknown) => {
    const copy = { ...params };
    if (next === undefined || next === "") delete copy[key];
    else copy[key] = next;
    onChange(copy);
  };

  const addOther = () => {
    const key = name.trim();
    const why = paramNameProblem(key) ?? (key === "model" ? "Set the model above." : null);
    if (why) {
      setProblem(why);
      return;
    }
    set(key, parseLooseValue(value));
    setName("");
    setValue("");
    setProblem(null);
  };

  return (
    <fieldset className="space-y-2" data-testid={testId}>
      <legend className="text-sm font-medium">Request parameters</legend>
      <div className="grid grid-cols-2 gap-2 sm:grid-cols-4">
        {NUMBER_PARAMS.map((p) => (
          <label key={p.name} className="flex flex-col gap-1 text-xs text-muted">
            <span>
              {p.label}
              {swept.includes(p.name) && <span className="ml-1 text-accent">(swept)</span>}
            </span>
            <NumberInput
              data-testid={`${testId}-${p.name}`}
              value={typeof params[p.name] === "number" ? (params[p.name] as number) : undefined}
              placeholder="default"
              onValue={(value) => set(p.name, value)}
              className="h-8"
            />
          </label>
        ))}
      </div>
      {others.length > 0 && (
        <ul className="space-y-1">
          {others.map(([key, item]) => (
            <li key={key} className="flex items-center gap-2 text-sm">
              <span className="w-40 truncate font-mono">{key}</span>
              <Input
                aria-label={`Parameter ${key}`}
                defaultValue={valueText(item)}
                onBlur={(e) => set(key, parseLooseValue(e.target.value))}
                className="h-8"
              />
              <Button size="sm" variant="ghost" aria-label={`Remove parameter ${key}`} onClick={() => set(key, undefined)}>
                ×
              </Button>
            </li>
          ))}
        </ul>
      )}
      <div className="flex flex-wrap items-center gap-2">
        <Input
          aria-label="Other parameter name"
          placeholder="other parameter, e.g. stop"
          value={name}
          onChange={(e) => setName(e.target.value)}
          className="h-8 max-w-52 font-mono"
        />
        <Input
          aria-label="Other parameter value"
          placeholder='value (number, text or JSON, e.g. ["\n"])'
          value={value}
          onChange={(e) => setValue(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              addOther();
            }
          }}
          className="h-8 max-w-64"
        />
        <Button size="sm" onClick={addOther} disabled={!name.trim()}>
          Add parameter
        </Button>
        {problem && <span className="text-sm text-bad">{problem}</span>}
      </div>
    </fieldset>
  );
}
