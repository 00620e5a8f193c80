// The review queue: one unrated output of the top configurations at a time, rated with 1-5;
// j/k or arrows walk the queue, n skips to the next. Rated outputs leave the queue.
import { useCallback, useState } from "react";
import { Link } from "react-router-dom";

import { useRateOutput, useReviewQueue } from "../../api/queries/reviews";
import { formatScore, pluralize, shortId } from "../../lib/format";
import { Card, CardBody, CardHeader } from "../ui/Card";
import { EmptyState } from "../ui/EmptyState";
import { ErrorMessage } from "../ui/ErrorMessage";
import { Select } from "../ui/Field";
import { Skeleton } from "../ui/Spinner";
import { OutputRating, useReviewKeys } from "./OutputRating";

export function ReviewQueue({ experimentId, readOnly }: { experimentId: string; readOnly: boolean }) {
  const [top, setTop] = useState(10);
  const [index, setIndex] = useState(0);
  const queue = useReviewQueue(experimentId, top);
  const rate = useRateOutput();
  const items = queue.data?.items ?? [];
  const current = items[Math.min(index, Math.max(0, items.length - 1))];
  const move = useCallback((delta: number) => setIndex((i) => Math.max(0, Math.min(items.length - 1, i + delta))), [items.length]);
  const onRate = useCallback(
    (rating: number | null) => {
      if (!current || rating === null) return;
      // The rated output leaves the queue: the same index then shows the next one.
      rate.mutate({ runId: current.run_id, sampleId: current.sample_id, rating });
    },
    [current, rate],
  );
  useReviewKeys({ enabled: !readOnly && !!current && !rate.isPending, onRate, onMove: move, onNext: () => move(1) });

  return (
    <Card data-testid="review-queue">
      <CardHeader
        title="Review the top configurations"
        description="Rate each output 1–5 (keys 1–5; j/k or ↑/↓ move; n skips). A run's human score is the mean of its outputs' ratings."
        actions={
          <label className="flex items-center gap-2 text-sm">
            Top
            <Select value={top} onChange={(e) => { setTop(Number(e.target.value)); setIndex(0); }} className="h-8 w-20" aria-label="How many top runs to review">
              {[3, 5, 10, 20, 50].map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </Select>
            runs
          </label>
        }
      />
      <CardBody className="space-y-3">
        <ErrorMessage error={queue.error ?? rate.error} onRetry={queue.isError ? () => void queue.refetch() : undefined} />
        {queue.isPending ? (
          <Skeleton className="h-40" />
        ) : !current ? (
          <EmptyState
            title={queue.data?.runs ? "Every output of these runs is rated" : "Nothing to review yet"}
            description={queue.data?.runs ? "Pick more top runs above, or open a run to change a rating." : "Outputs appear here once a sweep has finished runs."}
          />
        ) : (
          <div className="space-y-3" data-testid="review-item" data-run-id={current.run_id} data-sample-id={current.sample_id}>
            <p className="num text-sm text-muted" data-testid="review-position">
              {Math.min(index, items.length - 1) + 1} of {pluralize(queue.data?.total_unrated ?? items.length, "unrated output")} · run #{current.rank}{" "}
              <Link to={`/runs/${current.run_id}`} className="font-mono text-accent hover:underline">
                {shortId(current.run_id)}
              </Link>{" "}
              (score {formatScore(current.weighted_score)}) · sample <span className="font-mono">{current.sample_id}</span>
            </p>
            <div className="grid gap-3 md:grid-cols-2">
              <div>
                <p className="text-xs font-medium text-muted">Input</p>
                <pre className="max-h-72 overflow-auto whitespace-pre-wrap break-words rounded-md bg-raised px-3 py-2 text-sm">{current.input}</pre>
              </div>
              <div>
                <p className="text-xs font-medium text-muted">Output</p>
                {current.error ? (
                  <p className="rounded-md border border-bad/40 bg-bad/10 px-3 py-2 text-sm">{current.error}</p>
                ) : (
                  <pre className="max-h-72 overflow-auto whitespace-pre-wrap break-words rounded-md bg-raised px-3 py-2 text-sm" data-testid="review-output">
                    {current.output ?? "(no response)"}
                  </pre>
                )}
              </div>
            </div>
            <OutputRating sampleId={current.sample_id} mine={null} others={[]} onRate={onRate} disabled={readOnly} pending={rate.isPending} />
          </div>
        )}
      </CardBody>
    </Card>
  );
}
