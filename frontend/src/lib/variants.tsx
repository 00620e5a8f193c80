// Named prompt variants: a swept prompt shows as its name ("concise") or v1, v2, ... by its position
// in the parameter space, never as the first words of two texts that look alike; the full text is the
// title (hover) wherever the name is shown.
import { createContext, useContext, useMemo, type ReactNode } from "react";

import { formatValue } from "./format";

export interface ValueLabel {
  text: string;
  title: string;
  /** True when `text` is a variant name rather than the value itself. */
  named: boolean;
}
export type Labeler = (key: string, value: unknown) => ValueLabel;

const PROMPT_FIELDS = new Set(["prompt_template", "system_prompt"]);

function isVariantKey(key: string, values: unknown[], names: string[] | undefined): boolean {
  if (names?.some((n) => n)) return true;
  const field = key.split(".").at(-1) ?? key;
  if (PROMPT_FIELDS.has(field)) return true;
  return values.some((v) => typeof v === "string" && v.length > 24);
}

const plain: Labeler = (_key, value) => {
  const text = formatValue(value);
  return { text, title: text, named: false };
};

/** The labeler of one experiment: variant names for swept prompts (and long texts), the value otherwise. */
export function variantLabeler(space: Record<string, unknown> | null | undefined, names: Record<string, string[]> | null | undefined): Labeler {
  const lookups = new Map<string, Map<string, string>>();
  for (const [key, values] of Object.entries(space ?? {})) {
    if (!Array.isArray(values) || !isVariantKey(key, values, names?.[key])) continue;
    const byValue = new Map<string, string>();
    values.forEach((value, i) => {
      const k = JSON.stringify(value ?? null);
      if (!byValue.has(k)) byValue.set(k, names?.[key]?.[i]?.trim() || `v${i + 1}`);
    });
    lookups.set(key, byValue);
  }
  return (key, value) => {
    const name = lookups.get(key)?.get(JSON.stringify(value ?? null));
    if (!name) return plain(key, value);
    return { text: name, title: formatValue(value), named: true };
  };
}

const LabelContext = createContext<Labeler>(plain);

export function VariantLabels({ space, names, children }: { space: Record<string, unknown> | null | undefined; names: Record<string, string[]> | null | undefined; children: ReactNode }) {
  const labeler = useMemo(() => variantLabeler(space, names), [space, names]);
  return <LabelContext.Provider value={labeler}>{children}</LabelContext.Provider>;
}

export function useValueLabel(): Labeler {
  return useContext(LabelContext);
}
