/**
 * The experiment document (CONTRACT.md "Experiment definition") as the builder edits it, and its
 * YAML form: `documentToYaml` / `yamlToDocument` round-trip without losing anything.
 */
import { isMap, parseDocument, stringify } from "yaml";

export interface SampleDoc {
  id: string;
  input: string;
  reference?: string | null;
  vars?: Record<string, unknown>;
}

export interface StageDoc {
  name: string;
  endpoint_id?: string | null;
  model?: string | null;
  system_prompt?: string | null;
  prompt_template: string;
  params?: Record<string, unknown>;
}

export interface ScorerDoc {
  scorer: string;
  name?: string | null;
  weight?: number;
  config?: Record<string, unknown>;
}

export interface RangeDoc {
  min: number;
  max: number;
  step?: number | null;
  type?: "float" | "int";
  log?: boolean;
}

export type SpaceValue = unknown[] | RangeDoc;

export interface ExperimentDocument {
  project_id?: string;
  name: string;
  description?: string | null;
  sample_data: SampleDoc[];
  pipeline_stages: StageDoc[];
  scoring_config: ScorerDoc[];
  parameter_space: Record<string, SpaceValue>;
  /** Names of swept values by parameter_space key ("" = the default v1, v2, ...). */
  variant_names?: Record<string, string[]>;
}

/** The keys of the document, in the order the YAML view shows them. */
export const DOCUMENT_KEYS = [
  "name",
  "description",
  "sample_data",
  "pipeline_stages",
  "scoring_config",
  "parameter_space",
  "variant_names",
] as const;

export function isRange(value: unknown): value is RangeDoc {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function emptyStage(name = "main"): StageDoc {
  return { name, endpoint_id: null, model: "", system_prompt: "", prompt_template: "{{ input }}", params: {} };
}

export function emptyDocument(projectId?: string): ExperimentDocument {
  return {
    ...(projectId ? { project_id: projectId } : {}),
    name: "",
    description: "",
    sample_data: [],
    pipeline_stages: [emptyStage()],
    scoring_config: [],
    parameter_space: {},
  };
}

function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A document with every list present (from an API answer, YAML or a partial object). Unknown keys are kept. */
export function normalizeDocument(value: unknown): ExperimentDocument {
  const record = asRecord(value);
  return {
    ...record,
    name: typeof record.name === "string" ? record.name : record.name == null ? "" : String(record.name),
    description: (record.description as string | null | undefined) ?? "",
    sample_data: asArray(record.sample_data) as SampleDoc[],
    pipeline_stages: asArray(record.pipeline_stages) as StageDoc[],
    scoring_config: asArray(record.scoring_config) as ScorerDoc[],
    parameter_space: asRecord(record.parameter_space) as Record<string, SpaceValue>,
  } as ExperimentDocument;
}

/** The editable document of an experiment from the API (its id, status and counts left out). */
export function documentOf(experiment: Record<string, unknown>): ExperimentDocument {
  const picked: Record<string, unknown> = {};
  for (const key of [...DOCUMENT_KEYS, "project_id"]) {
    if (experiment[key] !== undefined) picked[key] = experiment[key];
  }
  return normalizeDocument(picked);
}

/** Drop what the API would reject or what is only noise: empty optional strings, empty vars/params/config. */
export function cleanDocument(doc: ExperimentDocument): ExperimentDocument {
  const stages = doc.pipeline_stages.map((stage) => {
    // Keys in the order people read a stage: which call, then the prompts, then the knobs.
    const out = { name: stage.name } as StageDoc;
    if (stage.endpoint_id) out.endpoint_id = stage.endpoint_id;
    if (stage.model) out.model = stage.model;
    if (stage.system_prompt) out.system_prompt = stage.system_prompt;
    out.prompt_template = stage.prompt_template ?? "";
    if (stage.params && Object.keys(stage.params).length > 0) out.params = stage.params;
    for (const [key, value] of Object.entries(stage)) {
      if (!(key in out) && !["endpoint_id", "model", "system_prompt", "params"].includes(key)) {
        (out as unknown as Record<string, unknown>)[key] = value;
      }
    }
    return out;
  });
  const samples = doc.sample_data.map((sample) => {
    const out: SampleDoc = { id: sample.id, input: sample.input };
    if (sample.reference !== undefined && sample.reference !== null && sample.reference !== "") {
      out.reference = sample.reference;
    }
    if (sample.vars && Object.keys(sample.vars).length > 0) out.vars = sample.vars;
    return out;
  });
  const scorers = doc.scoring_config.map((entry) => {
    const out: ScorerDoc = { scorer: entry.scorer };
    if (entry.name) out.name = entry.name;
    out.weight = entry.weight ?? 1;
    out.config = entry.config ?? {};
    return out;
  });
  const cleaned: ExperimentDocument = {
    ...doc,
    name: doc.name,
    sample_data: samples,
    pipeline_stages: stages,
    scoring_config: scorers,
    parameter_space: doc.parameter_space,
  };
  if (!doc.description) delete cleaned.description;
  const names = Object.fromEntries(
    Object.entries(doc.variant_names ?? {}).filter(([key, list]) => key in doc.parameter_space && list.some((n) => n.trim() !== "")),
  );
  if (Object.keys(names).length > 0) cleaned.variant_names = names;
  else delete cleaned.variant_names;
  return cleaned;
}

/** The document as YAML (without `project_id`, which the builder keeps separately). */
export function documentToYaml(doc: ExperimentDocument): string {
  const ordered: Record<string, unknown> = {};
  const cleaned = cleanDocument(doc);
  for (const key of DOCUMENT_KEYS) {
    const value = (cleaned as unknown as Record<string, unknown>)[key];
    if (value !== undefined) ordered[key] = value;
  }
  for (const [key, value] of Object.entries(cleaned)) {
    if (!(key in ordered) && key !== "project_id") ordered[key] = value;
  }
  return stringify(ordered, { lineWidth: 0, blockQuote: "literal", aliasDuplicateObjects: false });
}

export type YamlParse = { ok: true; document: ExperimentDocument } | { ok: false; error: string; line?: number };

/** The document from YAML text, or a sentence saying what is wrong and where (nothing is thrown). */
export function yamlToDocument(text: string): YamlParse {
  const parsed = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (parsed.errors.length > 0) {
    const first = parsed.errors[0];
    const line = first.linePos?.[0]?.line;
    return { ok: false, error: first.message.split("\n")[0], line };
  }
  if (parsed.contents !== null && !isMap(parsed.contents)) {
    return { ok: false, error: "The YAML must be a mapping with name, sample_data, pipeline_stages, ..." };
  }
  const value = parsed.toJS({ maxAliasCount: 100 }) as unknown;
  const record = asRecord(value);
  const shape = shapeProblem(record);
  if (shape) return { ok: false, error: shape };
  return { ok: true, document: normalizeDocument(record) };
}

function shapeProblem(record: Record<string, unknown>): string | null {
  const lists = ["sample_data", "pipeline_stages", "scoring_config"] as const;
  for (const key of lists) {
    if (record[key] !== undefined && record[key] !== null && !Array.isArray(record[key])) {
      return `\`${key}\` must be a list.`;
    }
    for (const [index, item] of asArray(record[key]).entries()) {
      if (!item || typeof item !== "object" || Array.isArray(item)) {
        return `\`${key}[${index}]\` must be a mapping.`;
      }
    }
  }
  const space = record.parameter_space;
  if (space !== undefined && space !== null && (typeof space !== "object" || Array.isArray(space))) {
    return "`parameter_space` must be a mapping of keys to a list of values or a range.";
  }
  for (const [key, item] of Object.entries(asRecord(space))) {
    if (item === null || typeof item !== "object") {
      return `\`parameter_space.${key}\` must be a list of values or a range {min, max, step}.`;
    }
  }
  return null;
}
