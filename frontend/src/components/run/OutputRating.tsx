// A 1-5 rating of one output (run x sample). The buttons say which is yours; the keyboard
// shortcuts of useReviewKeys reach the same mutation.
import { useEffect } from "react";

import { cn } from "../ui/cn";

export const RATING_WORDS = ["", "bad", "poor", "fair", "good", "great"];

export function OutputRating({
  sampleId,
  mine,
  others,
  onRate,
  disabled,
  pending,
}: {
  sampleId: string;
  mine: number | null;
  /** Everyone else's ratings of this output. */
  others: number[];
  onRate: (rating: number | null) => void;
  disabled?: boolean;
  pending?: boolean;
}) {
  return (
    <div className="flex flex-wrap items-center gap-2 text-sm" data-testid={`output-rating-${sampleId}`} data-mine={mine ?? ""}>
      <span className="text-xs text-muted">Your rating</span>
      <div role="group" aria-label={`Rate the output for ${sampleId}`} className="inline-flex overflow-hidden rounded-md border border-line">
        {[1, 2, 3, 4, 5].map((n) => (
          <button
            key={n}
            type="button"
            disabled={disabled || pending}
            aria-pressed={mine === n}
            aria-label={`${n} of 5 (${RATING_WORDS[n]})`}
            title={`${n}: ${RATING_WORDS[n]} (key ${n})`}
            onClick={() => onRate(mine === n ? null : n)}
            className={cn(
              "num h-7 w-8 border-l border-line text-sm first:border-l-0 disabled:opacity-60",
              mine !== null && n <= mine ? "bg-accent text-accent-fg" : "bg-panel hover:bg-raised",
            )}
          >
            {n}
          </button>
        ))}
      </div>
      {others.length > 0 && (
        <span className="num text-xs text-muted">
          others: {others.join(", ")} (mean {(others.reduce((a, b) => a + b, 0) / others.length).toFixed(1)})
        </span>
      )}
    </div>
  );
}

/** 1-5 rate the selected output, j/k or arrow keys move, n jumps to the next unrated; off while typing. */
export function useReviewKeys({
  enabled,
  onRate,
  onMove,
  onNext,
}: {
  enabled: boolean;
  onRate: (rating: number) => void;
  onMove: (delta: number) => void;
  onNext: () => void;
}) {
  useEffect(() => {
    if (!enabled) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
      const target = event.target as HTMLElement | null;
      if (target && (target.closest("input, textarea, select, [contenteditable=true]") || target.getAttribute("role") === "dialog")) return;
      if (/^[1-5]$/.test(event.key)) onRate(Number(event.key));
      else if (event.key === "j" || event.key === "ArrowDown") onMove(1);
      else if (event.key === "k" || event.key === "ArrowUp") onMove(-1);
      else if (event.key === "n") onNext();
      else return;
      event.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [enabled, onRate, onMove, onNext]);
}
