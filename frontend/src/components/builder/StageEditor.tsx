import { useId } from "react";

import type { Endpoint } from "../../api/client";
import { useEndpointModels } from "../../api/queries/endpoints";
import type { StageDoc } from "../../lib/documentYaml";
import type { TemplateScope } from "../../lib/templateVars";
import { Button } from "../ui/Button";
import { Card, CardBody, CardHeader } from "../ui/Card";
import { Field, Input, Select } from "../ui/Field";
import { FieldError, useFieldErrors } from "./fieldErrors";
import { ParamsEditor } from "./ParamsEditor";
import { TemplateEditor } from "./TemplateEditor";

interface Props {
  stage: StageDoc;
  index: number;
  count: number;
  scope: TemplateScope;
  endpoints: Endpoint[];
  /** Fields and params of this stage that the parameter space sweeps. */
  swept: string[];
  onChange: (stage: StageDoc) => void;
  onRename: (name: string) => void;
  onRemove: () => void;
  onMove: (delta: -1 | 1) => void;
}

/** One LLM call of the pipeline: endpoint, model, prompts and request parameters. */
export function StageEditor({ stage, index, count, scope, endpoints, swept, onChange, onRename, onRemove, onMove }: Props) {
  const path = `pipeline_stages.${index}`;
  const models = useEndpointModels(stage.endpoint_id ?? undefined);
  const listId = useId();
  const nameErrors = useFieldErrors(`${path}.name`);
  const modelErrors = useFieldErrors(`${path}.model`);
  const endpointErrors = useFieldErrors(`${path}.endpoint_id`);
  const set = (patch: Partial<StageDoc>) => onChange({ ...stage, ...patch });
  const available = models.data?.ok ? (models.data.models ?? []) : [];
  const sweptNote = (field: string) => (swept.includes(field) ? " (swept in the parameter space)" : "");

  return (
    <Card data-testid={`stage-${index}`}>
      <CardHeader
        title={`Stage ${index + 1}${stage.name ? `: ${stage.name}` : ""}`}
        description={index === 0 ? "Reads the sample." : "Can read `previous` (the stage before) and earlier stages' outputs."}
        actions={
          <>
            <Button size="sm" variant="ghost" onClick={() => onMove(-1)} disabled={index === 0} aria-label={`Move stage ${index + 1} up`}>
              ↑
            </Button>
            <Button size="sm" variant="ghost" onClick={() => onMove(1)} disabled={index === count - 1} aria-label={`Move stage ${index + 1} down`}>
              ↓
            </Button>
            <Button size="sm" variant="ghost" onClick={onRemove} disabled={count === 1} data-testid={`stage-${index}-remove`}>
              Remove
            </Button>
          </>
        }
      />
      <CardBody className="space-y-4">
        <div className="grid gap-3 md:grid-cols-3">
          <Field label="Name" error={nameErrors.join(" ") || undefined} hint="Unique, no dots; templates read it as stages.<name>.output.">
            <Input data-testid={`stage-${index}-name`} value={stage.name} onChange={(e) => onRename(e.target.value)} className="font-mono" />
          </Field>
          <Field
            label={`Endpoint${sweptNote("endpoint_id")}`}
            error={endpointErrors.join(" ") || undefined}
            hint={endpoints.length === 0 ? "No endpoint yet: add one in Admin › Endpoints." : undefined}
          >
            <Select
              data-testid={`stage-${index}-endpoint`}
              value={stage.endpoint_id ?? ""}
              onChange={(e) => set({ endpoint_id: e.target.value || null })}
            >
              <option value="">Default endpoint (from settings)</option>
              {endpoints.map((endpoint) => (
                <option key={endpoint.id} value={endpoint.id}>
                  {endpoint.label} — {endpoint.url}
                </option>
              ))}
            </Select>
          </Field>
          <Field
            label={`Model${sweptNote("model")}`}
            error={modelErrors.join(" ") || undefined}
            hint={
              models.isFetching
                ? "Asking the endpoint for its models…"
                : models.data && !models.data.ok
                  ? `Could not list models: ${models.data.error ?? "the endpoint did not answer"}. Type a name.`
                  : available.length > 0
                    ? `${available.length} model${available.length === 1 ? "" : "s"} from the endpoint; or type any name.`
                    : stage.endpoint_id
                      ? "Type the model name."
                      : "Pick an endpoint to list its models, or type a name."
            }
          >
            <Input
              data-testid={`stage-${index}-model`}
              list={listId}
              value={stage.model ?? ""}
              onChange={(e) => set({ model: e.target.value })}
              placeholder="e.g. gpt-4o-mini"
              className="font-mono"
            />
          </Field>
          <datalist id={listId}>
            {available.map((model) => (
              <option key={model} value={model} />
            ))}
          </datalist>
        </div>
        <TemplateEditor
          label={`System prompt (optional)${sweptNote("system_prompt")}`}
          value={stage.system_prompt ?? ""}
          onChange={(system_prompt) => set({ system_prompt })}
          scope={scope}
          testId={`stage-${index}-system`}
          rows={2}
          placeholder="You are a helpful assistant."
          serverErrors={useFieldErrors(`${path}.system_prompt`)}
        />
        <TemplateEditor
          label={`Prompt template${sweptNote("prompt_template")}`}
          value={stage.prompt_template ?? ""}
          onChange={(prompt_template) => set({ prompt_template })}
          scope={scope}
          testId={`stage-${index}-template`}
          rows={4}
          placeholder="Summarize: {{ input }}"
          serverErrors={useFieldErrors(`${path}.prompt_template`)}
        />
        <ParamsEditor
          params={stage.params ?? {}}
          onChange={(params) => set({ params })}
          testId={`stage-${index}-params`}
          swept={swept}
        />
        <FieldError path={`${path}.params`} deep />
        <FieldError path={path} />
      </CardBody>
    </Card>
  );
}
