import { useMemo, useState } from "react";

import type { Endpoint, Scorer } from "../../api/client";
import type { ScorerDoc } from "../../lib/documentYaml";
import { Badge } from "../ui/Badge";
import { Button } from "../ui/Button";
import { Card, CardBody, CardHeader } from "../ui/Card";
import { ErrorMessage } from "../ui/ErrorMessage";
import { Input, Select } from "../ui/Field";
import { Spinner } from "../ui/Spinner";
import { initialConfig, validateConfig, type JsonSchema } from "./configSchema";
import { starterConfig } from "./scorerDefaults";
import { FieldError } from "./fieldErrors";
import { NumberInput } from "./NumberInput";
import { JsonField, ScorerConfigForm } from "./ScorerConfigForm";

interface Props {
  entries: ScorerDoc[];
  onChange: (entries: ScorerDoc[]) => void;
  catalogue: Scorer[] | undefined;
  catalogueLoading: boolean;
  catalogueError: unknown;
  endpoints: Endpoint[];
}

/** The scorers applied to every sample's final output, with weights and their config. */
export function ScorersEditor({ entries, onChange, catalogue, catalogueLoading, catalogueError, endpoints }: Props) {
  const [picked, setPicked] = useState("");
  const byId = useMemo(() => new Map((catalogue ?? []).map((s) => [s.id, s])), [catalogue]);
  const fallback = byId.has("keyword") ? "keyword" : (catalogue?.find((s) => !s.manual)?.id ?? catalogue?.[0]?.id ?? "");
  const choice = picked || fallback;
  const totalWeight = entries.reduce((sum, e) => sum + (typeof e.weight === "number" && e.weight > 0 ? e.weight : 0), 0);

  const add = () => {
    const scorer = byId.get(choice);
    if (!scorer) return;
    const used = new Set(entries.map((e) => e.name || e.scorer));
    let name: string | null = null;
    if (used.has(scorer.id)) {
      let n = 2;
      while (used.has(`${scorer.id}_${n}`)) n++;
      name = `${scorer.id}_${n}`;
    }
    onChange([
      ...entries,
      { scorer: scorer.id, ...(name ? { name } : {}), weight: 1, config: starterConfig(scorer.id, initialConfig(scorer.config_schema as JsonSchema)) },
    ]);
  };
  const update = (index: number, patch: Partial<ScorerDoc>) =>
    onChange(entries.map((e, i) => (i === index ? { ...e, ...patch } : e)));

  return (
    <Card data-testid="scorers-section">
      <CardHeader
        title={`Scoring (${entries.length})`}
        description="Each scorer rates every sample's final output from 0 to 1; a run's score is the weighted mean."
      />
      <CardBody className="space-y-4">
        <ErrorMessage error={catalogueError} title="Could not load the scorer catalogue" />
        <div className="flex flex-wrap items-end gap-2">
          <label className="flex flex-col gap-1 text-sm font-medium">
            Scorer
            <Select
              data-testid="scorer-add-select"
              value={choice}
              onChange={(e) => setPicked(e.target.value)}
              disabled={!catalogue}
              className="max-w-64"
            >
              {(catalogue ?? []).map((scorer) => (
                <option key={scorer.id} value={scorer.id}>
                  {scorer.id}
                  {scorer.admin_only ? " (admins only)" : ""}
                  {scorer.manual ? " (people rate)" : ""}
                </option>
              ))}
            </Select>
          </label>
          <Button data-testid="scorer-add" onClick={add} disabled={!choice}>
            Add scorer
          </Button>
          {catalogueLoading && <Spinner label="Loading scorers" />}
        </div>
        {byId.get(choice) && <p className="text-sm text-muted">{byId.get(choice)!.description}</p>}
        {entries.length === 0 && (
          <p className="text-sm text-muted">
            No scorer yet: runs will have no score. Add a keyword or length scorer to start, or an LLM judge.
          </p>
        )}
        <FieldError path="scoring_config" />
        {entries.map((entry, index) => (
          <ScorerEntryEditor
            key={index}
            index={index}
            entry={entry}
            info={byId.get(entry.scorer)}
            share={totalWeight > 0 && typeof entry.weight === "number" ? entry.weight / totalWeight : null}
            endpoints={endpoints}
            onChange={(patch) => update(index, patch)}
            onRemove={() => onChange(entries.filter((_, i) => i !== index))}
          />
        ))}
      </CardBody>
    </Card>
  );
}

function ScorerEntryEditor({
  index,
  entry,
  info,
  share,
  endpoints,
  onChange,
  onRemove,
}: {
  index: number;
  entry: ScorerDoc;
  info: Scorer | undefined;
  share: number | null;
  endpoints: Endpoint[];
  onChange: (patch: Partial<ScorerDoc>) => void;
  onRemove: () => void;
}) {
  const [asJson, setAsJson] = useState(false);
  const schema = info?.config_schema as JsonSchema | undefined;
  const problems = validateConfig(schema, entry.config ?? {});
  const testId = `scorer-${index}`;
  return (
    <section className="space-y-3 rounded-md border border-line p-3" data-testid={testId} aria-label={`Scorer ${index + 1}: ${entry.scorer}`}>
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0">
          <h3 className="flex items-center gap-2 font-mono text-sm font-semibold">
            {entry.scorer}
            {info?.admin_only && <Badge tone="warn">admins only</Badge>}
            {info?.manual && <Badge tone="accent">rated by people</Badge>}
            {!info && <Badge tone="bad">unknown scorer</Badge>}
          </h3>
          {info && <p className="text-sm text-muted">{info.description}</p>}
        </div>
        <Button size="sm" variant="ghost" onClick={onRemove} data-testid={`${testId}-remove`}>
          Remove
        </Button>
      </div>
      <div className="flex flex-wrap items-end gap-3">
        <label className="flex flex-col gap-1 text-sm font-medium">
          Name <span className="text-xs font-normal text-muted">(scores are stored under it)</span>
          <Input
            data-testid={`${testId}-name`}
            value={entry.name ?? ""}
            placeholder={entry.scorer}
            onChange={(e) => onChange({ name: e.target.value || null })}
            className="h-8 max-w-48 font-mono"
          />
        </label>
        <label className="flex flex-col gap-1 text-sm font-medium">
          Weight
          <NumberInput
            data-testid={`${testId}-weight`}
            value={entry.weight ?? 1}
            onValue={(weight) => onChange({ weight: weight ?? 0 })}
            className="h-8 max-w-24"
          />
        </label>
        {share !== null && <span className="pb-1.5 text-sm text-muted num">{Math.round(share * 100)}% of the score</span>}
        {info && !info.manual && (
          <Button size="sm" variant="ghost" aria-pressed={asJson} onClick={() => setAsJson(!asJson)} data-testid={`${testId}-config-mode`}>
            {asJson ? "Edit as form" : "Edit as JSON"}
          </Button>
        )}
      </div>
      <FieldError path={`scoring_config.${index}.name`} />
      <FieldError path={`scoring_config.${index}.weight`} />
      {info?.manual ? (
        <p className="text-sm text-muted">People enter these scores on each run's page (stars or thumbs).</p>
      ) : asJson || !schema ? (
        <label className="flex flex-col gap-1 text-sm font-medium">
          Config (JSON)
          <JsonField
            value={entry.config ?? {}}
            onChange={(config) => onChange({ config: (config as Record<string, unknown>) ?? {} })}
            testId={`${testId}-config-json`}
            label="Config (JSON)"
            rows={6}
          />
        </label>
      ) : (
        <ScorerConfigForm
          schema={schema}
          config={entry.config ?? {}}
          onChange={(config) => onChange({ config })}
          endpoints={endpoints}
          testId={`${testId}-config`}
        />
      )}
      {problems.length > 0 && (
        <ul className="space-y-0.5 text-sm text-warn" data-testid={`${testId}-problems`}>
          {problems.map((problem, i) => (
            <li key={i}>
              <span aria-hidden="true">⚠ </span>
              {problem}
            </li>
          ))}
        </ul>
      )}
      <FieldError path={`scoring_config.${index}.config`} deep />
      <FieldError path={`scoring_config.${index}.scorer`} />
    </section>
  );
}
