import type { Experiment, Schemas } from "../../api/client";
import { useEndpoints } from "../../api/queries/endpoints";
import { Field, Input, Select, Textarea } from "../ui";

export type RewriteOptions = Schemas["RewriteOptions"];

/** The form's draft of a guided sweep's prompt rewriting (strings as typed). */
export interface RewriteDraft {
  model: string;
  endpointId: string;
  stage: string;
  field: "prompt_template" | "system_prompt";
  every: string;
  candidates: string;
  approval: "required" | "auto";
  metaPrompt: string;
}

export function emptyRewrite(experiment: Experiment): RewriteDraft {
  const first = (experiment.pipeline_stages[0] ?? {}) as { name?: string; endpoint_id?: string | null };
  return { model: "", endpointId: first.endpoint_id ?? "", stage: first.name ?? "", field: "prompt_template", every: "8",
    candidates: "2", approval: "required", metaPrompt: "" };
}

/** The request's `guided.rewrite` for a draft (empty numbers fall back to the server's defaults). */
export function rewriteOptions(draft: RewriteDraft): RewriteOptions {
  const int = (text: string) => (/^\d+$/.test(text.trim()) ? Number(text) : undefined);
  return {
    model: draft.model.trim(),
    endpoint_id: draft.endpointId || null,
    stage: draft.stage || null,
    field: draft.field,
    every: int(draft.every) ?? 8,
    candidates: int(draft.candidates) ?? 2,
    approval: draft.approval,
    meta_prompt: draft.metaPrompt.trim() ? draft.metaPrompt : null,
  };
}

/** Prompt rewriting: an optimizer model proposes prompt variants that wait for approval (or not, with auto). */
export function RewriteFields({ experiment, draft, onChange }: { experiment: Experiment; draft: RewriteDraft; onChange: (next: RewriteDraft) => void }) {
  const endpoints = useEndpoints();
  const set = (patch: Partial<RewriteDraft>) => onChange({ ...draft, ...patch });
  const stages = experiment.pipeline_stages as { name: string }[];
  return (
    <fieldset className="grid gap-4 rounded-md border border-line p-3 sm:col-span-2 sm:grid-cols-2 lg:col-span-4 lg:grid-cols-4" data-testid="rewrite-fields">
      <legend className="px-1 text-sm font-medium">Prompt rewriting</legend>
      <Field label="Optimizer model" hint="The model that proposes new prompts.">
        <Input value={draft.model} required maxLength={200} onChange={(e) => set({ model: e.target.value })} data-testid="rewrite-model" />
      </Field>
      <Field label="Optimizer endpoint" hint="Empty: the default endpoint.">
        <Select value={draft.endpointId} onChange={(e) => set({ endpointId: e.target.value })} data-testid="rewrite-endpoint">
          <option value="">Default endpoint</option>
          {(endpoints.data?.items ?? []).map((endpoint) => (
            <option key={endpoint.id} value={endpoint.id}>
              {endpoint.label}
            </option>
          ))}
        </Select>
      </Field>
      <Field label="Stage and prompt">
        <div className="flex gap-2">
          <Select value={draft.stage} onChange={(e) => set({ stage: e.target.value })} aria-label="Stage" data-testid="rewrite-stage">
            {stages.map((stage) => (
              <option key={stage.name} value={stage.name}>
                {stage.name}
              </option>
            ))}
          </Select>
          <Select value={draft.field} onChange={(e) => set({ field: e.target.value as RewriteDraft["field"] })} aria-label="Prompt" data-testid="rewrite-field">
            <option value="prompt_template">prompt template</option>
            <option value="system_prompt">system prompt</option>
          </Select>
        </div>
      </Field>
      <Field label="Approval" hint="Auto: run proposals at once, unattended.">
        <Select value={draft.approval} onChange={(e) => set({ approval: e.target.value as RewriteDraft["approval"] })} data-testid="rewrite-approval">
          <option value="required">Wait for my approval</option>
          <option value="auto">Auto-approve</option>
        </Select>
      </Field>
      <Field label="Every" hint="Propose after every N finished runs.">
        <Input type="number" min={1} value={draft.every} onChange={(e) => set({ every: e.target.value })} data-testid="rewrite-every" />
      </Field>
      <Field label="Candidates" hint="Variants asked for per round (1-10).">
        <Input type="number" min={1} max={10} value={draft.candidates} onChange={(e) => set({ candidates: e.target.value })} data-testid="rewrite-candidates" />
      </Field>
      <Field label="Meta-prompt" hint="Optional Jinja2 replacing the built-in one (names: current, best, worst, field, stage, candidates)." className="sm:col-span-2">
        <Textarea value={draft.metaPrompt} maxLength={20000} onChange={(e) => set({ metaPrompt: e.target.value })} rows={2} />
      </Field>
    </fieldset>
  );
}
