import type { RunDetail } from "../../api/client";
import { formatScore } from "../../lib/format";
import { Card, CardBody, CardHeader } from "../ui/Card";

function Delta({ a, b }: { a: number | null | undefined; b: number | null | undefined }) {
  if (a === null || a === undefined || b === null || b === undefined) return <span className="text-muted">—</span>;
  const diff = b - a;
  if (Math.abs(diff) < 0.0005) return <span className="text-muted">= same</span>;
  return (
    <span className={diff > 0 ? "text-good" : "text-bad"}>
      <span aria-hidden="true">{diff > 0 ? "▲ " : "▼ "}</span>
      {diff > 0 ? "+" : "−"}
      {Math.abs(diff).toFixed(3)}
      <span className="sr-only">{diff > 0 ? " (B higher)" : " (A higher)"}</span>
    </span>
  );
}

/** Two bars per score, A above B, on the same 0–1 scale (A solid, B striped: not colour alone). */
function Bars({ a, b }: { a: number | null | undefined; b: number | null | undefined }) {
  const width = (v: number | null | undefined) => `${Math.max(0, Math.min(1, v ?? 0)) * 100}%`;
  return (
    <div className="flex min-w-[10rem] flex-col gap-1" aria-hidden="true">
      <span className="relative h-2.5 overflow-hidden rounded bg-raised">
        <span className="absolute inset-y-0 left-0 rounded bg-accent" style={{ width: width(a) }} />
      </span>
      <span className="relative h-2.5 overflow-hidden rounded bg-raised">
        <span
          className="absolute inset-y-0 left-0 rounded bg-warn"
          style={{
            width: width(b),
            backgroundImage: "repeating-linear-gradient(45deg, transparent 0 3px, rgba(255,255,255,.45) 3px 6px)",
          }}
        />
      </span>
    </div>
  );
}

/** Per-scorer scores of both runs overlaid, with the difference (B − A). */
export function ScoreOverlay({ a, b }: { a: RunDetail; b: RunDetail }) {
  const names = [...new Set([...Object.keys(a.scores ?? {}), ...Object.keys(b.scores ?? {})])].sort();
  const rows: [string, number | null | undefined, number | null | undefined][] = [
    ["weighted score", a.weighted_score, b.weighted_score],
    ...names.map((n) => [n, a.scores?.[n], b.scores?.[n]] as [string, number | undefined, number | undefined]),
  ];
  return (
    <Card data-testid="compare-scores">
      <CardHeader
        title="Scores"
        description={
          <span className="flex flex-wrap items-center gap-3">
            <span className="inline-flex items-center gap-1">
              <span className="inline-block h-2.5 w-5 rounded bg-accent" aria-hidden="true" /> A (top bar)
            </span>
            <span className="inline-flex items-center gap-1">
              <span
                className="inline-block h-2.5 w-5 rounded bg-warn"
                aria-hidden="true"
                style={{ backgroundImage: "repeating-linear-gradient(45deg, transparent 0 3px, rgba(255,255,255,.45) 3px 6px)" }}
              />{" "}
              B (bottom, striped)
            </span>
          </span>
        }
      />
      <CardBody className="overflow-x-auto p-0">
        <table className="w-full text-sm">
          <thead>
            <tr className="border-b border-line text-left text-xs text-muted">
              <th className="px-4 py-2 font-medium">Score</th>
              <th className="px-2 py-2 text-right font-medium">A</th>
              <th className="px-2 py-2 text-right font-medium">B</th>
              <th className="px-2 py-2 font-medium">
                <span className="sr-only">Bars</span>
              </th>
              <th className="px-4 py-2 font-medium">B − A</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([name, va, vb], i) => (
              <tr key={name} className={`border-b border-line ${i === 0 ? "font-semibold" : ""}`} data-testid={`compare-score-${name.replace(/ /g, "_")}`}>
                <td className="px-4 py-2 font-mono">{name}</td>
                <td className="num px-2 py-2 text-right">{formatScore(va)}</td>
                <td className="num px-2 py-2 text-right">{formatScore(vb)}</td>
                <td className="px-2 py-2">
                  <Bars a={va} b={vb} />
                </td>
                <td className="num px-4 py-2">
                  <Delta a={va} b={vb} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </CardBody>
    </Card>
  );
}
