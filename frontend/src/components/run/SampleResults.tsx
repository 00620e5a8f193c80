import { useCallback, useEffect, useMemo, useState, type ReactNode } from "react";

import { useRateOutput, useRunRatings } from "../../api/queries/reviews";
import { ErrorMessage } from "../ui/ErrorMessage";
import { OutputRating, useReviewKeys } from "./OutputRating";

import { formatDurationMs, formatInt, formatScore, formatValue } from "../../lib/format";
import { Badge } from "../ui/Badge";
import { Input } from "../ui/Field";
import { Pager } from "../ui/Pager";
import { parseMessages, sampleScoreReason, type SampleResults as Group, type ScoreDetail, type StageResult } from "./runData";

const PAGE = 20;

export interface SampleInfo {
  input: string;
  reference?: string | null;
  vars?: Record<string, unknown>;
}

interface Props {
  groups: Group[];
  samples: Map<string, SampleInfo>;
  perSample: Record<string, Record<string, number>>;
  /** The run's computed score details (for what each scorer said about a sample). */
  details: ScoreDetail[];
  /** Rate each output (run x sample) 1-5, with keyboard shortcuts; absent: no rating controls. */
  rating?: { runId: string; readOnly: boolean };
}

/** Every sample: its input, then each stage's prompt and response with tokens, latency and cache. */
export function SampleResultsList({ groups, samples, perSample, details, rating }: Props) {
  const [filter, setFilter] = useState("");
  const [page, setPage] = useState(0);
  const [selected, setSelected] = useState(0);
  const ratings = useRunRatings(rating?.runId);
  const rate = useRateOutput();
  const mine = useMemo(() => new Map((ratings.data?.items ?? []).filter((r) => r.mine).map((r) => [r.sample_id, r.rating])), [ratings.data]);
  const others = useMemo(() => {
    const out = new Map<string, number[]>();
    for (const r of ratings.data?.items ?? []) if (!r.mine) out.set(r.sample_id, [...(out.get(r.sample_id) ?? []), r.rating]);
    return out;
  }, [ratings.data]);
  const filtered = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    if (!needle) return groups;
    return groups.filter(
      (g) =>
        g.sampleId.toLowerCase().includes(needle) ||
        (samples.get(g.sampleId)?.input ?? "").toLowerCase().includes(needle) ||
        g.stages.some((s) => (s.response_raw ?? "").toLowerCase().includes(needle)),
    );
  }, [groups, filter, samples]);
  const pages = Math.max(1, Math.ceil(filtered.length / PAGE));
  const current = Math.min(page, pages - 1);
  const visible = filtered.slice(current * PAGE, current * PAGE + PAGE);

  // Keyboard review over the filtered samples: 1-5 rate the selected one, j/k or arrows move, n = next unrated.
  const canRate = !!rating && !rating.readOnly;
  const select = useCallback(
    (index: number) => {
      const clamped = Math.max(0, Math.min(filtered.length - 1, index));
      setSelected(clamped);
      setPage(Math.floor(clamped / PAGE));
    },
    [filtered.length],
  );
  const selectedId = filtered[selected]?.sampleId;
  const onRate = useCallback(
    (value: number | null, sampleId = selectedId) => {
      if (!rating || !sampleId) return;
      rate.mutate({ runId: rating.runId, sampleId, rating: value });
    },
    [rating, selectedId, rate],
  );
  const nextUnrated = useCallback(() => {
    for (let step = 1; step <= filtered.length; step += 1) {
      const index = (selected + step) % filtered.length;
      if (!mine.has(filtered[index].sampleId)) return select(index);
    }
  }, [filtered, selected, mine, select]);
  useReviewKeys({
    enabled: canRate && filtered.length > 0,
    onRate: (value) => onRate(value),
    onMove: (delta) => select(selected + delta),
    onNext: nextUnrated,
  });
  useEffect(() => {
    if (!selectedId) return;
    document.querySelector(`[data-testid="sample-${CSS.escape(selectedId)}"]`)?.scrollIntoView?.({ block: "nearest" });
  }, [selectedId]);

  return (
    <section aria-labelledby="samples-heading" className="space-y-3">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id="samples-heading" className="text-lg font-semibold">
          Samples ({groups.length})
        </h2>
        {canRate && (
          <p className="text-xs text-muted" data-testid="review-keys-hint">
            Keys: <kbd>1</kbd>–<kbd>5</kbd> rate the selected output · <kbd>j</kbd>/<kbd>k</kbd> or ↑/↓ move · <kbd>n</kbd> next unrated
            {ratings.data ? ` · ${ratings.data.count} rating${ratings.data.count === 1 ? "" : "s"}, human score ${ratings.data.human_score === null ? "—" : ratings.data.human_score.toFixed(3)}` : ""}
          </p>
        )}
        <Input
          type="search"
          aria-label="Filter samples by id, input or output"
          placeholder="Filter by id, input or output"
          value={filter}
          onChange={(e) => {
            setFilter(e.target.value);
            setPage(0);
          }}
          className="h-8 max-w-72"
        />
      </div>
      {filtered.length === 0 && <p className="text-sm text-muted">No sample matches “{filter}”.</p>}
      <ErrorMessage error={rate.error} title="The rating was not saved" />
      {visible.map((group, i) => (
        <SampleCard
          key={group.sampleId}
          group={group}
          sample={samples.get(group.sampleId)}
          scores={perSample[group.sampleId] ?? {}}
          details={details}
          defaultOpen={current === 0 && i < 3}
          selected={canRate && current * PAGE + i === selected}
          onSelect={() => select(current * PAGE + i)}
          rating={
            rating ? (
              <OutputRating
                sampleId={group.sampleId}
                mine={mine.get(group.sampleId) ?? null}
                others={others.get(group.sampleId) ?? []}
                onRate={(value) => {
                  select(current * PAGE + i);
                  onRate(value, group.sampleId);
                }}
                disabled={rating.readOnly}
              />
            ) : null
          }
        />
      ))}
      <Pager page={current} pageSize={PAGE} total={filtered.length} onPage={setPage} label="Sample pages" className="justify-end text-sm" />
    </section>
  );
}

function SampleCard({
  group,
  sample,
  scores,
  details,
  defaultOpen,
  selected = false,
  onSelect,
  rating,
}: {
  group: Group;
  sample: SampleInfo | undefined;
  scores: Record<string, number>;
  details: ScoreDetail[];
  defaultOpen: boolean;
  selected?: boolean;
  onSelect?: () => void;
  rating?: ReactNode;
}) {
  const failed = group.stages.some((s) => s.error);
  return (
    <details
      open={defaultOpen || selected || undefined}
      className={`rounded-lg border bg-panel ${selected ? "border-accent ring-2 ring-accent/40" : "border-line"}`}
      data-testid={`sample-${group.sampleId}`}
      data-selected={selected}
      onFocus={onSelect}
    >
      <summary className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-2">
        <span className="font-mono text-sm font-semibold">{group.sampleId}</span>
        {failed && <Badge tone="bad">failed</Badge>}
        <span className="min-w-0 flex-1 truncate text-sm text-muted">{sample?.input ?? ""}</span>
        {Object.entries(scores).map(([name, value]) => (
          <span key={name} className="num text-xs text-muted">
            {name} <strong className="text-fg">{formatScore(value)}</strong>
          </span>
        ))}
      </summary>
      <div className="space-y-3 border-t border-line px-4 py-3">
        {rating}
        {sample && (
          <div className="grid gap-3 md:grid-cols-2">
            <TextBlock label="Input" text={sample.input} />
            {sample.reference ? <TextBlock label="Reference" text={sample.reference} /> : null}
            {sample.vars && Object.keys(sample.vars).length > 0 && (
              <p className="text-xs text-muted md:col-span-2">
                vars:{" "}
                {Object.entries(sample.vars)
                  .map(([k, v]) => `${k}=${formatValue(v)}`)
                  .join(", ")}
              </p>
            )}
          </div>
        )}
        {group.stages.map((stage) => (
          <StageCall key={stage.stage_index} stage={stage} />
        ))}
        {Object.keys(scores).length > 0 && (
          <dl className="grid gap-x-3 gap-y-1 text-sm sm:grid-cols-[10rem_4rem_1fr]" aria-label={`Scores of sample ${group.sampleId}`}>
            {Object.entries(scores).map(([name, value]) => {
              const detail = details.find((d) => d.name === name);
              const reason = detail ? sampleScoreReason(detail, group.sampleId) : null;
              return (
                <div key={name} className="contents">
                  <dt className="font-mono">{name}</dt>
                  <dd className="num">{formatScore(value)}</dd>
                  <dd className="break-words font-mono text-xs text-muted">{reason ?? ""}</dd>
                </div>
              );
            })}
          </dl>
        )}
      </div>
    </details>
  );
}

function StageCall({ stage }: { stage: StageResult }) {
  const messages = parseMessages(stage.prompt_sent);
  const params = Object.entries(stage.parameters ?? {});
  return (
    <article className="rounded-md border border-line" data-testid={`stage-result-${stage.sample_id}-${stage.stage_index}`}>
      <header className="flex flex-wrap items-center gap-x-3 gap-y-1 border-b border-line bg-raised/50 px-3 py-1.5 text-xs">
        <span className="text-sm font-semibold">
          Stage {stage.stage_index + 1}: {stage.stage_name}
        </span>
        <span className="font-mono">{stage.model_used}</span>
        <span className="num text-muted">
          {formatInt(stage.tokens_in)} in / {formatInt(stage.tokens_out)} out tokens
        </span>
        <span className="num text-muted">{formatDurationMs(stage.latency_ms)}</span>
        {stage.cached ? <Badge tone="good">cached</Badge> : <Badge>called</Badge>}
        {params.length > 0 && (
          <span className="font-mono text-muted">{params.map(([k, v]) => `${k}=${formatValue(v)}`).join(" ")}</span>
        )}
      </header>
      <div className="grid gap-3 p-3 lg:grid-cols-2">
        <div className="space-y-2">
          <h4 className="text-xs font-semibold uppercase tracking-wide text-muted">Prompt sent</h4>
          {messages.map((message, i) => (
            <TextBlock key={i} label={message.role} text={message.content} small />
          ))}
        </div>
        <div className="space-y-2">
          <h4 className="text-xs font-semibold uppercase tracking-wide text-muted">Response</h4>
          {stage.error ? (
            <p className="rounded-md border border-bad/40 bg-bad/10 px-3 py-2 text-sm" role="note">
              {stage.error}
            </p>
          ) : (
            <pre className="max-h-96 overflow-auto whitespace-pre-wrap break-words rounded-md bg-raised px-3 py-2 text-sm">
              {stage.response_raw ?? "(no response)"}
            </pre>
          )}
        </div>
      </div>
    </article>
  );
}

function TextBlock({ label, text, small = false }: { label: string; text: string; small?: boolean }) {
  return (
    <div>
      <p className="text-xs font-medium text-muted">{label}</p>
      <pre className={`max-h-72 overflow-auto whitespace-pre-wrap break-words rounded-md bg-raised px-3 py-2 ${small ? "text-xs" : "text-sm"}`}>
        {text}
      </pre>
    </div>
  );
}
