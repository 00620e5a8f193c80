/**
 * A client-side estimate of a sweep (runs, LLM calls, rough tokens), used until the server's
 * `POST /experiments/estimate` answers. Mirrors backend/engine/space.py for counting and
 * backend/engine/estimate.py for its token rules of thumb.
 */
import { isRange, type ExperimentDocument, type RangeDoc } from "./documentYaml";

export type SweepType = "grid" | "random";

export interface SweepEstimate {
  runs: number;
  calls: number;
  samples: number;
  stages: number;
  tokens_in: number;
  tokens_out: number;
  cost: number;
  priced: boolean;
}

export interface LocalEstimate extends SweepEstimate {
  /** The grid's combinations before identical configs are merged (so runs is an upper bound). */
  combinations: number;
  /** Keys whose values could not be counted (empty list, bad range), with why. */
  problems: { key: string; message: string }[];
}

/** A range without `step` in a grid becomes this many points (space.py UNSTEPPED_POINTS). */
export const UNSTEPPED_POINTS = 5;
export const CHARS_PER_TOKEN = 4;
export const DEFAULT_OUTPUT_TOKENS = 256;
export const MESSAGE_OVERHEAD_TOKENS = 4;
/** How many runs a random sweep makes when max_runs is not given (services/sweeps.py). */
export const DEFAULT_RANDOM_RUNS = 20;

function clean(value: number, type: RangeDoc["type"]): number {
  return type === "int" ? Math.round(value) : Math.round(value * 1e10) / 1e10;
}

/** The grid points of a range (space.py `range_values`); throws with a sentence on a bad range. */
export function rangeValues(spec: RangeDoc): number[] {
  const { min, max } = spec;
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new Error("min and max must be numbers");
  if (max < min) throw new Error(`range min ${min} is greater than max ${max}`);
  let raw: number[];
  if (spec.step !== undefined && spec.step !== null) {
    if (!(spec.step > 0)) throw new Error(`range step must be greater than 0, not ${spec.step}`);
    const count = Math.floor((max - min) / spec.step + 1e-9) + 1;
    if (count > 1_000_000) throw new Error(`the range has ${count.toLocaleString()} steps`);
    raw = Array.from({ length: count }, (_, i) => min + i * spec.step!);
  } else if (min === max) {
    raw = [min];
  } else if (spec.log) {
    if (min <= 0) throw new Error("a log range needs min greater than 0");
    const ratio = (max / min) ** (1 / (UNSTEPPED_POINTS - 1));
    raw = Array.from({ length: UNSTEPPED_POINTS }, (_, i) => min * ratio ** i);
  } else {
    const width = (max - min) / (UNSTEPPED_POINTS - 1);
    raw = Array.from({ length: UNSTEPPED_POINTS }, (_, i) => min + i * width);
  }
  const values: number[] = [];
  for (const value of raw) {
    const point = clean(Math.min(value, max), spec.type);
    if (!values.includes(point)) values.push(point);
  }
  return values;
}

/** How many values a parameter_space entry takes in a grid, or an error sentence. */
export function axisSize(value: unknown): number | string {
  if (Array.isArray(value)) return value.length === 0 ? "needs at least one value" : value.length;
  if (isRange(value)) {
    try {
      return rangeValues(value).length;
    } catch (error) {
      return (error as Error).message;
    }
  }
  return "must be a list of values or a range";
}

/** The number of combinations of a grid sweep (before identical configs are merged). */
export function gridCombinations(space: Record<string, unknown>): { count: number; problems: LocalEstimate["problems"] } {
  let count = 1;
  const problems: LocalEstimate["problems"] = [];
  for (const [key, value] of Object.entries(space)) {
    const size = axisSize(value);
    if (typeof size === "string") problems.push({ key, message: size });
    else count *= size;
  }
  return { count, problems };
}

/** Can a random sweep draw unboundedly many distinct values for this entry? */
function unbounded(value: unknown): boolean {
  return isRange(value) && (value.step === undefined || value.step === null) && value.type !== "int";
}

function tokensOf(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

/** A cheap stand-in for rendering: every `{{ ... }}` tag replaced by what it most likely reads. */
function roughRender(template: string | null | undefined, input: string, reference: string, previous: string): string {
  if (!template) return "";
  return template.replace(/\{\{([\s\S]*?)\}\}/g, (_, expr: string) => {
    const name = expr.trim();
    if (name.startsWith("input")) return input;
    if (name.startsWith("reference")) return reference;
    if (name.startsWith("previous") || name.startsWith("stages")) return previous;
    return "xxxxxxxx";
  });
}

function outputTokens(params: Record<string, unknown> | undefined, swept: unknown): number {
  const value = swept ?? params?.max_tokens;
  return typeof value === "number" && value > 0 ? Math.round(value) : DEFAULT_OUTPUT_TOKENS;
}

/** The first value of a swept key (for the token estimate, which looks at one config). */
function firstValue(space: Record<string, unknown>, key: string): unknown {
  const value = space[key];
  if (Array.isArray(value)) return value[0];
  if (isRange(value)) return value.max; // outputs: the upper estimate
  return undefined;
}

/** Runs, calls and rough tokens of a sweep, computed in the browser (no prices: cost 0, priced false). */
export function estimateLocal(doc: ExperimentDocument, sweepType: SweepType, maxRuns: number | null): LocalEstimate {
  const space = doc.parameter_space ?? {};
  const { count, problems } = gridCombinations(space);
  let runs: number;
  if (sweepType === "grid") {
    runs = maxRuns ? Math.min(count, maxRuns) : count;
  } else {
    const wanted = maxRuns ?? DEFAULT_RANDOM_RUNS;
    runs = Object.values(space).some(unbounded) ? wanted : Math.min(wanted, count);
  }
  if (problems.length > 0) runs = 0;
  const samples = doc.sample_data.length;
  const stages = doc.pipeline_stages.length;
  const calls = runs * samples * stages;
  let tokensIn = 0;
  let tokensOut = 0;
  for (const sample of doc.sample_data) {
    let previous = "";
    doc.pipeline_stages.forEach((stage, index) => {
      const system = (firstValue(space, `stages.${stage.name}.system_prompt`) ??
        firstValue(space, `stages.${index}.system_prompt`) ??
        firstValue(space, "system_prompt") ??
        stage.system_prompt) as string | undefined;
      const template = (firstValue(space, `stages.${stage.name}.prompt_template`) ??
        firstValue(space, `stages.${index}.prompt_template`) ??
        firstValue(space, "prompt_template") ??
        stage.prompt_template) as string | undefined;
      const prompt =
        roughRender(typeof system === "string" ? system : "", sample.input ?? "", sample.reference ?? "", previous) +
        roughRender(typeof template === "string" ? template : "", sample.input ?? "", sample.reference ?? "", previous);
      const out = outputTokens(
        stage.params,
        firstValue(space, `stages.${stage.name}.max_tokens`) ?? firstValue(space, "max_tokens"),
      );
      tokensIn += tokensOf(prompt) + 2 * MESSAGE_OVERHEAD_TOKENS;
      tokensOut += out;
      previous = "x".repeat(out * CHARS_PER_TOKEN);
    });
  }
  return {
    runs,
    calls,
    samples,
    stages,
    tokens_in: tokensIn * runs,
    tokens_out: tokensOut * runs,
    cost: 0,
    priced: false,
    combinations: count,
    problems,
  };
}
