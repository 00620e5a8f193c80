import { useQueryClient } from "@tanstack/react-query";
import { useRef, useState, type KeyboardEvent } from "react";

import type { RunDetail, ScoreIn } from "../../api/client";
import { useScoreRun } from "../../api/queries/runs";
import { queryKeys } from "../../api/queries/keys";
import { formatRelative, formatScore } from "../../lib/format";
import { Button } from "../ui/Button";
import { Card, CardBody, CardHeader } from "../ui/Card";
import { ErrorMessage } from "../ui/ErrorMessage";
import { Textarea } from "../ui/Field";
import { describeRating, humanRatings } from "./runData";

type Choice = { rating: number } | { thumbs: "up" | "down" };

function valueOf(choice: Choice): number {
  return "rating" in choice ? (choice.rating - 1) / 4 : choice.thumbs === "up" ? 1 : 0;
}

/** The run as it will look once the rating is stored (shown at once; rolled back on error). */
function optimistic(run: RunDetail, choice: Choice, comment: string | null, username: string): RunDetail {
  const detail = {
    name: "human_rating",
    value: valueOf(choice),
    metadata: { ...choice, rated_by: username, pending: true },
    comment,
    created_at: new Date().toISOString(),
  };
  const details = [...run.score_details, detail];
  const ratings = humanRatings(details);
  const mean = ratings.reduce((sum, d) => sum + d.value, 0) / ratings.length;
  return { ...run, score_details: details, scores: { ...run.scores, human_rating: mean } };
}

/** Rate a run 1–5 stars or thumbs up/down (each rating is stored; they average into `human_rating`). */
export function HumanRating({ run, readOnly = false, counted = true }: { run: RunDetail; readOnly?: boolean; counted?: boolean }) {
  const queryClient = useQueryClient();
  const score = useScoreRun(run.id);
  const [comment, setComment] = useState("");
  const [last, setLast] = useState<Choice | null>(null);
  const [focusStar, setFocusStar] = useState(0);
  const stars = useRef<(HTMLButtonElement | null)[]>([]);
  const [hover, setHover] = useState<number | null>(null);
  const ratings = humanRatings(run.score_details);

  const submit = async (choice: Choice) => {
    const key = queryKeys.runs.detail(run.id);
    const previous = queryClient.getQueryData<RunDetail>(key);
    const text = comment.trim() || null;
    setLast(choice);
    if (previous) queryClient.setQueryData(key, optimistic(previous, choice, text, "you"));
    try {
      await score.mutateAsync({ ...choice, ...(text ? { comment: text } : {}) } as ScoreIn);
      setComment("");
    } catch {
      if (previous) queryClient.setQueryData(key, previous);
      setLast(null);
    }
  };

  const onStarKey = (event: KeyboardEvent<HTMLDivElement>) => {
    let next = focusStar;
    if (event.key === "ArrowRight" || event.key === "ArrowUp") next = Math.min(4, focusStar + 1);
    else if (event.key === "ArrowLeft" || event.key === "ArrowDown") next = Math.max(0, focusStar - 1);
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = 4;
    else return;
    event.preventDefault();
    setFocusStar(next);
    stars.current[next]?.focus();
  };

  const picked = last && "rating" in last ? last.rating : 0;
  const shown = hover ?? picked;
  const thumbs = last && "thumbs" in last ? last.thumbs : null;

  return (
    <Card data-testid="human-rating">
      <CardHeader
        title="Your rating"
        description="Rate the outputs of this configuration. Each rating is stored; the run's human_rating score is their average."
        actions={
          <span className="num text-sm" data-testid="human-rating-score">
            human_rating: <strong>{formatScore(run.scores?.human_rating)}</strong> ({ratings.length} rating
            {ratings.length === 1 ? "" : "s"})
          </span>
        }
      />
      <CardBody className="space-y-3">
        {readOnly ? (
          <p className="text-sm text-muted">You are signed in read-only, so you cannot rate runs.</p>
        ) : (
          <>
            <div className="flex flex-wrap items-center gap-4">
              <div
                role="group"
                aria-label="Rate from 1 to 5 stars (arrow keys move, Enter rates)"
                className="flex items-center"
                data-testid="rating-stars"
                onKeyDown={onStarKey}
                onMouseLeave={() => setHover(null)}
              >
                {[1, 2, 3, 4, 5].map((n, i) => (
                  <button
                    key={n}
                    ref={(el) => {
                      stars.current[i] = el;
                    }}
                    type="button"
                    tabIndex={i === focusStar ? 0 : -1}
                    aria-label={`${n} star${n === 1 ? "" : "s"}`}
                    aria-pressed={picked === n}
                    data-testid={`rating-star-${n}`}
                    disabled={score.isPending}
                    onFocus={() => setFocusStar(i)}
                    onMouseEnter={() => setHover(n)}
                    onClick={() => void submit({ rating: n })}
                    className={`px-0.5 text-2xl leading-none ${n <= shown ? "text-warn" : "text-muted/50"} disabled:opacity-60`}
                  >
                    <span aria-hidden="true">{n <= shown ? "★" : "☆"}</span>
                  </button>
                ))}
              </div>
              <div role="group" aria-label="Thumbs" className="flex items-center gap-2">
                <Button
                  size="sm"
                  aria-pressed={thumbs === "up"}
                  data-testid="rating-thumbs-up"
                  disabled={score.isPending}
                  onClick={() => void submit({ thumbs: "up" })}
                  className={thumbs === "up" ? "border-good text-good" : ""}
                >
                  <ThumbIcon /> Good
                </Button>
                <Button
                  size="sm"
                  aria-pressed={thumbs === "down"}
                  data-testid="rating-thumbs-down"
                  disabled={score.isPending}
                  onClick={() => void submit({ thumbs: "down" })}
                  className={thumbs === "down" ? "border-bad text-bad" : ""}
                >
                  <ThumbIcon down /> Bad
                </Button>
              </div>
              <span role="status" className="text-sm text-muted" data-testid="rating-status">
                {score.isPending ? "Saving…" : score.isSuccess && last ? "Saved." : ""}
              </span>
            </div>
            <label className="flex flex-col gap-1 text-sm font-medium">
              Comment (optional, sent with your next rating)
              <Textarea
                data-testid="rating-comment"
                value={comment}
                onChange={(e) => setComment(e.target.value)}
                rows={2}
                className="font-sans"
                maxLength={10000}
              />
            </label>
            <ErrorMessage error={score.error} title="The rating was not saved" />
          </>
        )}
        {!counted && (
          <p className="text-xs text-muted">
            Ratings are stored but do not count in the weighted score until the experiment has a human_rating scorer.
          </p>
        )}
        {ratings.length > 0 && (
          <ul className="divide-y divide-line text-sm" data-testid="rating-history">
            {ratings
              .slice()
              .reverse()
              .map((rating, i) => {
                const meta = rating.metadata as { rated_by?: string; pending?: boolean };
                return (
                  <li key={i} className="flex flex-wrap items-baseline gap-x-3 py-1.5">
                    <span className="font-medium">{describeRating(rating)}</span>
                    <span className="text-muted">
                      by {meta.rated_by ?? "someone"} · {meta.pending ? "saving…" : formatRelative(rating.created_at)}
                    </span>
                    {rating.comment && <span className="w-full text-muted">“{rating.comment}”</span>}
                  </li>
                );
              })}
          </ul>
        )}
      </CardBody>
    </Card>
  );
}

/** A thumb drawn in SVG: emoji need a colour-emoji font, which many Linux desktops lack. */
function ThumbIcon({ down = false }: { down?: boolean }) {
  return (
    <svg
      aria-hidden="true"
      viewBox="0 0 24 24"
      width="14"
      height="14"
      fill="none"
      stroke="currentColor"
      strokeWidth="2"
      strokeLinecap="round"
      strokeLinejoin="round"
      className={down ? "rotate-180" : undefined}
    >
      <path d="M7 10v11H4a1 1 0 0 1-1-1v-9a1 1 0 0 1 1-1h3Z" />
      <path d="M7 10l4-8a2.5 2.5 0 0 1 2.5 2.5V8h5.3a2 2 0 0 1 2 2.3l-1.4 9A2 2 0 0 1 17.4 21H7" />
    </svg>
  );
}
