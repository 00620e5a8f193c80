/** Word-level diffs of outputs and prompts, and the parameter differences of two run configs. */
import { diffWords } from "diff";

export type DiffKind = "equal" | "insert" | "delete";

export interface DiffPart {
  kind: DiffKind;
  text: string;
}

export interface WordDiff {
  parts: DiffPart[];
  /** Words only in b / only in a. */
  inserted: number;
  deleted: number;
  identical: boolean;
}

function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

/** Words of `a` deleted and words of `b` inserted (jsdiff diffWords; whitespace changes are ignored). */
export function wordDiff(a: string | null | undefined, b: string | null | undefined): WordDiff {
  const left = a ?? "";
  const right = b ?? "";
  if (left === right) {
    return { parts: left ? [{ kind: "equal", text: left }] : [], inserted: 0, deleted: 0, identical: true };
  }
  const parts: DiffPart[] = [];
  let inserted = 0;
  let deleted = 0;
  for (const change of diffWords(left, right)) {
    const kind: DiffKind = change.added ? "insert" : change.removed ? "delete" : "equal";
    if (kind === "insert") inserted += countWords(change.value);
    if (kind === "delete") deleted += countWords(change.value);
    const last = parts[parts.length - 1];
    if (last && last.kind === kind) last.text += change.value;
    else parts.push({ kind, text: change.value });
  }
  return { parts, inserted, deleted, identical: false };
}

/** The text of one side of a diff (a: equal + deleted, b: equal + inserted). */
export function sideText(parts: DiffPart[], side: "a" | "b"): string {
  const skip: DiffKind = side === "a" ? "insert" : "delete";
  return parts
    .filter((p) => p.kind !== skip)
    .map((p) => p.text)
    .join("");
}

/**
 * A config as flat `path → value` pairs; lists of objects with a `name` (the stages) are keyed by
 * that name (`stages.extract.params.temperature`), as the backend's run comparison does.
 */
export function flattenConfig(value: unknown, prefix = ""): Record<string, unknown> {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix) return { [prefix]: {} };
    const out: Record<string, unknown> = {};
    for (const [key, item] of entries) Object.assign(out, flattenConfig(item, prefix ? `${prefix}.${key}` : key));
    return out;
  }
  if (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((v) => v && typeof v === "object" && !Array.isArray(v) && "name" in (v as object))
  ) {
    const out: Record<string, unknown> = {};
    for (const item of value as Record<string, unknown>[]) {
      const { name, ...rest } = item;
      Object.assign(out, flattenConfig(rest, `${prefix}.${String(name)}`));
    }
    return out;
  }
  return { [prefix]: value };
}

export interface ParamRow {
  path: string;
  a: unknown;
  b: unknown;
  changed: boolean;
  /** Only in one of the configs. */
  missing: "a" | "b" | null;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Every path of both configs, changed ones first (then in path order). */
export function configDiff(a: unknown, b: unknown): ParamRow[] {
  const flatA = flattenConfig(a ?? {});
  const flatB = flattenConfig(b ?? {});
  const paths = [...new Set([...Object.keys(flatA), ...Object.keys(flatB)])].sort();
  const rows = paths.map((path) => ({
    path,
    a: flatA[path],
    b: flatB[path],
    changed: !same(flatA[path], flatB[path]),
    missing: !(path in flatA) ? ("a" as const) : !(path in flatB) ? ("b" as const) : null,
  }));
  return [...rows.filter((r) => r.changed), ...rows.filter((r) => !r.changed)];
}

/** A value as text for display (strings as is, the rest as JSON). */
export function displayValue(value: unknown): string {
  if (value === undefined) return "—";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}
