import { useMemo, useState } from "react";

import type { RunDetail } from "../../api/client";
import { wordDiff } from "../../lib/diff";
import { formatScore } from "../../lib/format";
import { perSampleScores, type StageResult } from "../run/runData";
import { Badge } from "../ui/Badge";
import { Card, CardBody, CardHeader } from "../ui/Card";
import { Checkbox, Select } from "../ui/Field";
import { Pager } from "../ui/Pager";
import { CompareRating } from "./CompareRating";
import { DiffLegend, DiffText } from "./DiffText";

const PAGE = 20;
const FINAL = -1;

interface Pair {
  sampleId: string;
  a: StageResult | undefined;
  b: StageResult | undefined;
}

function pick(results: StageResult[], sampleId: string, stage: number): StageResult | undefined {
  const mine = results.filter((r) => r.sample_id === sampleId);
  if (stage !== FINAL) return mine.find((r) => r.stage_index === stage);
  return mine.reduce<StageResult | undefined>((best, r) => (!best || r.stage_index > best.stage_index ? r : best), undefined);
}

/** Each sample's output in A and B, word-diffed (final stage by default, or any stage). */
export function OutputDiffs({ a, b, order, inputs }: { a: RunDetail; b: RunDetail; order: string[]; inputs: Map<string, string> }) {
  const [stage, setStage] = useState(FINAL);
  const [onlyChanged, setOnlyChanged] = useState(false);
  const [page, setPage] = useState(0);
  const stageNames = useMemo(() => {
    const names = new Map<number, string>();
    for (const r of [...a.stage_results, ...b.stage_results]) if (!names.has(r.stage_index)) names.set(r.stage_index, r.stage_name);
    return [...names.entries()].sort((x, y) => x[0] - y[0]);
  }, [a, b]);
  const scoresA = useMemo(() => perSampleScores(a.score_details), [a]);
  const scoresB = useMemo(() => perSampleScores(b.score_details), [b]);
  const pairs: (Pair & { identical: boolean })[] = useMemo(() => {
    const ids = [...new Set([...order, ...a.stage_results.map((r) => r.sample_id), ...b.stage_results.map((r) => r.sample_id)])];
    return ids
      .map((sampleId) => {
        const ra = pick(a.stage_results, sampleId, stage);
        const rb = pick(b.stage_results, sampleId, stage);
        return { sampleId, a: ra, b: rb, identical: (ra?.response_raw ?? null) === (rb?.response_raw ?? null) };
      })
      .filter((p) => p.a || p.b);
  }, [a, b, order, stage]);
  const shown = onlyChanged ? pairs.filter((p) => !p.identical) : pairs;
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  const current = Math.min(page, pages - 1);
  const identical = pairs.filter((p) => p.identical).length;

  return (
    <Card data-testid="compare-outputs">
      <CardHeader
        title="Outputs per sample"
        description={`${pairs.length - identical} of ${pairs.length} sample${pairs.length === 1 ? "" : "s"} differ.`}
        actions={
          <>
            {stageNames.length > 1 && (
              <Select
                aria-label="Stage to compare"
                value={stage}
                onChange={(e) => {
                  setStage(Number(e.target.value));
                  setPage(0);
                }}
                className="h-8 max-w-48"
                data-testid="compare-stage"
              >
                <option value={FINAL}>Final output</option>
                {stageNames.map(([index, name]) => (
                  <option key={index} value={index}>
                    Stage {index + 1}: {name}
                  </option>
                ))}
              </Select>
            )}
            <Checkbox
              label="Only samples that differ"
              checked={onlyChanged}
              onChange={(e) => {
                setOnlyChanged(e.target.checked);
                setPage(0);
              }}
            />
          </>
        }
      />
      <CardBody className="space-y-4">
        <DiffLegend />
        {shown.slice(current * PAGE, current * PAGE + PAGE).map((pair) => (
          <SampleDiff
            key={pair.sampleId}
            pair={pair}
            identical={pair.identical}
            input={inputs.get(pair.sampleId)}
            scoreA={scoresA[pair.sampleId]}
            scoreB={scoresB[pair.sampleId]}
            runIds={{ a: a.id, b: b.id }}
          />
        ))}
        {shown.length === 0 && <p className="text-sm text-muted">Every sample has the same output in both runs.</p>}
        <Pager page={current} pageSize={PAGE} total={shown.length} onPage={setPage} label="Sample pages" className="justify-end text-sm" />
      </CardBody>
    </Card>
  );
}

function scoreLine(scores: Record<string, number> | undefined): string {
  return Object.entries(scores ?? {})
    .map(([k, v]) => `${k} ${formatScore(v)}`)
    .join(" · ");
}

function SampleDiff({
  pair,
  identical,
  input,
  scoreA,
  scoreB,
  runIds,
}: {
  runIds?: { a: string; b: string };
  pair: Pair;
  identical: boolean;
  input: string | undefined;
  scoreA: Record<string, number> | undefined;
  scoreB: Record<string, number> | undefined;
}) {
  const diff = useMemo(() => wordDiff(pair.a?.response_raw, pair.b?.response_raw), [pair]);
  return (
    <section className="rounded-md border border-line" data-testid={`diff-${pair.sampleId}`} aria-label={`Sample ${pair.sampleId}`}>
      <header className="flex flex-wrap items-center gap-x-3 gap-y-1 border-b border-line px-3 py-1.5 text-sm">
        <span className="font-mono font-semibold">{pair.sampleId}</span>
        {identical ? (
          <Badge>identical</Badge>
        ) : (
          <Badge tone="warn">
            <span className="num">
              −{diff.deleted} / +{diff.inserted} words
            </span>
          </Badge>
        )}
        {input && <span className="min-w-0 flex-1 truncate text-muted">{input}</span>}
      </header>
      <div className="grid gap-0 md:grid-cols-2 md:divide-x md:divide-line">
        <div className="p-3">
          <p className="mb-1 text-xs text-muted">
            A{scoreA ? ` · ${scoreLine(scoreA)}` : ""}
            {pair.a?.error ? " · failed" : ""}
          </p>
          <div className="text-sm" data-testid={`diff-${pair.sampleId}-a`}>
            {pair.a ? pair.a.error ? <span className="text-bad">{pair.a.error}</span> : <DiffText parts={diff.parts} side="a" /> : <span className="text-muted">(no result)</span>}
          </div>
          {pair.a && runIds && <CompareRating runId={runIds.a} sampleId={pair.sampleId} />}
        </div>
        <div className="border-t border-line p-3 md:border-t-0">
          <p className="mb-1 text-xs text-muted">
            B{scoreB ? ` · ${scoreLine(scoreB)}` : ""}
            {pair.b?.error ? " · failed" : ""}
          </p>
          <div className="text-sm" data-testid={`diff-${pair.sampleId}-b`}>
            {pair.b ? pair.b.error ? <span className="text-bad">{pair.b.error}</span> : <DiffText parts={diff.parts} side="b" /> : <span className="text-muted">(no result)</span>}
          </div>
          {pair.b && runIds && <CompareRating runId={runIds.b} sampleId={pair.sampleId} />}
        </div>
      </div>
    </section>
  );
}
