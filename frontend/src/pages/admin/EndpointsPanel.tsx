import { useState, type FormEvent } from "react";

import type { Endpoint, EndpointCreate } from "../../api/client";
import { useCreateEndpoint, useDeleteEndpoint, useEndpoints, useTestEndpoint, useUpdateEndpoint } from "../../api/queries/endpoints";
import { Badge, Button, Card, CardHeader, ConfirmDialog, EmptyState, ErrorMessage, Field, Input, Modal, Skeleton } from "../../components/ui";
import { formatInt } from "../../lib/format";

interface PriceRow {
  model: string;
  input: string;
  output: string;
}

function pricingRows(pricing: Record<string, unknown> | undefined): PriceRow[] {
  return Object.entries(pricing ?? {}).map(([model, value]) => {
    const price = (value ?? {}) as { input_per_1m?: number; output_per_1m?: number };
    return { model, input: String(price.input_per_1m ?? ""), output: String(price.output_per_1m ?? "") };
  });
}

function pricingOf(rows: PriceRow[]): EndpointCreate["pricing"] {
  const pricing: EndpointCreate["pricing"] = {};
  for (const row of rows) {
    if (!row.model.trim()) continue;
    pricing[row.model.trim()] = { input_per_1m: Number(row.input) || 0, output_per_1m: Number(row.output) || 0 };
  }
  return pricing;
}

export function EndpointsPanel() {
  const endpoints = useEndpoints();
  const [editing, setEditing] = useState<Endpoint | "new" | null>(null);
  const [deleting, setDeleting] = useState<Endpoint | null>(null);
  const remove = useDeleteEndpoint();

  return (
    <div className="grid gap-4">
      <Card>
        <CardHeader
          title="LLM endpoints"
          description="OpenAI-compatible APIs (vLLM, Ollama, LiteLLM, OpenAI...). The URL is the base that /chat/completions and /models hang from."
          actions={
            <Button variant="primary" onClick={() => setEditing("new")} data-testid="add-endpoint">
              Add endpoint
            </Button>
          }
        />
        {endpoints.isPending ? (
          <div className="space-y-2 p-4">
            <Skeleton className="h-10" />
            <Skeleton className="h-10" />
          </div>
        ) : endpoints.isError ? (
          <ErrorMessage error={endpoints.error} className="m-4" onRetry={() => void endpoints.refetch()} />
        ) : endpoints.data.items.length === 0 ? (
          <EmptyState
            className="m-4"
            title="No endpoints yet"
            description="Add the OpenAI-compatible endpoint your prompts should run against, then press Test to check that it answers."
            action={
              <Button variant="primary" onClick={() => setEditing("new")}>
                Add your first endpoint
              </Button>
            }
          />
        ) : (
          <ul className="divide-y divide-line/60" aria-label="Endpoints">
            {endpoints.data.items.map((endpoint) => (
              <EndpointRow key={endpoint.id} endpoint={endpoint} onEdit={() => setEditing(endpoint)} onDelete={() => setDeleting(endpoint)} />
            ))}
          </ul>
        )}
      </Card>
      {editing && <EndpointForm endpoint={editing === "new" ? null : editing} onClose={() => setEditing(null)} />}
      <ConfirmDialog
        open={!!deleting}
        onClose={() => {
          setDeleting(null);
          remove.reset();
        }}
        onConfirm={() => deleting && remove.mutate(deleting.id, { onSuccess: () => setDeleting(null) })}
        title={`Delete “${deleting?.label ?? ""}”?`}
        description="Endpoints still named by an experiment cannot be deleted."
        confirmLabel="Delete endpoint"
        pending={remove.isPending}
        error={remove.error}
      />
    </div>
  );
}

function EndpointRow({ endpoint, onEdit, onDelete }: { endpoint: Endpoint; onEdit: () => void; onDelete: () => void }) {
  const test = useTestEndpoint();
  const result = test.data;
  const priced = Object.keys(endpoint.pricing ?? {});
  return (
    <li className="px-4 py-3" data-testid="endpoint-row" data-endpoint-id={endpoint.id}>
      <div className="flex flex-wrap items-center justify-between gap-3">
        <div className="min-w-0">
          <p className="font-medium">
            {endpoint.label} {endpoint.has_api_key && <Badge className="ml-1">key set</Badge>}
          </p>
          <p className="truncate font-mono text-xs text-muted">{endpoint.url}</p>
          <p className="text-xs text-muted">
            up to {formatInt(endpoint.max_concurrency)} calls at once · {priced.length ? `priced: ${priced.join(", ")}` : "no pricing (costs show as $0)"}
          </p>
        </div>
        <div className="flex gap-2">
          <Button size="sm" onClick={() => test.mutate(endpoint.id)} loading={test.isPending} data-testid="test-endpoint" aria-label={`Test ${endpoint.label}`}>
            Test
          </Button>
          <Button size="sm" variant="ghost" onClick={onEdit} aria-label={`Edit ${endpoint.label}`}>
            Edit
          </Button>
          <Button size="sm" variant="ghost" onClick={onDelete} aria-label={`Delete ${endpoint.label}`}>
            Delete
          </Button>
        </div>
      </div>
      <div aria-live="polite" data-testid="endpoint-test-result">
        {test.error ? <ErrorMessage error={test.error} className="mt-2" /> : null}
        {result &&
          (result.ok ? (
            <p className="mt-2 text-sm text-good" data-ok="true">
              Reachable in {formatInt(result.latency_ms ?? 0)} ms · {result.models?.length ?? 0} models:{" "}
              <span className="font-mono text-xs text-fg">{(result.models ?? []).slice(0, 20).join(", ") || "none listed"}</span>
              {(result.models?.length ?? 0) > 20 && " …"}
            </p>
          ) : (
            <p className="mt-2 text-sm text-bad" data-ok="false" role="alert">
              {result.error ?? "The endpoint did not answer."}
            </p>
          ))}
      </div>
    </li>
  );
}

function EndpointForm({ endpoint, onClose }: { endpoint: Endpoint | null; onClose: () => void }) {
  const [label, setLabel] = useState(endpoint?.label ?? "");
  const [url, setUrl] = useState(endpoint?.url ?? "");
  const [apiKey, setApiKey] = useState("");
  const [removeKey, setRemoveKey] = useState(false);
  const [concurrency, setConcurrency] = useState(String(endpoint?.max_concurrency ?? 8));
  const [prices, setPrices] = useState<PriceRow[]>(() => pricingRows(endpoint?.pricing));
  const create = useCreateEndpoint();
  const update = useUpdateEndpoint(endpoint?.id ?? "");
  const mutation = endpoint ? update : create;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const base = { label: label.trim(), url: url.trim(), max_concurrency: Number(concurrency) || 1, pricing: pricingOf(prices) };
    if (endpoint) {
      const body = { ...base, ...(removeKey ? { api_key: "" } : apiKey ? { api_key: apiKey } : {}) };
      update.mutate(body, { onSuccess: onClose });
    } else {
      create.mutate({ ...base, api_key: apiKey || null }, { onSuccess: onClose });
    }
  };
  const setPrice = (index: number, patch: Partial<PriceRow>) => setPrices((rows) => rows.map((row, i) => (i === index ? { ...row, ...patch } : row)));

  return (
    <Modal open onClose={onClose} title={endpoint ? `Edit “${endpoint.label}”` : "Add an LLM endpoint"} className="max-w-2xl" testId="endpoint-dialog">
      <form onSubmit={submit} className="grid gap-4" aria-label={endpoint ? "Edit endpoint" : "Add endpoint"} data-testid="endpoint-form">
        <div className="grid gap-4 sm:grid-cols-2">
          <Field label="Label">
            <Input required maxLength={200} value={label} onChange={(e) => setLabel(e.target.value)} placeholder="local vllm" data-autofocus data-testid="endpoint-label" />
          </Field>
          <Field label="Max concurrency" hint="Calls in flight to this endpoint.">
            <Input type="number" min={1} max={1024} required value={concurrency} onChange={(e) => setConcurrency(e.target.value)} data-testid="endpoint-concurrency" />
          </Field>
        </div>
        <Field label="Base URL" hint="e.g. http://localhost:8000/v1 or https://api.openai.com/v1">
          <Input required type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="http://host:8000/v1" data-testid="endpoint-url" />
        </Field>
        <Field
          label="API key"
          hint={endpoint?.has_api_key ? "A key is stored (never shown). Leave empty to keep it." : "Optional. Stored encrypted, never shown again."}
        >
          <Input type="password" autoComplete="off" value={apiKey} disabled={removeKey} onChange={(e) => setApiKey(e.target.value)} data-testid="endpoint-api-key" />
        </Field>
        {endpoint?.has_api_key && (
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" checked={removeKey} onChange={(e) => setRemoveKey(e.target.checked)} className="h-4 w-4" />
            Remove the stored key
          </label>
        )}
        <fieldset className="grid gap-2">
          <legend className="text-sm font-medium">Pricing (USD per 1M tokens)</legend>
          <p className="text-xs text-muted">Per model, for the cost estimates. Models without a price count as free.</p>
          {prices.map((row, i) => (
            <div key={i} className="grid grid-cols-[1fr_7rem_7rem_auto] items-center gap-2">
              <Input aria-label={`Model ${i + 1}`} placeholder="model name" value={row.model} onChange={(e) => setPrice(i, { model: e.target.value })} />
              <Input aria-label={`Input price ${i + 1}`} type="number" min={0} step="any" placeholder="input" value={row.input} onChange={(e) => setPrice(i, { input: e.target.value })} />
              <Input aria-label={`Output price ${i + 1}`} type="number" min={0} step="any" placeholder="output" value={row.output} onChange={(e) => setPrice(i, { output: e.target.value })} />
              <Button size="sm" variant="ghost" onClick={() => setPrices((rows) => rows.filter((_, j) => j !== i))} aria-label={`Remove price ${i + 1}`}>
                Remove
              </Button>
            </div>
          ))}
          <Button size="sm" className="justify-self-start" onClick={() => setPrices((rows) => [...rows, { model: "", input: "", output: "" }])}>
            Add a model price
          </Button>
        </fieldset>
        <ErrorMessage error={mutation.error} />
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" loading={mutation.isPending} data-testid="endpoint-save">
            {endpoint ? "Save endpoint" : "Add endpoint"}
          </Button>
        </div>
      </form>
    </Modal>
  );
}
