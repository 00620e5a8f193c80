// Read a swept parameter's value out of a run's resolved config
// (`{"stages": [{name, endpoint_id, model, system_prompt, prompt_template, params}], "vars": {...}}`).

const STAGE_FIELDS = new Set(["model", "endpoint_id", "system_prompt", "prompt_template", "name"]);

interface StageConfig {
  name?: string;
  params?: Record<string, unknown>;
  [field: string]: unknown;
}

function stageValue(stage: StageConfig | undefined, field: string): unknown {
  if (!stage) return undefined;
  if (STAGE_FIELDS.has(field)) return stage[field];
  return stage.params?.[field];
}

/** The value a parameter_space key took in this config (one value, or the distinct values per stage joined). */
export function configValue(config: Record<string, unknown> | null | undefined, key: string): unknown {
  if (!config) return undefined;
  const stages = (Array.isArray(config.stages) ? config.stages : []) as StageConfig[];
  const parts = key.split(".");
  if (parts[0] === "vars" && parts.length >= 2) {
    const vars = (config.vars ?? {}) as Record<string, unknown>;
    return vars[parts.slice(1).join(".")];
  }
  if (parts[0] === "stages" && parts.length >= 3) {
    const ref = parts[1]!;
    const field = parts.slice(2).join(".");
    const stage = stages.find((s) => s.name === ref) ?? (/^\d+$/.test(ref) ? stages[Number(ref)] : undefined);
    return stageValue(stage, field);
  }
  const values = stages.map((s) => stageValue(s, key));
  const distinct = Array.from(new Set(values.map((v) => JSON.stringify(v ?? null))));
  if (distinct.length <= 1) return values[0];
  return values.map((v) => (v === undefined || v === null ? "—" : String(v))).join(" / ");
}

/** The parameter_space keys of an experiment, in document order. */
export function sweptKeys(parameterSpace: Record<string, unknown> | null | undefined): string[] {
  return parameterSpace ? Object.keys(parameterSpace) : [];
}

/** Scorer names of an experiment's scoring_config (name defaults to the scorer id). */
export function scorerNames(scoringConfig: Record<string, unknown>[] | null | undefined): string[] {
  const names = (scoringConfig ?? []).map((entry) => String(entry.name ?? entry.scorer ?? "")).filter(Boolean);
  return Array.from(new Set(names));
}

/** A short label for a key: `stages.summarize.prompt_template` → `summarize · prompt_template`. */
export function keyLabel(key: string): string {
  const parts = key.split(".");
  if (parts[0] === "stages" && parts.length >= 3) return `${parts[1]} · ${parts.slice(2).join(".")}`;
  if (parts[0] === "vars") return `vars.${parts.slice(1).join(".")}`;
  return key;
}
