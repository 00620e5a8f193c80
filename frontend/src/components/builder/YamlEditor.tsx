import { useId } from "react";

import { Textarea } from "../ui/Field";

interface Props {
  text: string;
  error: string | null;
  onChange: (text: string) => void;
}

/** The document as YAML; every valid edit updates the form, an invalid one is only reported. */
export function YamlEditor({ text, error, onChange }: Props) {
  const id = useId();
  return (
    <div className="space-y-2">
      <label htmlFor={id} className="block text-sm font-medium">
        Experiment document (YAML)
      </label>
      <p className="text-sm text-muted">
        The same document the form edits (and the CLI and MCP accept). Valid changes update the form as you type; while the YAML
        is invalid the form keeps its last valid state.
      </p>
      <Textarea
        id={id}
        data-testid="yaml-editor"
        value={text}
        onChange={(e) => onChange(e.target.value)}
        spellCheck={false}
        rows={28}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        className="text-sm"
      />
      {error && (
        <p id={`${id}-error`} role="alert" data-testid="yaml-error" className="text-sm text-bad">
          <span aria-hidden="true">⚠ </span>
          {error}
        </p>
      )}
    </div>
  );
}
