// Reading a run detail: the messages a stage sent, results grouped by sample, per-sample scores.
import type { RunDetail } from "../../api/client";

export type StageResult = RunDetail["stage_results"][number];
export type ScoreDetail = RunDetail["score_details"][number];

export interface Message {
  role: string;
  content: string;
}

/** `prompt_sent` is the rendered messages list as JSON; anything else is shown as one user message. */
export function parseMessages(promptSent: string): Message[] {
  try {
    const value: unknown = JSON.parse(promptSent);
    if (Array.isArray(value) && value.every((m) => m && typeof m === "object" && "content" in m)) {
      return value.map((m: { role?: unknown; content?: unknown }) => ({
        role: typeof m.role === "string" ? m.role : "user",
        content: typeof m.content === "string" ? m.content : JSON.stringify(m.content),
      }));
    }
  } catch {
    /* not JSON: fall through */
  }
  return promptSent ? [{ role: "user", content: promptSent }] : [];
}

export interface SampleResults {
  sampleId: string;
  stages: StageResult[];
  /** The last stage's output (what the scorers saw). */
  output: string | null;
}

/** Stage results grouped by sample, samples in `order` first (the experiment's order), stages by index. */
export function groupBySample(results: StageResult[], order: string[] = []): SampleResults[] {
  const groups = new Map<string, StageResult[]>();
  for (const id of order) groups.set(id, []);
  for (const result of results) {
    if (!groups.has(result.sample_id)) groups.set(result.sample_id, []);
    groups.get(result.sample_id)!.push(result);
  }
  return [...groups.entries()]
    .filter(([, stages]) => stages.length > 0)
    .map(([sampleId, stages]) => {
      const sorted = [...stages].sort((a, b) => a.stage_index - b.stage_index);
      const last = sorted[sorted.length - 1];
      return { sampleId, stages: sorted, output: last?.response_raw ?? null };
    });
}

/** Each computed scorer's value per sample, from the score details' `metadata.per_sample`. */
export function perSampleScores(details: ScoreDetail[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const detail of details) {
    const perSample = (detail.metadata as { per_sample?: Record<string, unknown> } | null)?.per_sample;
    if (!perSample || typeof perSample !== "object") continue;
    for (const [sampleId, value] of Object.entries(perSample)) {
      if (typeof value !== "number") continue;
      (out[sampleId] ??= {})[detail.name] = value;
    }
  }
  return out;
}

/** What a scorer said about one sample: its `reason`, else its details as `key: value` pairs. */
export function sampleScoreReason(detail: ScoreDetail, sampleId: string): string | null {
  const metadata = detail.metadata as { details?: Record<string, unknown>; error?: string; reason?: string } | null;
  const one = metadata?.details?.[sampleId];
  if (one && typeof one === "object") {
    const record = one as Record<string, unknown>;
    if (typeof record.reason === "string") return record.reason;
    const parts = Object.entries(record).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") || "none" : typeof v === "string" ? v : JSON.stringify(v)}`);
    if (parts.length > 0) return parts.join(" · ");
  }
  return metadata?.error ?? metadata?.reason ?? null;
}

/** Human ratings (several average into the run's `human_rating` score). */
export function humanRatings(details: ScoreDetail[]): ScoreDetail[] {
  // The row the server keeps as the mean of the per-output ratings is not one person's run rating.
  return details.filter((d) => d.name === "human_rating" && (d.metadata as { source?: string } | null)?.source !== "outputs");
}

/** A human rating's own words: "4/5", "thumbs up" or "0.80". */
export function describeRating(detail: ScoreDetail): string {
  const metadata = detail.metadata as { rating?: number; thumbs?: string; value?: number } | null;
  if (metadata?.rating !== undefined) return `${metadata.rating}/5 stars`;
  if (metadata?.thumbs) return `thumbs ${metadata.thumbs}`;
  return detail.value.toFixed(2);
}
