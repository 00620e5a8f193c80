import { useState, type FormEvent } from "react";

import type { Schemas, Webhook, WebhookDelivery, WebhookWithSecret } from "../../api/client";
import { useCreateWebhook, useDeleteWebhook, useWebhooks } from "../../api/queries/admin";
import { useRotateWebhookSecret, useTestWebhook } from "../../api/queries/webhooks";
import { Badge, Button, Card, CardBody, CardHeader, ConfirmDialog, CopyButton, EmptyState, ErrorMessage, Field, Input, Select, Skeleton, Textarea } from "../../components/ui";
import { DeliveryLog, DeliveryState } from "../../components/webhooks/DeliveryLog";
import { formatDateTime } from "../../lib/format";

type EventType = Schemas["WebhookCreate"]["event_type"];
const EVENT_TYPES: { value: EventType; label: string }[] = [
  { value: "*", label: "Every event (*)" },
  { value: "experiment.started", label: "experiment.started" },
  { value: "experiment.completed", label: "experiment.completed" },
  { value: "experiment.paused", label: "experiment.paused" },
  { value: "experiment.resumed", label: "experiment.resumed" },
  { value: "new_best_found", label: "new_best_found" },
  { value: "budget.exhausted", label: "budget.exhausted" },
  { value: "human_needed", label: "human_needed" },
  { value: "run.failed", label: "run.failed" },
  { value: "run.approved", label: "run.approved" },
  { value: "run.rejected", label: "run.rejected" },
  { value: "experiment.redirected", label: "experiment.redirected" },
  { value: "proposal.created", label: "proposal.created" },
  { value: "proposal.approved", label: "proposal.approved" },
  { value: "proposal.rejected", label: "proposal.rejected" },
];

/** `Name: value` lines into a headers object (blank lines ignored). */
export function parseHeaders(text: string): Record<string, string> | string {
  const headers: Record<string, string> = {};
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(":");
    if (colon <= 0) return `Line ${index + 1}: write “Name: value”.`;
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function SecretOnce({ hook, verb, onDone }: { hook: WebhookWithSecret; verb: string; onDone: () => void }) {
  return (
    <div className="mt-4 rounded-md border border-good/40 bg-good/10 p-3" role="status" data-testid="webhook-secret">
      <p className="text-sm font-medium">
        {verb} the signing secret of {hook.url}. Copy it now: it is shown this once and stored encrypted. Receivers check
        X-PromptLooper-Signature with it (see the README).
      </p>
      <div className="mt-2 flex flex-wrap items-center gap-2">
        <code className="min-w-0 flex-1 break-all rounded bg-panel px-2 py-1.5 font-mono text-sm" data-testid="webhook-secret-value">
          {hook.secret}
        </code>
        <CopyButton text={hook.secret} label="Copy secret" />
        <Button size="sm" variant="ghost" onClick={onDone}>
          Done
        </Button>
      </div>
    </div>
  );
}

function TestResult({ delivery }: { delivery: WebhookDelivery }) {
  return (
    <p className="mt-2 flex flex-wrap items-center gap-2 text-sm" role="status" data-testid="webhook-test-result">
      Test ping: <DeliveryState delivery={delivery} />
      <span>{delivery.status_code ? `HTTP ${delivery.status_code}` : "no answer"}</span>
      {delivery.error && <span className="text-muted">{delivery.error}</span>}
    </p>
  );
}

export function WebhooksPanel() {
  const hooks = useWebhooks();
  const create = useCreateWebhook();
  const remove = useDeleteWebhook();
  const rotate = useRotateWebhookSecret();
  const test = useTestWebhook();
  const [url, setUrl] = useState("");
  const [eventType, setEventType] = useState<EventType>("*");
  const [headerText, setHeaderText] = useState("");
  const [headerError, setHeaderError] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ hook: WebhookWithSecret; verb: string } | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [removing, setRemoving] = useState<Webhook | null>(null);
  const [rotating, setRotating] = useState<Webhook | null>(null);
  const [tested, setTested] = useState<{ id: string; delivery: WebhookDelivery } | null>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const headers = parseHeaders(headerText);
    if (typeof headers === "string") {
      setHeaderError(headers);
      return;
    }
    setHeaderError(null);
    create.mutate(
      { event_type: eventType, url: url.trim(), headers, is_active: true },
      {
        onSuccess: (hook) => {
          setSecret({ hook, verb: "Created" });
          setSelected(hook.id);
          setUrl("");
          setHeaderText("");
        },
      },
    );
  };

  const items = hooks.data?.items ?? [];
  const current = items.find((h) => h.id === selected) ?? null;

  return (
    <div className="grid gap-4">
      <Card>
        <CardHeader title="Add a webhook" description="PromptLooper POSTs signed JSON to this URL for every event of the type; failures are retried for about an hour." />
        <CardBody>
          <form onSubmit={submit} className="grid gap-3 md:grid-cols-[1fr_14rem]" aria-label="Add a webhook" data-testid="webhook-form">
            <Field label="URL" hint="https://… (the receiver must answer 2xx)">
              <Input required type="url" maxLength={2000} value={url} onChange={(e) => setUrl(e.target.value)} data-testid="webhook-url" />
            </Field>
            <Field label="Event">
              <Select value={eventType} onChange={(e) => setEventType(e.target.value as EventType)} data-testid="webhook-event">
                {EVENT_TYPES.map((t) => (
                  <option key={t.value} value={t.value}>
                    {t.label}
                  </option>
                ))}
              </Select>
            </Field>
            <Field label="Headers (optional)" hint="One “Name: value” per line; values are write-only: only names are shown later." error={headerError ?? undefined} className="md:col-span-2">
              <Textarea
                className="min-h-[4rem] font-mono"
                value={headerText}
                onChange={(e) => setHeaderText(e.target.value)}
                data-testid="webhook-headers"
              />
            </Field>
            <div className="md:col-span-2">
              <Button type="submit" variant="primary" loading={create.isPending} data-testid="webhook-create">
                Add webhook
              </Button>
            </div>
          </form>
          <ErrorMessage error={create.error} />
          {secret && <SecretOnce hook={secret.hook} verb={secret.verb} onDone={() => setSecret(null)} />}
        </CardBody>
      </Card>
      <Card>
        <CardHeader title="Webhooks" />
        {hooks.isPending ? (
          <div className="p-4">
            <Skeleton className="h-8" />
          </div>
        ) : hooks.isError ? (
          <ErrorMessage error={hooks.error} className="m-4" onRetry={() => void hooks.refetch()} />
        ) : items.length === 0 ? (
          <EmptyState className="m-4" title="No webhooks" description="Add one above to hear about finished experiments, new bests, budgets and review requests." />
        ) : (
          <table className="w-full text-sm" aria-label="Webhooks">
            <thead>
              <tr className="border-b border-line text-left text-xs uppercase tracking-wide text-muted">
                <th scope="col" className="px-4 py-2 font-medium">URL</th>
                <th scope="col" className="px-4 py-2 font-medium">Event</th>
                <th scope="col" className="px-4 py-2 font-medium">Headers</th>
                <th scope="col" className="px-4 py-2 font-medium">Created</th>
                <th scope="col" className="px-4 py-2"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {items.map((hook) => (
                <tr key={hook.id} className="border-b border-line/60 last:border-0" data-testid="webhook-row" aria-selected={hook.id === selected}>
                  <td className="max-w-[22rem] truncate px-4 py-2 font-mono text-xs" title={hook.url}>
                    {hook.url}
                    {!hook.is_active && <Badge className="ml-2">inactive</Badge>}
                    {hook.has_secret === false && <Badge tone="warn" className="ml-2">unsigned: rotate</Badge>}
                  </td>
                  <td className="px-4 py-2 font-mono text-xs">{hook.event_type}</td>
                  <td className="px-4 py-2 text-xs text-muted">{hook.header_names.join(", ") || "none"}</td>
                  <td className="px-4 py-2 text-muted">{formatDateTime(hook.created_at)}</td>
                  <td className="whitespace-nowrap px-4 py-2 text-right">
                    <Button size="sm" variant="ghost" onClick={() => setSelected(hook.id)} aria-label={`Deliveries of ${hook.url}`} data-testid="webhook-log">
                      Deliveries
                    </Button>
                    <Button
                      size="sm"
                      variant="ghost"
                      loading={test.isPending && test.variables === hook.id}
                      onClick={() =>
                        test.mutate(hook.id, {
                          onSuccess: (delivery) => {
                            setTested({ id: hook.id, delivery });
                            setSelected(hook.id);
                          },
                        })
                      }
                      aria-label={`Send a test ping to ${hook.url}`}
                      data-testid="webhook-test"
                    >
                      Send test
                    </Button>
                    <Button size="sm" variant="ghost" onClick={() => setRotating(hook)} aria-label={`Rotate the secret of ${hook.url}`} data-testid="webhook-rotate">
                      Rotate secret
                    </Button>
                    <Button size="sm" variant="ghost" onClick={() => setRemoving(hook)} aria-label={`Delete ${hook.url}`}>
                      Delete
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <ErrorMessage error={test.error} className="m-4" />
      </Card>
      {current && (
        <Card>
          <CardHeader title="Delivery log" description={`${current.url} · ${current.event_type}`} />
          {tested?.id === current.id && (
            <div className="px-4">
              <TestResult delivery={tested.delivery} />
            </div>
          )}
          <DeliveryLog webhookId={current.id} />
        </Card>
      )}
      <ConfirmDialog
        open={!!rotating}
        onClose={() => setRotating(null)}
        onConfirm={() =>
          rotating &&
          rotate.mutate(rotating.id, {
            onSuccess: (hook) => {
              setSecret({ hook, verb: "Rotated" });
              setRotating(null);
            },
          })
        }
        title="Rotate the signing secret?"
        description="Deliveries from now on, retries included, are signed with the new secret; receivers checking the old one reject them until updated."
        confirmLabel="Rotate secret"
        confirmTestId="webhook-rotate-confirm"
        pending={rotate.isPending}
        error={rotate.error}
      />
      <ConfirmDialog
        open={!!removing}
        onClose={() => setRemoving(null)}
        onConfirm={() =>
          removing &&
          remove.mutate(removing.id, {
            onSuccess: () => {
              if (selected === removing.id) setSelected(null);
              setRemoving(null);
            },
          })
        }
        title="Delete this webhook?"
        description="Nothing more is sent to it, and its delivery log goes with it."
        confirmLabel="Delete webhook"
        pending={remove.isPending}
        error={remove.error}
      />
    </div>
  );
}
