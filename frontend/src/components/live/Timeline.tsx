import { memo, useMemo, useState, type ReactNode } from "react";
import { Link } from "react-router-dom";

import { formatTime, shortId } from "../../lib/format";
import { NOISY_TYPES, type TimelineEntry } from "../../lib/liveReducer";
import { Card, CardHeader, cn, EmptyState, OriginBadge } from "../ui";

const TONE_DOT: Record<TimelineEntry["tone"], string> = {
  neutral: "bg-muted",
  accent: "bg-accent",
  good: "bg-good",
  warn: "bg-warn",
  bad: "bg-bad",
};

/** The activity timeline, newest first, filterable by event type (bulk types hidden by default). */
export function Timeline({
  entries,
  typeCounts,
  title = "Activity",
  showExperiment,
  height = 420,
}: {
  entries: TimelineEntry[];
  typeCounts: Record<string, number>;
  title?: string;
  showExperiment?: (entry: TimelineEntry) => ReactNode;
  height?: number;
}) {
  const [hidden, setHidden] = useState<Set<string>>(() => new Set(NOISY_TYPES));
  const types = useMemo(() => Object.keys(typeCounts).sort(), [typeCounts]);
  const shown = useMemo(() => entries.filter((e) => !hidden.has(e.type)), [entries, hidden]);
  const toggle = (type: string) =>
    setHidden((current) => {
      const next = new Set(current);
      if (next.has(type)) next.delete(type);
      else next.add(type);
      return next;
    });

  return (
    <Card data-testid="timeline">
      <CardHeader title={title} description="Newest first. Pick the event types to show." />
      <fieldset className="flex flex-wrap gap-1.5 border-b border-line px-4 py-2">
        <legend className="sr-only">Event types</legend>
        {types.length === 0 && <span className="text-xs text-muted">No events yet.</span>}
        {types.map((type) => {
          const on = !hidden.has(type);
          return (
            <button
              key={type}
              type="button"
              aria-pressed={on}
              onClick={() => toggle(type)}
              data-testid={`timeline-filter-${type}`}
              className={cn(
                "num rounded-full border px-2 py-0.5 text-xs",
                on ? "border-accent bg-accent/10 text-fg" : "border-line text-muted hover:text-fg",
              )}
            >
              {type} <span className="text-muted">{typeCounts[type]}</span>
            </button>
          );
        })}
      </fieldset>
      <div className="overflow-y-auto" style={{ height }}>
        {shown.length === 0 ? (
          <EmptyState
            className="m-4"
            title="Nothing to show"
            description={entries.length ? "Every event here is of a hidden type: pick more types above." : "Events appear here as a sweep runs."}
          />
        ) : (
          <ol className="divide-y divide-line/60" aria-label={`${title} events`}>
            {shown.map((entry) => (
              <TimelineRow key={entry.key} entry={entry} extra={showExperiment?.(entry)} />
            ))}
          </ol>
        )}
      </div>
    </Card>
  );
}

/** Entries never change once made: memoised rows keep live updates to the new ones only. */
const TimelineRow = memo(function TimelineRow({ entry, extra }: { entry: TimelineEntry; extra?: ReactNode }) {
  return (
    <li className="flex items-start gap-3 px-4 py-2 text-sm" data-testid="timeline-entry" data-type={entry.type}>
      <span className={cn("mt-1.5 h-2 w-2 shrink-0 rounded-full", TONE_DOT[entry.tone])} aria-hidden="true" />
      <time className="num w-20 shrink-0 text-xs leading-5 text-muted" dateTime={entry.ts}>
        {formatTime(entry.ts)}
      </time>
      <div className="min-w-0 flex-1">
        {extra}
        {entry.origin && <OriginBadge origin={entry.origin} className="mr-1.5" />}
        <span className="break-words">{entry.summary}</span>
        {entry.run_id && (
          <Link to={`/runs/${entry.run_id}`} className="ml-2 text-xs text-accent hover:underline">
            run {shortId(entry.run_id)}
          </Link>
        )}
      </div>
      <span className="hidden shrink-0 font-mono text-[11px] text-muted sm:inline">{entry.type}</span>
    </li>
  );
});
