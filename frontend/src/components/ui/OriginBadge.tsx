import { Badge, type BadgeTone } from "./Badge";

/** Who proposed a run, for the origins worth pointing out (a sweep's own grid or random runs and ad-hoc runs are not marked). */
const MARKED: Record<string, { label: string; tone: BadgeTone; title: string }> = {
  sampler: { label: "sampler", tone: "accent", title: "Proposed by the guided sweep's sampler (Optuna TPE)" },
  agent: { label: "agent", tone: "warn", title: "Added to the sweep by an agent (POST /sweeps/{id}/runs or MCP add_sweep_configs)" },
  redirect: { label: "redirect", tone: "neutral", title: "Added by a redirect of the sweep's parameter space" },
  rewrite: { label: "rewrite", tone: "good", title: "An approved prompt rewrite of the sweep's optimizer model" },
};

/** True when a run of this origin gets a badge. */
export function isMarkedOrigin(origin: string | null | undefined): boolean {
  return !!origin && origin in MARKED;
}

/** A small badge naming who proposed a run (sampler, agent, redirect, rewrite); nothing for other origins. */
export function OriginBadge({ origin, className }: { origin: string | null | undefined; className?: string }) {
  if (!origin || !(origin in MARKED)) return null;
  const { label, tone, title } = MARKED[origin];
  return (
    <Badge tone={tone} className={className}>
      <span data-testid="origin-badge" data-origin={origin} title={title}>
        {label}
      </span>
    </Badge>
  );
}
