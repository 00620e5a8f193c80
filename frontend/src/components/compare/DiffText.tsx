import type { DiffPart } from "../../lib/diff";

/**
 * Word-level diff parts. Inserted words are underlined on green, deleted ones struck through on
 * red (colour is never the only cue), and screen readers hear "added" / "removed".
 * `side` shows one side only: "a" = equal + deleted, "b" = equal + inserted; omit for inline.
 */
export function DiffText({ parts, side, className = "" }: { parts: DiffPart[]; side?: "a" | "b"; className?: string }) {
  return (
    <span className={`whitespace-pre-wrap break-words ${className}`}>
      {parts.map((part, i) => {
        if (part.kind === "equal") return <span key={i}>{part.text}</span>;
        if (part.kind === "insert") {
          if (side === "a") return null;
          return (
            <ins key={i} data-diff="insert" className="rounded-sm bg-good/20 text-fg underline decoration-good decoration-2 underline-offset-2">
              <span className="sr-only">[added: </span>
              {part.text}
              <span className="sr-only">]</span>
            </ins>
          );
        }
        if (side === "b") return null;
        return (
          <del key={i} data-diff="delete" className="rounded-sm bg-bad/20 text-fg line-through decoration-bad decoration-2">
            <span className="sr-only">[removed: </span>
            {part.text}
            <span className="sr-only">]</span>
          </del>
        );
      })}
    </span>
  );
}

/** What the marks mean, in words; `a` and `b` name the two sides (Compare: "A" and "B"). */
export function DiffLegend({ a = "A", b = "B" }: { a?: string; b?: string }) {
  return (
    <p className="flex flex-wrap items-center gap-3 text-xs text-muted">
      <span>
        <del className="rounded-sm bg-bad/20 px-1 text-fg line-through decoration-bad decoration-2">struck through</del> = only in {a}
      </span>
      <span>
        <ins className="rounded-sm bg-good/20 px-1 text-fg underline decoration-good decoration-2 underline-offset-2">underlined</ins> = only
        in {b}
      </span>
    </p>
  );
}
