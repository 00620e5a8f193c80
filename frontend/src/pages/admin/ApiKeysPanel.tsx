import { useState, type FormEvent } from "react";

import type { ApiKey, ApiKeyCreated } from "../../api/client";
import { useApiKeys, useCreateApiKey, useDeleteApiKey } from "../../api/queries/admin";
import { Button, Card, CardBody, CardHeader, ConfirmDialog, CopyButton, EmptyState, ErrorMessage, Field, Input, Skeleton } from "../../components/ui";
import { formatDateTime, formatRelative } from "../../lib/format";

export function ApiKeysPanel() {
  const keys = useApiKeys();
  const create = useCreateApiKey();
  const remove = useDeleteApiKey();
  const [name, setName] = useState("");
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate(
      { name: name.trim() },
      {
        onSuccess: (key) => {
          setCreated(key);
          setName("");
        },
      },
    );
  };

  return (
    <div className="grid gap-4">
      <Card>
        <CardHeader title="Create an API key" description="For scripts, CI, the CLI and MCP clients: send it as Authorization: Bearer <key>." />
        <CardBody>
          <form onSubmit={submit} className="flex flex-wrap items-end gap-3" aria-label="Create an API key" data-testid="api-key-form">
            <Field label="Name" hint="What uses it, e.g. “ci” or “claude-desktop”." className="min-w-[16rem] flex-1">
              <Input required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} data-testid="api-key-name" />
            </Field>
            <Button type="submit" variant="primary" loading={create.isPending} data-testid="api-key-create" className="mb-5">
              Create key
            </Button>
          </form>
          <ErrorMessage error={create.error} />
          {created && (
            <div className="mt-4 rounded-md border border-good/40 bg-good/10 p-3" role="status" data-testid="api-key-created">
              <p className="text-sm font-medium">Copy the key “{created.name}” now: it is shown this once and only its hash is stored.</p>
              <div className="mt-2 flex flex-wrap items-center gap-2">
                <code className="min-w-0 flex-1 break-all rounded bg-panel px-2 py-1.5 font-mono text-sm" data-testid="api-key-value">
                  {created.key}
                </code>
                <CopyButton text={created.key} label="Copy key" />
                <Button size="sm" variant="ghost" onClick={() => setCreated(null)}>
                  Done
                </Button>
              </div>
            </div>
          )}
        </CardBody>
      </Card>
      <Card>
        <CardHeader title="API keys" />
        {keys.isPending ? (
          <div className="p-4">
            <Skeleton className="h-8" />
          </div>
        ) : keys.isError ? (
          <ErrorMessage error={keys.error} className="m-4" onRetry={() => void keys.refetch()} />
        ) : keys.data.items.length === 0 ? (
          <EmptyState className="m-4" title="No API keys" description="Create one above to drive PromptLooper from scripts or an MCP client." />
        ) : (
          <div className="overflow-x-auto">
          <table className="w-full text-sm" aria-label="API keys">
            <thead>
              <tr className="border-b border-line text-left text-xs uppercase tracking-wide text-muted">
                <th scope="col" className="px-4 py-2 font-medium">Name</th>
                <th scope="col" className="px-4 py-2 font-medium">Key</th>
                <th scope="col" className="px-4 py-2 font-medium">Created</th>
                <th scope="col" className="px-4 py-2 font-medium">Last used</th>
                <th scope="col" className="px-4 py-2"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {keys.data.items.map((key) => (
                <tr key={key.id} className="border-b border-line/60 last:border-0" data-testid="api-key-row">
                  <td className="px-4 py-2 font-medium">{key.name}</td>
                  <td className="px-4 py-2 font-mono text-xs text-muted">{key.prefix}…</td>
                  <td className="px-4 py-2 text-muted">{formatDateTime(key.created_at)}</td>
                  <td className="px-4 py-2 text-muted">{key.last_used_at ? formatRelative(key.last_used_at) : "never"}</td>
                  <td className="px-4 py-2 text-right">
                    <Button size="sm" variant="ghost" onClick={() => setRevoking(key)} aria-label={`Revoke key ${key.name}`}>
                      Revoke
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
        )}
      </Card>
      <ConfirmDialog
        open={!!revoking}
        onClose={() => setRevoking(null)}
        onConfirm={() => revoking && remove.mutate(revoking.id, { onSuccess: () => setRevoking(null) })}
        title={`Revoke “${revoking?.name ?? ""}”?`}
        description="Anything using this key stops working at once."
        confirmLabel="Revoke key"
        pending={remove.isPending}
        error={remove.error}
      />
    </div>
  );
}
