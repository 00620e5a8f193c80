/** Runs of a sweep as chart data: each swept parameter's value per run, grouped and summarised. */

const STAGE_FIELDS = ["endpoint_id", "model", "system_prompt", "prompt_template"];

export interface RunLike {
  id: string;
  config: Record<string, unknown>;
  status: string;
  weighted_score: number | null;
  scores?: Record<string, number>;
  rejected?: boolean;
}

interface StageConfig {
  name?: string;
  params?: Record<string, unknown>;
  [field: string]: unknown;
}

function stagesOf(config: Record<string, unknown>): StageConfig[] {
  return Array.isArray(config.stages) ? (config.stages as StageConfig[]) : [];
}

function stageIndex(stages: StageConfig[], ref: string): number {
  const byName = stages.findIndex((s) => s.name === ref);
  if (byName >= 0) return byName;
  return /^\d+$/.test(ref) && Number(ref) < stages.length ? Number(ref) : -1;
}

function read(stage: StageConfig | undefined, name: string): unknown {
  if (!stage) return undefined;
  return STAGE_FIELDS.includes(name) ? stage[name] : stage.params?.[name];
}

/**
 * The value a run's resolved config holds for a parameter_space key: `vars.x` from its vars,
 * `stages.<name-or-index>.<field>` from that stage, a bare key from the first stage no
 * stage-specific key of the same name overrides (stage keys beat bare keys).
 */
export function valueOf(config: Record<string, unknown>, key: string, allKeys: string[] = []): unknown {
  const parts = key.split(".");
  const stages = stagesOf(config);
  if (parts[0] === "vars" && parts.length === 2) {
    return (config.vars as Record<string, unknown> | undefined)?.[parts[1]];
  }
  if (parts[0] === "stages" && parts.length === 3) {
    return read(stages[stageIndex(stages, parts[1])], parts[2]);
  }
  const overridden = new Set(
    allKeys
      .map((k) => k.split("."))
      .filter((p) => p[0] === "stages" && p.length === 3 && p[2] === key)
      .map((p) => stageIndex(stages, p[1])),
  );
  const index = stages.findIndex((_, i) => !overridden.has(i));
  return read(stages[index >= 0 ? index : 0], key);
}

export interface AxisValue {
  /** Stable key for grouping (JSON of the value). */
  key: string;
  /** Short label for an axis. */
  label: string;
  /** The full value as text, for tooltips. */
  full: string;
  raw: unknown;
}

function text(value: unknown): string {
  if (value === undefined) return "(unset)";
  if (value === null) return "null";
  return typeof value === "string" ? value : JSON.stringify(value);
}

export interface SweptParameter {
  key: string;
  numeric: boolean;
  /** Distinct values, sorted (numbers ascending; texts in first-seen order, labelled #1, #2 when long). */
  values: AxisValue[];
  /** Per run (same order as the runs given), the index into `values`. */
  indexOf: number[];
}

const LONG = 24;

/** Describe one swept key over the runs. */
export function sweptParameter(runs: RunLike[], key: string, allKeys: string[]): SweptParameter {
  const raws = runs.map((run) => valueOf(run.config, key, allKeys));
  const numeric = raws.length > 0 && raws.every((v) => typeof v === "number");
  const byKey = new Map<string, unknown>();
  for (const value of raws) {
    const k = JSON.stringify(value ?? null);
    if (!byKey.has(k)) byKey.set(k, value);
  }
  let entries = [...byKey.entries()];
  if (numeric) entries = entries.sort((a, b) => (a[1] as number) - (b[1] as number));
  const anyLong = entries.some(([, v]) => text(v).length > LONG);
  const values = entries.map(([k, v], i) => {
    const full = text(v);
    const label = anyLong && !numeric ? `#${i + 1} ${shorten(full, 14)}` : full;
    return { key: k, label, full, raw: v };
  });
  const position = new Map(values.map((v, i) => [v.key, i]));
  return { key, numeric, values, indexOf: raws.map((v) => position.get(JSON.stringify(v ?? null)) ?? 0) };
}

export function shorten(value: string, max: number): string {
  const flat = value.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export interface BoxStats {
  min: number;
  q1: number;
  median: number;
  q3: number;
  max: number;
  mean: number;
  count: number;
}

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const base = Math.floor(pos);
  const rest = pos - base;
  return sorted[base + 1] !== undefined ? sorted[base] + rest * (sorted[base + 1] - sorted[base]) : sorted[base];
}

/** Five-number summary and mean (null for no values). */
export function boxStats(values: number[]): BoxStats | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return {
    min: sorted[0],
    q1: quantile(sorted, 0.25),
    median: quantile(sorted, 0.5),
    q3: quantile(sorted, 0.75),
    max: sorted[sorted.length - 1],
    mean,
    count: sorted.length,
  };
}

/** Counts of values in `bins` equal bins over [0, 1] (1.0 falls in the last bin). */
export function histogram(values: number[], bins = 20): { lower: number; upper: number; count: number }[] {
  const out = Array.from({ length: bins }, (_, i) => ({ lower: i / bins, upper: (i + 1) / bins, count: 0 }));
  for (const value of values) {
    if (!Number.isFinite(value)) continue;
    const index = Math.min(bins - 1, Math.max(0, Math.floor(value * bins)));
    out[index].count++;
  }
  return out;
}

/** The score to chart for a run: the weighted score, or one named score. */
export function scoreOf(run: RunLike, metric: string): number | null {
  if (metric === "weighted_score") return run.weighted_score;
  const value = run.scores?.[metric];
  return typeof value === "number" ? value : null;
}

/** Runs that finished with a score for this metric. */
export function scoredRuns(runs: RunLike[], metric: string): RunLike[] {
  return runs.filter((r) => (r.status === "completed" || r.status === "cached") && scoreOf(r, metric) !== null);
}
