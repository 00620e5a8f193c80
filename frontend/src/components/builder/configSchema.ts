// The subset of JSON Schema the scorers' config models produce (pydantic): typed properties,
// nullable `anyOf`, enums, bounds, required keys and no extra keys. Enough to build a form and to
// check a config before the server does.

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  items?: JsonSchema;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  pattern?: string;
}

export type FieldKind = "string" | "text" | "integer" | "number" | "boolean" | "enum" | "string-list" | "json" | "endpoint";

export interface FormField {
  name: string;
  label: string;
  description?: string;
  kind: FieldKind;
  required: boolean;
  nullable: boolean;
  options?: unknown[];
  schema: JsonSchema;
}

/** The schema without its `null` alternative, and whether null was allowed. */
export function unwrapNullable(schema: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  if (schema.anyOf) {
    const others = schema.anyOf.filter((s) => s.type !== "null");
    const nullable = others.length < schema.anyOf.length;
    if (others.length === 1) {
      return { schema: { ...others[0], description: schema.description, title: schema.title, default: schema.default }, nullable };
    }
    return { schema, nullable };
  }
  return { schema, nullable: false };
}

const LONG_TEXT = new Set(["prompt", "code", "system_prompt", "reference"]);

function kindOf(name: string, schema: JsonSchema): FieldKind {
  if (name === "endpoint_id") return "endpoint";
  if (schema.enum) return "enum";
  switch (schema.type) {
    case "string":
      return LONG_TEXT.has(name) ? "text" : "string";
    case "integer":
      return "integer";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "array":
      return schema.items?.type === "string" ? "string-list" : "json";
    default:
      return "json";
  }
}

/** One form field per property, in the schema's order. */
export function formFields(schema: JsonSchema): FormField[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, raw]) => {
    const { schema: inner, nullable } = unwrapNullable(raw);
    return {
      name,
      label: inner.title ?? name,
      description: inner.description,
      kind: kindOf(name, inner),
      required: required.has(name),
      nullable,
      options: inner.enum,
      schema: inner,
    };
  });
}

function typeMatches(value: unknown, type: string): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "boolean":
      return typeof value === "boolean";
    case "array":
      return Array.isArray(value);
    case "object":
      return !!value && typeof value === "object" && !Array.isArray(value);
    case "null":
      return value === null;
    default:
      return true;
  }
}

/** Problems of one value against a (property) schema, as sentences starting with the field name. */
function checkValue(label: string, value: unknown, schema: JsonSchema): string[] {
  if (schema.anyOf) {
    const results = schema.anyOf.map((s) => checkValue(label, value, s));
    return results.some((r) => r.length === 0) ? [] : results.find((r) => r.length > 0) ?? [];
  }
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.length > 0 && !types.some((t) => typeMatches(value, t))) {
    const wanted = types.map((t) => (t === "integer" ? "a whole number" : t === "array" ? "a list" : `a ${t}`)).join(" or ");
    return [`${label} must be ${wanted}.`];
  }
  const problems: string[] = [];
  if (schema.enum && !schema.enum.some((option) => option === value)) {
    problems.push(`${label} must be one of ${schema.enum.map((o) => JSON.stringify(o)).join(", ")}.`);
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${label} must be at least ${schema.minimum}.`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${label} must be at most ${schema.maximum}.`);
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) {
      problems.push(`${label} must be greater than ${schema.exclusiveMinimum}.`);
    }
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) {
      problems.push(`${label} must be less than ${schema.exclusiveMaximum}.`);
    }
  }
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      problems.push(schema.minLength === 1 ? `${label} must not be empty.` : `${label} needs at least ${schema.minLength} characters.`);
    }
    if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      problems.push(`${label} is longer than ${schema.maxLength} characters.`);
    }
    if (schema.pattern) {
      try {
        if (!new RegExp(schema.pattern).test(value)) problems.push(`${label} does not match ${schema.pattern}.`);
      } catch {
        /* a pattern JS cannot read: leave it to the server */
      }
    }
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      problems.push(`${label} needs at least ${schema.minItems} item${schema.minItems === 1 ? "" : "s"}.`);
    }
    if (schema.items) value.forEach((item, i) => problems.push(...checkValue(`${label} item ${i + 1}`, item, schema.items!)));
  }
  return problems;
}

/** Every problem of a scorer config against its schema (empty when it looks valid). */
export function validateConfig(schema: JsonSchema | undefined, config: unknown): string[] {
  if (!schema) return [];
  if (!config || typeof config !== "object" || Array.isArray(config)) return ["The config must be a JSON object."];
  const record = config as Record<string, unknown>;
  const problems: string[] = [];
  for (const name of schema.required ?? []) {
    if (record[name] === undefined || record[name] === null) problems.push(`${name} is required.`);
  }
  for (const [name, value] of Object.entries(record)) {
    const property = schema.properties?.[name];
    if (!property) {
      if (schema.additionalProperties === false) {
        const known = Object.keys(schema.properties ?? {});
        problems.push(`${name} is not a setting of this scorer${known.length ? ` (it has ${known.join(", ")})` : ""}.`);
      }
      continue;
    }
    if (value === undefined) continue;
    problems.push(...checkValue(name, value, property));
  }
  return problems;
}

/** A starting config: required list fields empty, enums at their default or first option. */
export function initialConfig(schema: JsonSchema | undefined): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const field of formFields(schema ?? {})) {
    if (!field.required) continue;
    if (field.kind === "string-list") config[field.name] = [];
    else if (field.kind === "enum") config[field.name] = field.schema.default ?? field.options?.[0];
    else if (field.kind === "string" || field.kind === "text") config[field.name] = "";
  }
  return config;
}
