// parameter_space keys (CONTRACT.md): a bare field/param for every stage, `stages.<name>.<field>` for
// one stage, `vars.<name>` for a template variable.

import type { ExperimentDocument, StageDoc } from "../../lib/documentYaml";

export const STAGE_FIELDS = ["model", "endpoint_id", "system_prompt", "prompt_template"] as const;
export const TEMPLATE_FIELDS = ["system_prompt", "prompt_template"];
/** Request parameters offered first; any other `[a-z_][a-z0-9_]*` name works too. */
export const COMMON_PARAMS = ["temperature", "top_p", "max_tokens", "seed", "frequency_penalty", "presence_penalty"];
const RESERVED = new Set(["messages", "stream", "name", "params", "stages", "vars", "model"]);

export interface ParsedKey {
  /** "all": every stage; "stage": one stage (by name or index); "var": a template variable. */
  scope: "all" | "stage" | "var";
  stage?: string;
  name: string;
}

export function parseKey(key: string): ParsedKey {
  const parts = key.split(".");
  if (parts[0] === "vars" && parts.length === 2) return { scope: "var", name: parts[1] };
  if (parts[0] === "stages" && parts.length === 3) return { scope: "stage", stage: parts[1], name: parts[2] };
  return { scope: "all", name: key };
}

export function buildKey(parsed: ParsedKey): string {
  if (parsed.scope === "var") return `vars.${parsed.name}`;
  if (parsed.scope === "stage") return `stages.${parsed.stage}.${parsed.name}`;
  return parsed.name;
}

/** number-ish values (params and vars, typed loosely), model names, prompt templates, endpoint ids. */
export type ValueKind = "value" | "text" | "template" | "endpoint";

/** How values of this key are edited. */
export function valueKind(key: string): ValueKind {
  const { scope, name } = parseKey(key);
  if (scope === "var") return "value";
  if (TEMPLATE_FIELDS.includes(name)) return "template";
  if (name === "endpoint_id") return "endpoint";
  if (name === "model") return "text";
  return "value";
}

/** Why a parameter name cannot be swept, or null. */
export function paramNameProblem(name: string): string | null {
  if (!name) return "Give the parameter a name.";
  if ((STAGE_FIELDS as readonly string[]).includes(name)) return null;
  if (RESERVED.has(name)) return `\`${name}\` cannot be swept as a request parameter.`;
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) return "Parameter names use lowercase letters, digits and underscores.";
  return null;
}

/** The indexes of the stages a key applies to (all for a bare key, none for vars or unknown stages). */
export function stagesOfKey(key: string, stages: StageDoc[]): number[] {
  const parsed = parseKey(key);
  if (parsed.scope === "var") return [];
  if (parsed.scope === "all") return stages.map((_, i) => i);
  const byName = stages.findIndex((s) => s.name === parsed.stage);
  if (byName >= 0) return [byName];
  const index = Number(parsed.stage);
  return /^\d+$/.test(parsed.stage ?? "") && index < stages.length ? [index] : [];
}

/** Rename a stage and every `stages.<old>.*` key of the parameter space with it. */
export function renameStage(doc: ExperimentDocument, index: number, name: string): ExperimentDocument {
  const old = doc.pipeline_stages[index]?.name;
  const stages = doc.pipeline_stages.map((s, i) => (i === index ? { ...s, name } : s));
  if (!old || old === name || doc.pipeline_stages.some((s, i) => i !== index && s.name === old)) {
    return { ...doc, pipeline_stages: stages };
  }
  const space: ExperimentDocument["parameter_space"] = {};
  for (const [key, value] of Object.entries(doc.parameter_space)) {
    const parsed = parseKey(key);
    space[parsed.scope === "stage" && parsed.stage === old ? buildKey({ ...parsed, stage: name }) : key] = value;
  }
  return { ...doc, pipeline_stages: stages, parameter_space: space };
}

/** Remove a stage and the parameter space keys aimed at it. */
export function removeStage(doc: ExperimentDocument, index: number): ExperimentDocument {
  const name = doc.pipeline_stages[index]?.name;
  const space = Object.fromEntries(
    Object.entries(doc.parameter_space).filter(([key]) => {
      const parsed = parseKey(key);
      return !(parsed.scope === "stage" && (parsed.stage === name || parsed.stage === String(index)));
    }),
  );
  return { ...doc, pipeline_stages: doc.pipeline_stages.filter((_, i) => i !== index), parameter_space: space };
}

/** A stage name not used yet: "stage2", "stage3", ... */
export function nextStageName(stages: StageDoc[]): string {
  const used = new Set(stages.map((s) => s.name));
  let n = stages.length + 1;
  while (used.has(`stage${n}`)) n++;
  return `stage${n}`;
}

/** A typed value from text: numbers, booleans, null and JSON when it parses, else the text itself. */
export function parseLooseValue(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === "") return "";
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(trimmed)) return Number(trimmed);
  if (trimmed === "true" || trimmed === "false") return trimmed === "true";
  if (trimmed === "null") return null;
  if (/^[[{"]/.test(trimmed)) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return text;
    }
  }
  return text;
}

export function valueText(value: unknown): string {
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}
