import { useState } from "react";

import type { WebhookDelivery } from "../../api/client";
import { DELIVERIES_PAGE, useWebhookDeliveries } from "../../api/queries/webhooks";
import { Badge, EmptyState, ErrorMessage, Pager, Skeleton } from "../ui";
import { formatDateTime, formatDurationMs, formatRelative, shortId } from "../../lib/format";

/** Delivered, retrying (with when) or failed for good: words, not only colour. */
export function DeliveryState({ delivery }: { delivery: WebhookDelivery }) {
  if (delivery.delivered) return <Badge tone="good">delivered</Badge>;
  if (delivery.next_attempt_at) return <Badge tone="warn">retrying {formatRelative(delivery.next_attempt_at)}</Badge>;
  return <Badge tone="bad">failed</Badge>;
}

/** A webhook's deliveries, newest first; each row opens to its attempts. */
export function DeliveryLog({ webhookId }: { webhookId: string }) {
  const [page, setPage] = useState(0);
  const [open, setOpen] = useState<string | null>(null);
  const deliveries = useWebhookDeliveries(webhookId, page * DELIVERIES_PAGE);

  if (deliveries.isPending) return <Skeleton className="m-4 h-8" />;
  if (deliveries.isError) return <ErrorMessage error={deliveries.error} className="m-4" onRetry={() => void deliveries.refetch()} />;
  const { items, total } = deliveries.data;
  if (items.length === 0) {
    return <EmptyState className="m-4" title="Nothing sent yet" description="Events of this webhook's type, and test pings, show up here." />;
  }
  return (
    <div data-testid="delivery-log">
      <table className="w-full text-sm" aria-label="Deliveries">
        <thead>
          <tr className="border-b border-line text-left text-xs uppercase tracking-wide text-muted">
            <th scope="col" className="px-4 py-2 font-medium">Event</th>
            <th scope="col" className="px-4 py-2 font-medium">State</th>
            <th scope="col" className="px-4 py-2 font-medium">Attempts</th>
            <th scope="col" className="px-4 py-2 font-medium">Last answer</th>
            <th scope="col" className="px-4 py-2 font-medium">Latency</th>
            <th scope="col" className="px-4 py-2 font-medium">Created</th>
          </tr>
        </thead>
        <tbody>
          {items.map((delivery) => (
            <DeliveryRow
              key={delivery.id}
              delivery={delivery}
              open={open === delivery.id}
              onToggle={() => setOpen(open === delivery.id ? null : delivery.id)}
            />
          ))}
        </tbody>
      </table>
      <Pager className="p-3" page={page} pageSize={DELIVERIES_PAGE} total={total} onPage={setPage} label="Delivery pages" />
    </div>
  );
}

function DeliveryRow({ delivery, open, onToggle }: { delivery: WebhookDelivery; open: boolean; onToggle: () => void }) {
  return (
    <>
      <tr className="border-b border-line/60 last:border-0" data-testid="delivery-row" data-delivery={delivery.id}>
        <td className="px-4 py-2">
          <button type="button" className="font-mono text-xs underline-offset-2 hover:underline" aria-expanded={open} onClick={onToggle}>
            {delivery.event_type}
          </button>
          <span className="ml-2 font-mono text-xs text-muted" title={`Delivery ${delivery.id}`}>
            {shortId(delivery.id)}
          </span>
        </td>
        <td className="px-4 py-2">
          <DeliveryState delivery={delivery} />
        </td>
        <td className="num px-4 py-2">{delivery.attempt}</td>
        <td className="px-4 py-2" data-testid="delivery-status">
          {delivery.status_code ?? "no answer"}
          {delivery.error && <span className="ml-2 text-xs text-muted">{delivery.error}</span>}
        </td>
        <td className="num px-4 py-2 text-muted">{formatDurationMs(delivery.duration_ms)}</td>
        <td className="px-4 py-2 text-muted">{formatDateTime(delivery.created_at)}</td>
      </tr>
      {open && (
        <tr className="border-b border-line/60 bg-raised/40">
          <td colSpan={6} className="px-4 py-2">
            <ol className="grid gap-1 text-xs" aria-label={`Attempts of ${delivery.event_type}`} data-testid="delivery-attempts">
              {(delivery.attempts ?? []).map((a) => (
                <li key={a.attempt} className="flex flex-wrap gap-3">
                  <span className="font-medium">#{a.attempt}</span>
                  <span>{formatDateTime(a.at)}</span>
                  <span>{a.status_code ?? "no answer"}</span>
                  <span className="text-muted">{formatDurationMs(a.duration_ms)}</span>
                  {a.error && <span className="text-bad">{a.error}</span>}
                </li>
              ))}
            </ol>
            <p className="mt-1 text-xs text-muted">
              Event {delivery.event_id} · delivery id {delivery.id} (the same on every retry)
            </p>
          </td>
        </tr>
      )}
    </>
  );
}
