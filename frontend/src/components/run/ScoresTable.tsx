import type { RunDetail } from "../../api/client";
import type { ScorerDoc } from "../../lib/documentYaml";
import { Card, CardBody, CardHeader } from "../ui/Card";
import { humanRatings, type ScoreDetail } from "./runData";
import { ScoreBar } from "./ScoreBar";

interface Row {
  name: string;
  scorer: string;
  weight: number | null;
  value: number | null;
  note: string | null;
}

function noteOf(detail: ScoreDetail | undefined): string | null {
  const metadata = detail?.metadata as { error?: string; reason?: string; per_sample?: Record<string, number> } | undefined;
  if (!metadata) return null;
  if (metadata.error) return metadata.error;
  if (metadata.reason) return metadata.reason;
  const values = Object.values(metadata.per_sample ?? {});
  if (values.length > 0) {
    const full = values.filter((v) => v >= 1).length;
    return `${full} of ${values.length} samples scored 1`;
  }
  return null;
}

/** The run's score per scorer with its weight and what the scorer said, then the weighted score. */
export function ScoresTable({ run, scoring }: { run: RunDetail; scoring: ScorerDoc[] }) {
  const details = new Map(run.score_details.filter((d) => d.name !== "human_rating").map((d) => [d.name, d]));
  const names = new Set([...scoring.map((s) => s.name || s.scorer), ...Object.keys(run.scores ?? {})]);
  const rows: Row[] = [...names].map((name) => {
    const entry = scoring.find((s) => (s.name || s.scorer) === name);
    const human = name === "human_rating" ? humanRatings(run.score_details).length : 0;
    return {
      name,
      scorer: entry?.scorer ?? (name === "human_rating" ? "human_rating" : "—"),
      weight: entry ? (entry.weight ?? 1) : null,
      value: run.scores?.[name] ?? null,
      note: name === "human_rating" ? (human ? `average of ${human} rating${human === 1 ? "" : "s"}` : "not rated yet") : noteOf(details.get(name)),
    };
  });
  return (
    <Card data-testid="run-scores">
      <CardHeader title="Scores" description="Each scorer's mean over the samples; the weighted score is the weight-normalised mean." />
      <CardBody className="overflow-x-auto p-0">
        <table className="w-full text-sm">
          <thead>
            <tr className="border-b border-line text-left text-xs text-muted">
              <th className="px-4 py-2 font-medium">Name</th>
              <th className="px-2 py-2 font-medium">Scorer</th>
              <th className="px-2 py-2 text-right font-medium">Weight</th>
              <th className="px-2 py-2 font-medium">Score</th>
              <th className="px-4 py-2 font-medium">Details</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.name} className="border-b border-line" data-testid={`run-score-${row.name}`}>
                <td className="px-4 py-2 font-mono">{row.name}</td>
                <td className="px-2 py-2 text-muted">{row.scorer}</td>
                <td className="num px-2 py-2 text-right">{row.weight ?? "—"}</td>
                <td className="px-2 py-2">
                  <ScoreBar value={row.value} />
                </td>
                <td className="px-4 py-2 text-muted">{row.note ?? ""}</td>
              </tr>
            ))}
            <tr>
              <td className="px-4 py-2 font-semibold" colSpan={3}>
                Weighted score
              </td>
              <td className="px-2 py-2" data-testid="run-weighted-score">
                <ScoreBar value={run.weighted_score} tone="good" />
              </td>
              <td />
            </tr>
          </tbody>
        </table>
      </CardBody>
    </Card>
  );
}
