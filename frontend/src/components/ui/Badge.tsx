import type { ReactNode } from "react";

import { cn } from "./cn";

export type BadgeTone = "neutral" | "accent" | "good" | "warn" | "bad";

const TONES: Record<BadgeTone, string> = {
  neutral: "bg-raised text-muted",
  accent: "bg-accent/15 text-accent",
  good: "bg-good/15 text-good",
  warn: "bg-warn/15 text-warn",
  bad: "bg-bad/15 text-bad",
};

export function Badge({ tone = "neutral", className, children }: { tone?: BadgeTone; className?: string; children: ReactNode }) {
  return (
    <span className={cn("inline-flex items-center rounded px-1.5 py-0.5 text-xs font-medium", TONES[tone], className)}>
      {children}
    </span>
  );
}

const STATUS_TONES: Record<string, BadgeTone> = {
  draft: "neutral",
  pending: "neutral",
  running: "accent",
  paused: "warn",
  completed: "good",
  cached: "good",
  failed: "bad",
  cancelled: "warn",
  pruned: "neutral",
  stopped: "warn",
  rejected: "bad",
};

/** An experiment, sweep or run status with its colour. */
export function StatusBadge({ status, className }: { status: string; className?: string }) {
  return (
    <Badge tone={STATUS_TONES[status] ?? "neutral"} className={className}>
      <span data-status={status}>{status}</span>
    </Badge>
  );
}
