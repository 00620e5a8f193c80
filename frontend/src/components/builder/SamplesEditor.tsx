import { useMemo, useState, type ChangeEvent } from "react";

import { assignIds, importSamples, type ImportResult } from "../../lib/importSamples";
import type { SampleDoc } from "../../lib/documentYaml";
import { Button } from "../ui/Button";
import { Card, CardBody, CardHeader } from "../ui/Card";
import { Input, Textarea } from "../ui/Field";
import { Pager } from "../ui/Pager";
import { FieldError } from "./fieldErrors";
import { parseLooseValue, valueText } from "./spaceKeys";

const PAGE = 25;

interface Props {
  samples: SampleDoc[];
  onChange: (samples: SampleDoc[]) => void;
}

/** Samples pasted (one per line, JSON or JSONL) or imported from CSV/JSONL, then edited in a table. */
export function SamplesEditor({ samples, onChange }: Props) {
  const [pasted, setPasted] = useState("");
  const [report, setReport] = useState<(ImportResult & { source: string }) | null>(null);
  const [page, setPage] = useState(0);
  const [newVar, setNewVar] = useState("");

  const varKeys = useMemo(() => {
    const keys = new Set<string>();
    samples.forEach((s) => Object.keys(s.vars ?? {}).forEach((k) => keys.add(k)));
    return [...keys];
  }, [samples]);
  const pages = Math.max(1, Math.ceil(samples.length / PAGE));
  const current = Math.min(page, pages - 1);
  const visible = samples.slice(current * PAGE, current * PAGE + PAGE);

  const add = (text: string, source: string, replace: boolean, fileName?: string) => {
    const kept = replace ? [] : samples;
    const result = importSamples(text, { fileName, taken: kept.map((s) => s.id) });
    setReport({ ...result, source });
    if (result.samples.length > 0) onChange([...kept, ...result.samples]);
    return result;
  };

  const onPaste = (replace: boolean) => {
    if (!pasted.trim()) return;
    const result = add(pasted, "Pasted text", replace);
    if (result.errors.length === 0) setPasted("");
  };

  const onFile = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    event.target.value = "";
    if (!file) return;
    add(await file.text(), file.name, false, file.name);
  };

  const update = (index: number, patch: Partial<SampleDoc>) =>
    onChange(samples.map((s, i) => (i === index ? { ...s, ...patch } : s)));

  const updateVar = (index: number, key: string, text: string) => {
    const sample = samples[index];
    const previous = sample.vars?.[key];
    const value = typeof previous === "string" || previous === undefined ? text : parseLooseValue(text);
    update(index, { vars: { ...(sample.vars ?? {}), [key]: value } });
  };

  const addVarColumn = () => {
    const name = newVar.trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || varKeys.includes(name)) return;
    onChange(samples.map((s) => ({ ...s, vars: { ...(s.vars ?? {}), [name]: "" } })));
    setNewVar("");
  };

  const removeVarColumn = (key: string) =>
    onChange(
      samples.map((s) => {
        const { [key]: _removed, ...vars } = s.vars ?? {};
        return { ...s, vars };
      }),
    );

  const addEmpty = () => {
    const sample = assignIds([{ id: "", input: "" }], [], samples.map((s) => s.id))[0];
    onChange([...samples, { ...sample, vars: Object.fromEntries(varKeys.map((k) => [k, ""])) }]);
    setPage(Math.floor(samples.length / PAGE));
  };

  return (
    <Card data-testid="samples-section">
      <CardHeader
        title={`Samples (${samples.length})`}
        description="The inputs every configuration is run on. Paste one per line, a JSON array or JSON Lines; or import a CSV (header row with input, reference, id; other columns become vars) or JSONL file."
      />
      <CardBody className="space-y-3">
        <div className="space-y-2">
          <label htmlFor="samples-paste" className="block text-sm font-medium">
            Paste samples
          </label>
          <Textarea
            id="samples-paste"
            data-testid="samples-paste"
            value={pasted}
            onChange={(e) => setPasted(e.target.value)}
            rows={4}
            placeholder={'One sample per line, or [{"input": "...", "reference": "..."}], or JSON Lines'}
          />
          <div className="flex flex-wrap items-center gap-2">
            <Button size="sm" variant="primary" data-testid="samples-paste-add" onClick={() => onPaste(false)} disabled={!pasted.trim()}>
              Add samples
            </Button>
            <Button size="sm" data-testid="samples-paste-replace" onClick={() => onPaste(true)} disabled={!pasted.trim()}>
              Replace all
            </Button>
            <label className="inline-flex h-8 cursor-pointer items-center rounded-md border border-line bg-panel px-2.5 text-sm font-medium hover:bg-raised focus-within:ring-2 focus-within:ring-accent">
              Import file…
              <input
                type="file"
                className="sr-only"
                data-testid="samples-file"
                accept=".csv,.tsv,.jsonl,.ndjson,.json,.txt,text/csv,application/json"
                onChange={(e) => void onFile(e)}
              />
            </label>
            <Button size="sm" variant="ghost" onClick={addEmpty} data-testid="samples-add-row">
              Add a sample
            </Button>
            {samples.length > 0 && (
              <Button size="sm" variant="ghost" onClick={() => onChange([])} data-testid="samples-clear">
                Remove all
              </Button>
            )}
          </div>
          {report && (
            <div className="text-sm" data-testid="samples-import-report" role="status">
              <p className={report.samples.length > 0 ? "text-good" : "text-muted"}>
                {report.source}: {report.samples.length} sample{report.samples.length === 1 ? "" : "s"} added.
              </p>
              {[...report.errors, ...report.warnings].length > 0 && (
                <ul className="mt-1 list-disc pl-5">
                  {report.errors.map((e, i) => (
                    <li key={`e${i}`} className="text-bad">
                      {e}
                    </li>
                  ))}
                  {report.warnings.map((w, i) => (
                    <li key={`w${i}`} className="text-warn">
                      {w}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
          <FieldError path="sample_data" deep />
        </div>

        {samples.length > 0 && (
          <div className="overflow-x-auto">
            <table className="w-full border-collapse text-sm" data-testid="samples-table">
              <thead>
                <tr className="border-b border-line text-left text-xs text-muted">
                  <th className="w-28 py-1 pr-2 font-medium">id</th>
                  <th className="py-1 pr-2 font-medium">input</th>
                  <th className="py-1 pr-2 font-medium">reference</th>
                  {varKeys.map((key) => (
                    <th key={key} className="py-1 pr-2 font-medium">
                      <span className="font-mono">vars.{key}</span>
                      <button
                        type="button"
                        className="ml-1 rounded px-1 text-muted hover:bg-raised"
                        aria-label={`Remove variable ${key}`}
                        onClick={() => removeVarColumn(key)}
                      >
                        ×
                      </button>
                    </th>
                  ))}
                  <th className="w-8" />
                </tr>
              </thead>
              <tbody>
                {visible.map((sample, offset) => {
                  const index = current * PAGE + offset;
                  return (
                    <tr key={index} className="border-b border-line align-top" data-testid={`sample-row-${index}`}>
                      <td className="py-1 pr-2">
                        <Input
                          aria-label={`Sample ${index + 1} id`}
                          value={sample.id}
                          onChange={(e) => update(index, { id: e.target.value })}
                          className="h-8 font-mono"
                        />
                      </td>
                      <td className="py-1 pr-2">
                        <Textarea
                          aria-label={`Sample ${index + 1} input`}
                          data-testid={`sample-${index}-input`}
                          value={sample.input}
                          onChange={(e) => update(index, { input: e.target.value })}
                          rows={2}
                          className="min-h-[2.5rem] font-sans"
                        />
                        <FieldError path={`sample_data.${index}`} deep />
                      </td>
                      <td className="py-1 pr-2">
                        <Textarea
                          aria-label={`Sample ${index + 1} reference`}
                          value={sample.reference ?? ""}
                          onChange={(e) => update(index, { reference: e.target.value })}
                          rows={2}
                          className="min-h-[2.5rem] font-sans"
                        />
                      </td>
                      {varKeys.map((key) => (
                        <td key={key} className="py-1 pr-2">
                          <Input
                            aria-label={`Sample ${index + 1} variable ${key}`}
                            value={sample.vars?.[key] === undefined ? "" : valueText(sample.vars[key])}
                            onChange={(e) => updateVar(index, key, e.target.value)}
                            className="h-8"
                          />
                        </td>
                      ))}
                      <td className="py-1">
                        <Button
                          size="sm"
                          variant="ghost"
                          aria-label={`Remove sample ${index + 1}`}
                          onClick={() => onChange(samples.filter((_, i) => i !== index))}
                        >
                          ×
                        </Button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            <div className="mt-2 flex flex-wrap items-center justify-between gap-2 text-sm">
              <form
                className="flex items-center gap-2"
                onSubmit={(e) => {
                  e.preventDefault();
                  addVarColumn();
                }}
              >
                <Input
                  aria-label="New variable name"
                  placeholder="new variable"
                  value={newVar}
                  onChange={(e) => setNewVar(e.target.value)}
                  className="h-8 max-w-40 font-mono"
                />
                <Button size="sm" type="submit" disabled={!newVar.trim()}>
                  Add variable column
                </Button>
              </form>
              <Pager page={current} pageSize={PAGE} total={samples.length} onPage={setPage} label="Sample pages" />
            </div>
          </div>
        )}
      </CardBody>
    </Card>
  );
}
