import { useEffect, useState, type InputHTMLAttributes } from "react";

import { Input } from "../ui/Field";

type Props = Omit<InputHTMLAttributes<HTMLInputElement>, "value" | "onChange" | "type"> & {
  value: number | null | undefined;
  /** undefined when the field is emptied; only called with finite numbers otherwise. */
  onValue: (value: number | undefined) => void;
};

function parse(text: string): number | undefined | null {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : null;
}

/**
 * A number field that keeps what is typed ("0.", "-", "1e") while it is not a number yet, and
 * reports the value as soon as it is one.
 */
export function NumberInput({ value, onValue, className, ...rest }: Props) {
  const [text, setText] = useState(value === null || value === undefined ? "" : String(value));
  useEffect(() => {
    setText((current) => {
      const parsed = parse(current);
      if (parsed === (value ?? undefined)) return current;
      return value === null || value === undefined ? "" : String(value);
    });
  }, [value]);
  const invalid = parse(text) === null;
  return (
    <Input
      {...rest}
      type="text"
      inputMode="decimal"
      value={text}
      aria-invalid={invalid || rest["aria-invalid"] ? true : undefined}
      onChange={(event) => {
        setText(event.target.value);
        const parsed = parse(event.target.value);
        if (parsed !== null) onValue(parsed);
      }}
      className={className}
    />
  );
}
