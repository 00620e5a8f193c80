import { useEffect, useState, type FormEvent } from "react";

import { useSettings, useUpdateSettings } from "../../api/queries/admin";
import { useEndpoints } from "../../api/queries/endpoints";
import { Button, Card, CardBody, CardHeader, Checkbox, ErrorMessage, Field, Input, Select, Skeleton } from "../../components/ui";

export function SettingsPanel() {
  const settings = useSettings();
  const endpoints = useEndpoints();
  const update = useUpdateSettings();
  const [guest, setGuest] = useState(false);
  const [defaultEndpoint, setDefaultEndpoint] = useState("");
  const [maxRuns, setMaxRuns] = useState("4");
  const [maxTokens, setMaxTokens] = useState("0");
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    if (!settings.data) return;
    setGuest(settings.data.allow_guest_access);
    setDefaultEndpoint(settings.data.default_endpoint_id ?? "");
    setMaxRuns(String(settings.data.max_concurrent_runs));
    setMaxTokens(String(settings.data.max_tokens_per_sweep));
  }, [settings.data]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    update.mutate(
      {
        allow_guest_access: guest,
        default_endpoint_id: defaultEndpoint || null,
        max_concurrent_runs: Number(maxRuns),
        max_tokens_per_sweep: Number(maxTokens),
      },
      { onSuccess: () => setSaved(true) },
    );
  };

  if (settings.isPending) {
    return (
      <Card className="p-4">
        <Skeleton className="h-6 w-1/3" />
        <Skeleton className="mt-4 h-24" />
      </Card>
    );
  }
  if (settings.isError) return <ErrorMessage error={settings.error} onRetry={() => void settings.refetch()} />;

  return (
    <Card>
      <CardHeader title="Server settings" />
      <CardBody>
        <form onSubmit={submit} className="grid max-w-2xl gap-5" aria-label="Server settings" data-testid="settings-form">
          <div>
            <Checkbox
              label="Allow guest access (read-only)"
              checked={guest}
              onChange={(e) => setGuest(e.target.checked)}
              data-testid="settings-guest-access"
            />
            <p className="ml-6 mt-1 text-xs text-muted">
              Anyone who can reach the server may look at projects, runs and results without logging in. Changes always need an account.
            </p>
          </div>
          <Field label="Default endpoint" hint="Used by stages that name no endpoint.">
            <Select value={defaultEndpoint} onChange={(e) => setDefaultEndpoint(e.target.value)} data-testid="settings-default-endpoint">
              <option value="">None</option>
              {endpoints.data?.items.map((endpoint) => (
                <option key={endpoint.id} value={endpoint.id}>
                  {endpoint.label} ({endpoint.url})
                </option>
              ))}
            </Select>
          </Field>
          <div className="grid gap-4 sm:grid-cols-2">
            <Field label="Max concurrent LLM calls" hint="Per sweep, unless a sweep asks for less.">
              <Input type="number" min={1} max={1024} required value={maxRuns} onChange={(e) => setMaxRuns(e.target.value)} />
            </Field>
            <Field label="Token budget per sweep" hint="0 means no limit.">
              <Input type="number" min={0} required value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
            </Field>
          </div>
          <ErrorMessage error={update.error} />
          <div className="flex items-center gap-3">
            <Button type="submit" variant="primary" loading={update.isPending} data-testid="settings-save">
              Save settings
            </Button>
            <span role="status" className="text-sm text-good">
              {saved && !update.isPending ? "Saved." : ""}
            </span>
          </div>
        </form>
      </CardBody>
    </Card>
  );
}
