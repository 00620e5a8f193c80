import { createContext, useContext, type ReactNode } from "react";

import type { FieldProblem } from "../../api/errors";

/** Field errors of a 422 answer keyed by their document path: `pipeline_stages.0.model`. */
export type FieldErrorMap = Map<string, string[]>;

/** `["body", "document", "pipeline_stages", 0, "model"]` → `pipeline_stages.0.model`. */
export function locPath(loc: (string | number)[] | undefined): string {
  const parts = [...(loc ?? [])];
  if (parts[0] === "body") parts.shift();
  if (parts[0] === "document") parts.shift();
  return parts.join(".");
}

function cleanMessage(msg: string | undefined): string {
  return (msg ?? "is not valid").replace(/^Value error, /, "");
}

export function toFieldErrors(fields: FieldProblem[]): FieldErrorMap {
  const map: FieldErrorMap = new Map();
  for (const field of fields) {
    const path = locPath(field.loc);
    map.set(path, [...(map.get(path) ?? []), cleanMessage(field.msg)]);
  }
  return map;
}

/** "pipeline_stages.0.model" → "Stage 1 › model" (1-based, in words). */
export function describePath(path: string): string {
  if (!path) return "Document";
  const parts = path.split(".");
  const words: string[] = [];
  const sections: Record<string, string> = {
    sample_data: "Sample",
    pipeline_stages: "Stage",
    scoring_config: "Scorer",
    parameter_space: "Parameter space",
  };
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    const next = parts[i + 1];
    if (part in sections && next !== undefined && /^\d+$/.test(next)) {
      words.push(`${sections[part]} ${Number(next) + 1}`);
      i++;
    } else if (part === "parameter_space" && next !== undefined) {
      words.push(`Parameter space › ${parts.slice(i + 1).join(".")}`);
      break;
    } else {
      words.push(part in sections ? sections[part] : part.replace(/_/g, " "));
    }
  }
  return words.join(" › ");
}

const FieldErrorsContext = createContext<FieldErrorMap>(new Map());

export function FieldErrorsProvider({ errors, children }: { errors: FieldErrorMap; children: ReactNode }) {
  return <FieldErrorsContext.Provider value={errors}>{children}</FieldErrorsContext.Provider>;
}

/** Messages for exactly this path (and, with `deep`, any path under it). */
export function useFieldErrors(path: string, deep = false): string[] {
  const errors = useContext(FieldErrorsContext);
  if (!deep) return errors.get(path) ?? [];
  const out: string[] = [];
  for (const [key, messages] of errors) {
    if (key === path || key.startsWith(`${path}.`)) out.push(...messages);
  }
  return out;
}

/** The server's messages for one field, shown under it. */
export function FieldError({ path, deep = false, testId }: { path: string; deep?: boolean; testId?: string }) {
  const messages = useFieldErrors(path, deep);
  if (messages.length === 0) return null;
  return (
    <ul className="mt-1 space-y-0.5 text-sm text-bad" data-testid={testId ?? `error-${path}`} role="alert">
      {messages.map((message, index) => (
        <li key={index}>
          <span aria-hidden="true">⚠ </span>
          {message}
        </li>
      ))}
    </ul>
  );
}
