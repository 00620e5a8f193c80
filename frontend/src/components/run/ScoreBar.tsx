import { formatScore } from "../../lib/format";

/** A score in [0, 1] as a number and a bar (the number carries the meaning; the bar is a glance). */
export function ScoreBar({ value, tone = "accent", label }: { value: number | null | undefined; tone?: "accent" | "good" | "warn"; label?: string }) {
  const width = value === null || value === undefined ? 0 : Math.max(0, Math.min(1, value)) * 100;
  const fill = tone === "good" ? "bg-good" : tone === "warn" ? "bg-warn" : "bg-accent";
  return (
    <span className="flex min-w-[8rem] items-center gap-2" title={label}>
      <span className="num w-12 shrink-0 text-right text-sm">{formatScore(value)}</span>
      <span className="relative h-2 flex-1 overflow-hidden rounded bg-raised" aria-hidden="true">
        <span className={`absolute inset-y-0 left-0 rounded ${fill}`} style={{ width: `${width}%` }} />
      </span>
    </span>
  );
}
