import { useEffect, useMemo, useState } from "react";

import type { SweepEstimateIn } from "../../api/client";
import { isApiError } from "../../api/errors";
import { useSweepEstimate } from "../../api/queries/sweeps";
import { cleanDocument, type ExperimentDocument } from "../../lib/documentYaml";
import { estimateLocal, type SweepType } from "../../lib/estimate";
import { formatCost, formatInt, formatTokens } from "../../lib/format";
import { Badge } from "../ui/Badge";
import { Card, CardBody, CardHeader } from "../ui/Card";
import { Select } from "../ui/Field";
import { Spinner } from "../ui/Spinner";
import { describePath, locPath } from "./fieldErrors";
import { NumberInput } from "./NumberInput";

/** The value, once it has stopped changing for `delay` ms. */
export function useDebounced<T>(value: T, delay: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), delay);
    return () => window.clearTimeout(timer);
  }, [value, delay]);
  return settled;
}

interface Props {
  doc: ExperimentDocument;
  sweepType: SweepType;
  maxRuns: number | null;
  onSweepType: (type: SweepType) => void;
  onMaxRuns: (maxRuns: number | null) => void;
}

function estimateBody(doc: ExperimentDocument, type: SweepType, maxRuns: number | null): SweepEstimateIn | null {
  if (doc.pipeline_stages.length === 0) return null;
  // The name does not change the estimate; an unnamed draft still gets one.
  const cleaned = cleanDocument({ ...doc, name: doc.name.trim() || "untitled" });
  const document = cleaned as unknown as SweepEstimateIn["document"];
  return { document, type, max_runs: maxRuns, repeats: 1 };
}

/**
 * What the sweep will make: runs, LLM calls, tokens and cost. The server's estimate (debounced)
 * is shown when it has answered for the current document; the browser's count fills in meanwhile.
 */
export function EstimatePanel({ doc, sweepType, maxRuns, onSweepType, onMaxRuns }: Props) {
  const local = useMemo(() => estimateLocal(doc, sweepType, maxRuns), [doc, sweepType, maxRuns]);
  const body = useMemo(() => estimateBody(doc, sweepType, maxRuns), [doc, sweepType, maxRuns]);
  const bodyKey = JSON.stringify(body);
  const settledKey = useDebounced(bodyKey, 300);
  const settledBody = useMemo(() => (settledKey ? (JSON.parse(settledKey) as SweepEstimateIn | null) : null), [settledKey]);
  const server = useSweepEstimate(settledBody);
  const fresh = settledKey === bodyKey && !server.isPlaceholderData && !server.isFetching;
  const serverAnswer = server.data && !server.isError ? server.data : null;
  const useServer = !!serverAnswer && fresh;
  const shown = useServer ? serverAnswer : { ...local };
  // The server counts scorer calls (llm_judge, embeddings) too, and what the cache already holds.
  const scorerCalls = useServer ? (serverAnswer.scorer_calls ?? 0) : 0;
  const stageCalls = useServer ? (serverAnswer.llm_calls ?? shown.calls - scorerCalls) : shown.calls;
  const cachedCalls = useServer ? (serverAnswer.cached_calls ?? 0) : 0;
  const unavailable = server.isError && (isApiError(server.error, 404) || isApiError(server.error, 405) || !isApiError(server.error));
  const computing = settledKey !== bodyKey || server.isFetching;
  // The server's problems are about the document it was sent: hide them while a newer one is estimated,
  // or a fixed field keeps showing its old error (e.g. "has no model" after the model was typed).
  const problems = server.isError && isApiError(server.error, 422) && !computing ? server.error.fields : [];
  const otherError = server.isError && !unavailable && !computing && problems.length === 0 ? server.error : null;

  return (
    <Card data-testid="estimate-panel" className="lg:sticky lg:top-4">
      <CardHeader
        title="This sweep will make"
        actions={
          <Badge tone={useServer ? "good" : "neutral"}>
            <span data-testid="estimate-source">{useServer ? "server" : "local"}</span>
          </Badge>
        }
      />
      <CardBody className="space-y-3">
        <div className="grid grid-cols-2 gap-2">
          <label className="flex flex-col gap-1 text-xs text-muted">
            Sweep type
            <Select
              data-testid="estimate-sweep-type"
              value={sweepType}
              onChange={(e) => onSweepType(e.target.value as SweepType)}
              className="h-8"
            >
              <option value="grid">grid</option>
              <option value="random">random</option>
            </Select>
          </label>
          <label className="flex flex-col gap-1 text-xs text-muted">
            Max runs
            <NumberInput
              data-testid="estimate-max-runs"
              value={maxRuns}
              placeholder={sweepType === "random" ? "20" : "all"}
              onValue={(value) => onMaxRuns(value && value > 0 ? Math.round(value) : null)}
              className="h-8"
            />
          </label>
        </div>
        <dl className="grid grid-cols-2 gap-x-3 gap-y-2" aria-live="polite" aria-busy={computing}>
          <Stat label="Runs" testId="estimate-runs" value={formatInt(shown.runs)} />
          <Stat label={scorerCalls > 0 ? "Calls (with scorers)" : "LLM calls"} testId="estimate-calls" value={formatInt(shown.calls)} />
          <Stat label="Tokens in" testId="estimate-tokens-in" value={`~${formatTokens(shown.tokens_in)}`} />
          <Stat label="Tokens out (max)" testId="estimate-tokens-out" value={`~${formatTokens(shown.tokens_out)}`} />
          <Stat
            label="Estimated cost"
            testId="estimate-cost"
            value={useServer ? formatCost(shown.cost) : "—"}
            wide
          />
          {cachedCalls > 0 && (
            <Stat
              label={`Still to pay (${formatInt(cachedCalls)} calls already cached)`}
              testId="estimate-uncached"
              value={formatCost(serverAnswer?.cost_usd_uncached ?? shown.cost)}
              wide
            />
          )}
        </dl>
        <p className="text-xs text-muted num" data-testid="estimate-formula">
          {formatInt(shown.runs)} run{shown.runs === 1 ? "" : "s"} × {formatInt(shown.samples)} sample
          {shown.samples === 1 ? "" : "s"} × {formatInt(shown.stages)} stage{shown.stages === 1 ? "" : "s"} ={" "}
          {formatInt(stageCalls)} calls
          {scorerCalls > 0 ? `, plus ${formatInt(scorerCalls)} scorer calls (llm_judge, embeddings)` : ""}
          {sweepType === "grid" && !useServer && local.combinations !== local.runs && local.problems.length === 0
            ? ` (the grid has ${formatInt(local.combinations)} combinations)`
            : ""}
          .
        </p>
        {useServer && !serverAnswer.priced && (
          <p className="text-xs text-warn">Some models have no price on their endpoint, so the cost leaves them out.</p>
        )}
        {!useServer && !computing && !unavailable && problems.length === 0 && !otherError && (
          <p className="text-xs text-muted">Counted in the browser; tokens are a rough guess (4 characters a token).</p>
        )}
        {computing && (
          <p className="flex items-center gap-2 text-xs text-muted">
            <Spinner label="Estimating" /> Asking the server…
          </p>
        )}
        {unavailable && <p className="text-xs text-muted">The server estimate is unavailable; counted in the browser.</p>}
        {local.problems.length > 0 && (
          <ul className="space-y-0.5 text-xs text-bad">
            {local.problems.map((p) => (
              <li key={p.key}>
                <span className="font-mono">{p.key}</span>: {p.message}
              </li>
            ))}
          </ul>
        )}
        {problems.length > 0 && (
          <div data-testid="estimate-problems" className="text-xs">
            <p className="font-medium text-bad">Fix these before the sweep can run:</p>
            <ul className="mt-1 space-y-1">
              {problems.map((problem, i) => (
                <li key={i}>
                  <span className="font-medium">{describePath(locPath(problem.loc))}</span>:{" "}
                  {(problem.msg ?? "").replace(/^Value error, /, "")}
                </li>
              ))}
            </ul>
          </div>
        )}
        {otherError && (
          <p className="text-xs text-bad" data-testid="estimate-error">
            {(otherError as Error).message}
          </p>
        )}
      </CardBody>
    </Card>
  );
}

function Stat({ label, value, testId, wide = false }: { label: string; value: string; testId: string; wide?: boolean }) {
  return (
    <div className={wide ? "col-span-2" : ""}>
      <dt className="text-xs text-muted">{label}</dt>
      <dd className="num text-lg font-semibold" data-testid={testId}>
        {value}
      </dd>
    </div>
  );
}
