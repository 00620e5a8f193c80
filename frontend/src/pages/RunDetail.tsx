// One run: its configuration, scores, every stage's prompt and response per sample, and human rating.
import { useMemo } from "react";
import { useParams } from "react-router-dom";

import type { RunDetail } from "../api/client";
import { useMe } from "../api/queries/auth";
import { useEndpoints } from "../api/queries/endpoints";
import { useProject } from "../api/queries/projects";
import { useExperiment } from "../api/queries/experiments";
import { useRun, useSetRunRejected } from "../api/queries/runs";
import { HumanRating } from "../components/run/HumanRating";
import { groupBySample, perSampleScores } from "../components/run/runData";
import { SampleResultsList, type SampleInfo } from "../components/run/SampleResults";
import { ScoresTable } from "../components/run/ScoresTable";
import { isApiError } from "../api/errors";
import { ApproveButton } from "../components/steering/ApproveButton";
import { ForkButton } from "../components/steering/ForkButton";
import { Badge, Button, ButtonLink, Card, CardBody, CardHeader, EmptyState, ErrorMessage, PageHeader, PageLoading, StatusBadge } from "../components/ui";
import type { SampleDoc, ScorerDoc } from "../lib/documentYaml";
import { formatCost, formatDateTime, formatDurationMs, formatInt, formatPercent, formatScore, formatValue, shortId } from "../lib/format";
import { formatInterval, versusBestSentence } from "../lib/stats";

export default function RunDetailPage() {
  const { runId } = useParams();
  const run = useRun(runId);
  if (run.isPending) return <PageLoading label="Loading the run" />;
  if (run.isError) {
    // A run that does not exist will not appear by retrying: say so and offer the way back.
    if (isApiError(run.error) && run.error.status === 404) {
      return (
        <div data-testid="run-missing">
          <EmptyState
            title="This run does not exist"
            description="It may have been deleted with its experiment, or the link is mistyped."
            action={<ButtonLink to="/projects">Go to the projects</ButtonLink>}
          />
        </div>
      );
    }
    return <ErrorMessage error={run.error} title="Could not load the run" onRetry={() => void run.refetch()} />;
  }
  return <RunView run={run.data} />;
}

/** What to do about a run's error, from the words the adapters and the runner use. */
export function fixForRunError(error: string): string {
  const e = error.toLowerCase();
  if (/connect|refused|unreachable|name or service|getaddrinfo|nodename|network/.test(e))
    return "The endpoint could not be reached: check its base URL in Admin › LLM endpoints and use Test there, then start the sweep again.";
  if (/401|403|unauthori[sz]ed|forbidden|api key|invalid_api_key/.test(e))
    return "The endpoint refused the credentials: set the endpoint's API key in Admin › LLM endpoints, then start the sweep again.";
  if (/404|not found|does not exist|unknown model|model_not_found/.test(e))
    return "The endpoint does not know that model (or path): pick a model the endpoint lists (Admin › Test shows them) in the builder.";
  if (/timed? ?out|timeout/.test(e))
    return "The endpoint took too long: raise the endpoint's timeout or lower the sweep's concurrency, then start the sweep again.";
  if (/429|rate limit|too many/.test(e)) return "The endpoint is rate-limiting: lower the sweep's concurrency or the endpoint's max concurrency.";
  if (/template|undefined|jinja|variable/.test(e))
    return "A prompt template refers to something the sample does not have: fix the template in the builder (unknown names are flagged as you type).";
  if (/context length|maximum context|too long|max_tokens/.test(e))
    return "The prompt is longer than the model accepts: shorten the template or the samples, or lower max_tokens.";
  return "Open the experiment's builder to check the stage's endpoint, model and template, then start the sweep again.";
}

function RunView({ run }: { run: RunDetail }) {
  const experiment = useExperiment(run.experiment_id);
  const project = useProject(experiment.data?.project_id);
  const me = useMe();
  const reject = useSetRunRejected(run.id);
  const sampleData = experiment.data?.sample_data as SampleDoc[] | undefined;
  const scoring = (experiment.data?.scoring_config ?? []) as unknown as ScorerDoc[];
  const samples = useMemo(() => new Map<string, SampleInfo>((sampleData ?? []).map((s) => [s.id, s])), [sampleData]);
  const groups = useMemo(() => groupBySample(run.stage_results, [...samples.keys()]), [run.stage_results, samples]);
  const perSample = useMemo(() => perSampleScores(run.score_details), [run.score_details]);
  const readOnly = me.data?.role === "guest";
  const cacheRate = run.llm_calls > 0 ? run.cache_hits / run.llm_calls : null;

  return (
    <>
      <PageHeader
        title={
          <span className="flex items-center gap-3">
            Run <span className="font-mono">{shortId(run.id)}</span>
            <StatusBadge status={run.status} />
            {run.partial && (
              <Badge>
                <span data-testid="run-samples-evaluated" title="Early stopping: the scores cover these samples only">
                  {run.status === "pruned" ? "pruned after" : "so far"} {run.samples_evaluated ?? "?"} samples
                </span>
              </Badge>
            )}
            {run.rejected && (
              <Badge tone="bad">
                <span data-testid="run-rejected-badge">rejected</span>
              </Badge>
            )}
          </span>
        }
        crumbs={[
          { label: "Projects", to: "/projects" },
          ...(experiment.data
            ? [{ label: project.data?.name ?? "Project", to: `/projects/${experiment.data.project_id}` }]
            : []),
          ...(experiment.data ? [{ label: experiment.data.name, to: `/experiments/${run.experiment_id}` }] : []),
          { label: `Run ${shortId(run.id)}` },
        ]}
        actions={
          <>
            <ButtonLink to={`/compare?a=${run.id}`} data-testid="run-compare">
              Compare with another run
            </ButtonLink>
            {!readOnly && experiment.data && (
              <ForkButton experimentId={run.experiment_id} experimentName={experiment.data.name} runId={run.id} />
            )}
            {!readOnly && (
              <ApproveButton runId={run.id} defaultName={experiment.data?.name ?? "Approved configuration"}
                disabled={run.rejected || !(run.status === "completed" || run.status === "cached")} />
            )}
            {!readOnly && (
              <Button
                variant="ghost"
                className={run.rejected ? undefined : "text-bad"}
                loading={reject.isPending}
                onClick={() => reject.mutate(!run.rejected)}
                data-testid="run-reject"
                aria-pressed={run.rejected}
                title="Rejected runs leave the leaderboard and are never exported as the best config."
              >
                {run.rejected ? "Take back rejection" : "Reject run"}
              </Button>
            )}
          </>
        }
      />
      <div className="space-y-6">
        <ErrorMessage error={reject.error} title="Could not change the rejection" />
        {run.error && (
          <ErrorMessage error={run.error} title="The run failed" className="text-base">
            <p className="mt-1 text-sm" data-testid="run-error-fix">
              <strong>How to fix it:</strong> {fixForRunError(run.error)}
            </p>
          </ErrorMessage>
        )}
        <Summary run={run} cacheRate={cacheRate} />
        <div className="grid gap-6 xl:grid-cols-2">
          <ScoresTable run={run} scoring={scoring} />
          <HumanRating run={run} readOnly={readOnly} counted={scoring.some((s) => s.scorer === "human_rating")} />
        </div>
        <ConfigCard config={run.config} />
        {groups.length === 0 && (run.status === "failed" || run.error) ? (
          <Card data-testid="run-no-outputs">
            <CardBody>
              <p className="text-sm">
                No sample produced an output: the run failed before its first answer. The error above says why.
              </p>
            </CardBody>
          </Card>
        ) : groups.length === 0 && (run.status === "pending" || run.status === "running") ? (
          <Card>
            <CardBody>
              <p className="text-sm text-muted">The run has not answered a sample yet: outputs appear here as it runs.</p>
            </CardBody>
          </Card>
        ) : (
          <SampleResultsList
            groups={groups}
            samples={samples}
            perSample={perSample}
            details={run.score_details}
            rating={{ runId: run.id, readOnly }}
          />
        )}
      </div>
    </>
  );
}

function Summary({ run, cacheRate }: { run: RunDetail; cacheRate: number | null }) {
  const items: [string, string, string][] = [
    ["Weighted score", formatScore(run.weighted_score), "summary-score"],
    ["95% interval", formatInterval(run), "summary-ci"],
    ["Tokens in / out", `${formatInt(run.tokens_in)} / ${formatInt(run.tokens_out)}`, "summary-tokens"],
    ["Cost", formatCost(run.cost_estimate), "summary-cost"],
    // What was paid: a cache hit costs nothing (the cost above is what the answers are worth).
    ["Spent", formatCost(run.cost_spent ?? run.cost_estimate), "summary-spent"],
    ["Duration", formatDurationMs(run.duration_ms), "summary-duration"],
    ["LLM calls paid", formatInt(run.llm_calls_paid ?? run.llm_calls - run.cache_hits), "summary-calls"],
    ["Cache hits", `${formatInt(run.cache_hits)}${cacheRate !== null ? ` (${formatPercent(cacheRate)})` : ""}`, "summary-cache"],
  ];
  return (
    <Card>
      <CardBody>
        <dl className="grid grid-cols-2 gap-4 sm:grid-cols-4 lg:grid-cols-8">
          {items.map(([label, value, testId]) => (
            <div key={label}>
              <dt className="text-xs text-muted">{label}</dt>
              <dd className="num text-lg font-semibold" data-testid={testId}>
                {value}
              </dd>
            </div>
          ))}
        </dl>
        <p className="mt-3 text-xs text-muted">
          Started {formatDateTime(run.started_at)} · completed {formatDateTime(run.completed_at)} · config{" "}
          <span className="font-mono">{run.config_hash.slice(0, 12)}</span>
          {run.repeat_index ? ` · repeat ${run.repeat_index}` : ""}
        </p>
        <p className="mt-1 text-xs text-muted" data-testid="summary-versus-best">
          {versusBestSentence(run, Object.keys(run.sample_scores ?? {}).length)}
        </p>
      </CardBody>
    </Card>
  );
}

interface StageConfig {
  name?: string;
  endpoint_id?: string | null;
  model?: string | null;
  system_prompt?: string | null;
  prompt_template?: string;
  params?: Record<string, unknown>;
}

function ConfigCard({ config }: { config: Record<string, unknown> }) {
  const endpoints = useEndpoints({ limit: 200, offset: 0 });
  const labels = new Map((endpoints.data?.items ?? []).map((e) => [e.id, e.label]));
  const stages = (Array.isArray(config.stages) ? config.stages : []) as StageConfig[];
  const vars = (config.vars ?? {}) as Record<string, unknown>;
  return (
    <Card data-testid="run-config">
      <CardHeader title="Configuration" description="The fully resolved config this run used." />
      <CardBody className="space-y-3">
        {stages.map((stage, i) => (
          <div key={i} className="rounded-md border border-line p-3 text-sm">
            <p className="font-semibold">
              Stage {i + 1}: {stage.name}
            </p>
            <dl className="mt-1 grid gap-x-4 gap-y-1 sm:grid-cols-[8rem_1fr]">
              <dt className="text-muted">model</dt>
              <dd className="font-mono">{stage.model ?? "—"}</dd>
              <dt className="text-muted">endpoint</dt>
              <dd>{stage.endpoint_id ? (labels.get(stage.endpoint_id) ?? stage.endpoint_id) : "default"}</dd>
              {Object.entries(stage.params ?? {}).map(([k, v]) => (
                <ConfigRow key={k} label={k} value={formatValue(v)} />
              ))}
            </dl>
            <details className="mt-2">
              <summary className="text-sm text-accent">Prompt templates</summary>
              {stage.system_prompt && (
                <pre className="mt-1 whitespace-pre-wrap break-words rounded bg-raised px-2 py-1 text-xs">{stage.system_prompt}</pre>
              )}
              <pre className="mt-1 whitespace-pre-wrap break-words rounded bg-raised px-2 py-1 text-xs">{stage.prompt_template}</pre>
            </details>
          </div>
        ))}
        {Object.keys(vars).length > 0 && (
          <p className="text-sm">
            <span className="text-muted">vars: </span>
            <span className="font-mono">
              {Object.entries(vars)
                .map(([k, v]) => `${k}=${formatValue(v)}`)
                .join(", ")}
            </span>
          </p>
        )}
      </CardBody>
    </Card>
  );
}

function ConfigRow({ label, value }: { label: string; value: string }) {
  return (
    <>
      <dt className="text-muted">{label}</dt>
      <dd className="font-mono">{value}</dd>
    </>
  );
}
