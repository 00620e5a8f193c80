import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState, type FormEvent } from "react";

import type { Experiment, SweepEstimate, SweepEstimateIn } from "../../api/client";
import { useStartSweep, useSweepEstimate } from "../../api/queries/sweeps";
import { formatCost, formatInt, formatTokens, pluralize } from "../../lib/format";
import { Button, Card, CardBody, CardHeader, Checkbox, ErrorMessage, Field, Input, Select } from "../ui";
import { emptyRewrite, RewriteFields, rewriteOptions } from "./RewriteFields";

type SweepType = "grid" | "random" | "guided";

const TYPE_HINTS: Record<SweepType, string> = {
  grid: "Every combination of the parameter space (ranges expand by their step).",
  random: "Random draws from the parameter space, up to the run cap.",
  guided: "Bayesian search (Optuna TPE): each wave of runs is chosen from the scores so far, up to the run cap.",
};

const GUIDED_DEFAULT_RUNS = 30; // the server's default max_runs for a guided sweep
const GUIDED_N_STARTUP = 8; // the server's default random runs before TPE

const EARLY_STOPPING_HINT =
  "Successive halving: every configuration first runs on the first N samples; only the best 1/eta go on with eta× more, until the survivors have seen every sample.";

/** With early stopping: the LLM stage calls best case (as the rungs prune) and worst case (no pruning). */
export function describeHalving(e: SweepEstimate): string | null {
  const halving = e.early_stopping;
  if (!halving) return null;
  const rungs = halving.rungs.length > 1 ? ` (rungs of ${halving.rungs.join(" → ")} samples)` : " (min samples cover every sample: nothing to prune)";
  return `early stopping: ${formatInt(halving.llm_calls_best)} LLM calls best case, ${formatInt(halving.llm_calls_worst)} worst case${rungs}`;
}

/** One line: runs, calls (stage and scorer), tokens, and the cost still to pay once the cache answered its part. */
export function describeEstimate(e: SweepEstimate): string {
  const llm = e.llm_calls ?? e.calls;
  const scorer = e.scorer_calls ?? 0;
  const cached = e.cached_calls ?? 0;
  const calls = scorer > 0 ? `${formatInt(e.calls)} calls (${formatInt(llm)} LLM + ${formatInt(scorer)} scorer)` : `${formatInt(e.calls)} LLM calls`;
  const parts = [`${formatInt(e.runs)} runs`, calls, `~${formatTokens(e.tokens_in + e.tokens_out)} tokens`];
  if (cached > 0) parts.push(`${formatInt(cached)} already cached`);
  if (!e.priced) parts.push("cost unknown (no pricing)");
  else if (cached > 0) parts.push(`~${formatCost(e.cost_usd_uncached ?? e.cost)} to pay (of ~${formatCost(e.cost)})`);
  else parts.push(`~${formatCost(e.cost)}`);
  return parts.join(" · ");
}

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setDebounced(value), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

const optionalInt = (text: string): number | null => {
  if (text.trim() === "") return null;
  const value = Number(text);
  return Number.isFinite(value) ? Math.trunc(value) : null;
};

/** The sweep's `early_stopping` option (null: off); the server refuses values out of range, so clamp. */
const halvingOf = (on: boolean, minSamples: string, eta: string) =>
  on ? { min_samples: Math.max(1, optionalInt(minSamples) ?? 4), eta: Math.max(2, optionalInt(eta) ?? 3) } : null;

/** Start a grid, random or guided sweep, with an estimate of what it will cost before it starts. */
export function StartSweepForm({ experiment, disabled }: { experiment: Experiment; disabled?: boolean }) {
  const [type, setType] = useState<SweepType>("grid");
  const [maxRuns, setMaxRuns] = useState("");
  const [repeats, setRepeats] = useState("1");
  const [concurrency, setConcurrency] = useState("");
  const [seed, setSeed] = useState("");
  const [maxTokens, setMaxTokens] = useState("");
  const [maxCost, setMaxCost] = useState("");
  const [earlyStopping, setEarlyStopping] = useState(false);
  const [minSamples, setMinSamples] = useState("4");
  const [eta, setEta] = useState("3");
  const [rewriting, setRewriting] = useState(false);
  const [rewrite, setRewrite] = useState(() => emptyRewrite(experiment));
  const start = useStartSweep(experiment.id);
  // Estimating a huge grid costs the server real time: wait until the form is used.
  const [touched, setTouched] = useState(false);
  const autoEstimate = (experiment.grid_size ?? 0) <= 2000;
  const needsCap = type === "random";

  const estimateBody = useMemo<SweepEstimateIn | null>(() => {
    if (needsCap && !optionalInt(maxRuns)) return null;
    const halving = halvingOf(earlyStopping, minSamples, eta);
    // A guided sweep makes at most max_runs distinct configurations: estimated as that many random draws.
    return {
      type: type === "guided" ? "random" : type,
      max_runs: type === "guided" ? (optionalInt(maxRuns) ?? GUIDED_DEFAULT_RUNS) : optionalInt(maxRuns),
      repeats: Math.max(1, optionalInt(repeats) ?? 1),
      seed: optionalInt(seed),
      // A guided sweep halves each wave (its concurrency) on its own.
      ...(halving ? { early_stopping: halving, halving_batch: type === "guided" ? optionalInt(concurrency) : null } : {}),
      document: {
        name: experiment.name,
        project_id: experiment.project_id,
        sample_data: experiment.sample_data as SweepEstimateIn["document"]["sample_data"],
        pipeline_stages: experiment.pipeline_stages as SweepEstimateIn["document"]["pipeline_stages"],
        scoring_config: experiment.scoring_config as SweepEstimateIn["document"]["scoring_config"],
        parameter_space: experiment.parameter_space as SweepEstimateIn["document"]["parameter_space"],
      },
    };
  }, [experiment, type, maxRuns, repeats, seed, needsCap, earlyStopping, minSamples, eta, concurrency]);
  const estimate = useSweepEstimate(useDebounced(estimateBody, 400), { enabled: touched || autoEstimate });
  // What is already cached changes as runs finish: estimate again when the experiment's runs change.
  const queryClient = useQueryClient();
  useEffect(() => {
    void queryClient.invalidateQueries({ queryKey: ["sweeps", "estimate"] });
  }, [queryClient, experiment.status, experiment.run_count]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const halving = halvingOf(earlyStopping, minSamples, eta);
    start.mutate({
      type,
      max_runs: optionalInt(maxRuns),
      repeats: Math.max(1, optionalInt(repeats) ?? 1),
      concurrency: optionalInt(concurrency),
      seed: optionalInt(seed),
      budget: { max_tokens: optionalInt(maxTokens) ?? 0, max_cost_usd: maxCost.trim() ? Number(maxCost) || 0 : 0 },
      ...(halving ? { early_stopping: halving } : {}),
      ...(type === "guided" && rewriting ? { guided: { n_startup: GUIDED_N_STARTUP, rewrite: rewriteOptions(rewrite) } } : {}),
    });
  };

  return (
    <Card>
      <CardHeader
        title="Start a sweep"
        description={
          experiment.grid_size != null
            ? `The parameter space has ${pluralize(experiment.grid_size, "grid combination")}.`
            : "Run the parameter space against every sample."
        }
      />
      <CardBody>
        <form onSubmit={submit} onFocus={() => setTouched(true)} className="grid gap-4 sm:grid-cols-2 lg:grid-cols-4" aria-label="Start a sweep" data-testid="start-sweep-form">
          <Field label="Strategy" hint={TYPE_HINTS[type]} className="sm:col-span-2">
            <Select value={type} onChange={(e) => setType(e.target.value as SweepType)} data-testid="sweep-type">
              <option value="grid">Grid (every combination)</option>
              <option value="random">Random</option>
              <option value="guided">Guided (learns from results)</option>
            </Select>
          </Field>
          <Field
            label="Max runs"
            hint={needsCap ? "Required for random sweeps." : type === "guided" ? `Configurations to try (default ${GUIDED_DEFAULT_RUNS}).` : "Optional cap on the grid."}
          >
            <Input
              type="number"
              min={1}
              inputMode="numeric"
              value={maxRuns}
              onChange={(e) => setMaxRuns(e.target.value)}
              required={needsCap}
              data-testid="sweep-max-runs"
            />
          </Field>
          <Field label="Repeats" hint="Run each configuration N times.">
            <Input type="number" min={1} max={100} value={repeats} onChange={(e) => setRepeats(e.target.value)} data-testid="sweep-repeats" />
          </Field>
          <Field label="Concurrency" hint="LLM calls in flight (default: the server's).">
            <Input type="number" min={1} value={concurrency} onChange={(e) => setConcurrency(e.target.value)} />
          </Field>
          <Field label="Seed" hint="For reproducible random draws.">
            <Input type="number" value={seed} onChange={(e) => setSeed(e.target.value)} />
          </Field>
          <Field label="Token budget" hint="Pause after this many paid tokens (0 or empty: none).">
            <Input type="number" min={0} value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
          </Field>
          <Field label="Cost budget (USD)" hint="Pause after this much is spent (cache hits cost nothing).">
            <Input type="number" min={0} step="0.01" value={maxCost} onChange={(e) => setMaxCost(e.target.value)} />
          </Field>
          <div className="sm:col-span-2 lg:col-span-4">
            <Checkbox
              label="Early stopping"
              checked={earlyStopping}
              onChange={(e) => setEarlyStopping(e.target.checked)}
              data-testid="sweep-early-stopping"
            />
            <p className="mt-1 text-xs text-muted">{EARLY_STOPPING_HINT}</p>
          </div>
          {earlyStopping && (
            <>
              <Field label="Min samples" hint="Samples every configuration runs on first.">
                <Input type="number" min={1} value={minSamples} onChange={(e) => setMinSamples(e.target.value)} data-testid="sweep-min-samples" />
              </Field>
              <Field label="Eta" hint="Keep the best 1/eta of each rung (at least 2).">
                <Input type="number" min={2} max={100} value={eta} onChange={(e) => setEta(e.target.value)} data-testid="sweep-eta" />
              </Field>
            </>
          )}
          {type === "guided" && (
            <Checkbox
              className="sm:col-span-2 lg:col-span-4"
              label="Propose prompt rewrites with an optimizer model (they wait for your approval)"
              checked={rewriting}
              onChange={(e) => setRewriting(e.target.checked)}
              data-testid="rewrite-toggle"
            />
          )}
          {type === "guided" && rewriting && <RewriteFields experiment={experiment} draft={rewrite} onChange={setRewrite} />}
          <div className="flex flex-wrap items-center gap-3 sm:col-span-2 lg:col-span-4">
            <Button type="submit" variant="primary" loading={start.isPending} disabled={disabled} data-testid="start-sweep">
              Start sweep
            </Button>
            <p className="num min-h-5 text-sm text-muted" aria-live="polite" data-testid="sweep-estimate">
              {estimate.data
                ? [(type === "guided" ? "At most: " : "") + describeEstimate(estimate.data), describeHalving(estimate.data)].filter(Boolean).join(" · ")
                : estimate.isFetching
                  ? "Estimating…"
                  : needsCap && !optionalInt(maxRuns)
                    ? "Set a run cap to see the estimate."
                    : !touched && !autoEstimate
                      ? "Change an option to see what the sweep will cost."
                      : ""}
            </p>
          </div>
        </form>
        <ErrorMessage error={start.error} className="mt-3" />
      </CardBody>
    </Card>
  );
}
