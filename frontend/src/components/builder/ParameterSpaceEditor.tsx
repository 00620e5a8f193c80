import type { Endpoint } from "../../api/client";
import { isRange, type ExperimentDocument, type SpaceValue } from "../../lib/documentYaml";
import { axisSize } from "../../lib/estimate";
import type { TemplateScope } from "../../lib/templateVars";
import { Button } from "../ui/Button";
import { Card, CardBody, CardHeader } from "../ui/Card";
import { AddKeyForm } from "./AddSpaceKey";
import { FieldError } from "./fieldErrors";
import { parseKey, stagesOfKey, valueKind } from "./spaceKeys";
import { ChipValues, EndpointValues, RangeEditor, TemplateValues, rangeFrom, safeRangeValues } from "./SpaceValues";

interface Props {
  doc: ExperimentDocument;
  onChange: (space: ExperimentDocument["parameter_space"]) => void;
  endpoints: Endpoint[];
  /** The template scope of each stage (for swept prompt templates). */
  scopes: TemplateScope[];
  /** Change the names of swept prompt variants (`variant_names` of the document). */
  onVariantNames?: (names: Record<string, string[]>) => void;
}

const FIELD_LABELS: Record<string, string> = {
  model: "model",
  endpoint_id: "endpoint",
  system_prompt: "system prompt",
  prompt_template: "prompt template",
};

/** What to vary: per key, a list of values (grid: every one) or a numeric range. */
export function ParameterSpaceEditor({ doc, onChange, endpoints, scopes, onVariantNames }: Props) {
  const space = doc.parameter_space;
  const entries = Object.entries(space);
  const setValue = (key: string, value: SpaceValue) => onChange({ ...space, [key]: value });
  const remove = (key: string) => onChange(Object.fromEntries(entries.filter(([k]) => k !== key)));

  return (
    <Card data-testid="space-section">
      <CardHeader
        title={`Parameter space (${entries.length})`}
        description="Each key takes a list of values (a grid sweep runs every combination) or a numeric range (expanded by step in a grid, sampled in a random sweep). Stage keys beat keys for every stage."
      />
      <CardBody className="space-y-4">
        {entries.length === 0 && (
          <p className="text-sm text-muted">
            Nothing is swept yet: a sweep makes one run. Add a parameter, e.g. temperature with two values.
          </p>
        )}
        {entries.map(([key, value], index) => (
          <SpaceEntry
            key={key}
            index={index}
            spaceKey={key}
            value={value}
            doc={doc}
            endpoints={endpoints}
            scopes={scopes}
            onChange={(next) => setValue(key, next)}
            onRemove={() => remove(key)}
            onNames={onVariantNames ? (names) => onVariantNames({ ...(doc.variant_names ?? {}), [key]: names }) : undefined}
          />
        ))}
        <AddKeyForm doc={doc} onAdd={(key, value) => onChange({ ...space, [key]: value })} />
        <FieldError path="parameter_space" />
      </CardBody>
    </Card>
  );
}

function describeKey(key: string): string {
  const parsed = parseKey(key);
  const what = FIELD_LABELS[parsed.name] ?? parsed.name;
  if (parsed.scope === "var") return `template variable vars.${parsed.name}`;
  if (parsed.scope === "stage") return `${what} of stage ${parsed.stage}`;
  return `${what} of every stage`;
}

function SpaceEntry({
  index,
  spaceKey,
  value,
  doc,
  endpoints,
  scopes,
  onChange,
  onRemove,
  onNames,
}: {
  onNames?: (names: string[]) => void;
  index: number;
  spaceKey: string;
  value: SpaceValue;
  doc: ExperimentDocument;
  endpoints: Endpoint[];
  scopes: TemplateScope[];
  onChange: (value: SpaceValue) => void;
  onRemove: () => void;
}) {
  const kind = valueKind(spaceKey);
  const size = axisSize(value);
  const testId = `space-${index}`;
  const rangeAllowed = kind === "value";
  const stageIndexes = stagesOfKey(spaceKey, doc.pipeline_stages);
  return (
    <section className="space-y-2 rounded-md border border-line p-3" data-testid={testId} aria-label={`Swept ${spaceKey}`}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <div>
          <h3 className="font-mono text-sm font-semibold" data-testid={`${testId}-key`}>
            {spaceKey}
          </h3>
          <p className="text-xs text-muted">
            {describeKey(spaceKey)} ·{" "}
            <span className={typeof size === "string" ? "text-bad" : "num"} data-testid={`${testId}-count`}>
              {typeof size === "string" ? size : `${size} value${size === 1 ? "" : "s"}`}
            </span>
          </p>
        </div>
        <div className="flex items-center gap-2">
          {rangeAllowed && (
            <div role="group" aria-label="Values as" className="inline-flex overflow-hidden rounded-md border border-line text-sm">
              <button
                type="button"
                aria-pressed={!isRange(value)}
                className={`px-2 py-1 ${!isRange(value) ? "bg-raised font-medium" : ""}`}
                onClick={() => isRange(value) && onChange(safeRangeValues(value))}
                data-testid={`${testId}-mode-list`}
              >
                List
              </button>
              <button
                type="button"
                aria-pressed={isRange(value)}
                className={`border-l border-line px-2 py-1 ${isRange(value) ? "bg-raised font-medium" : ""}`}
                onClick={() => !isRange(value) && onChange(rangeFrom(value))}
                data-testid={`${testId}-mode-range`}
              >
                Range
              </button>
            </div>
          )}
          <Button size="sm" variant="ghost" onClick={onRemove} data-testid={`${testId}-remove`}>
            Remove
          </Button>
        </div>
      </div>
      {isRange(value) ? (
        <RangeEditor value={value} onChange={onChange} testId={testId} />
      ) : kind === "template" ? (
        <TemplateValues
          values={value}
          onChange={onChange}
          testId={testId}
          scopes={stageIndexes.map((i) => scopes[i]).filter(Boolean)}
          names={doc.variant_names?.[spaceKey]}
          onNames={onNames}
          fallback={
            (parseKey(spaceKey).name === "system_prompt"
              ? doc.pipeline_stages[stageIndexes[0] ?? 0]?.system_prompt
              : doc.pipeline_stages[stageIndexes[0] ?? 0]?.prompt_template) ?? ""
          }
        />
      ) : kind === "endpoint" ? (
        <EndpointValues values={value} onChange={onChange} endpoints={endpoints} testId={testId} />
      ) : (
        <ChipValues values={value} onChange={onChange} testId={testId} typed={kind === "value"} />
      )}
      <FieldError path={`parameter_space.${spaceKey}`} deep testId={`${testId}-errors`} />
    </section>
  );
}
