import { useEffect, useId, useMemo, useRef, useState, type ReactNode } from "react";

import { checkTemplate, knownNames, parseTemplate, type TemplateIssue, type TemplateScope } from "../../lib/templateVars";

interface Props {
  label: string;
  value: string;
  onChange: (value: string) => void;
  /** One scope, or several when the same text is used by several stages (every one must accept it). */
  scope: TemplateScope | TemplateScope[];
  testId: string;
  rows?: number;
  placeholder?: string;
  /** Errors from the server for this field. */
  serverErrors?: string[];
  hint?: ReactNode;
}

/** Problems of a template in every scope, each name once. */
export function templateIssues(value: string, scope: TemplateScope | TemplateScope[]): TemplateIssue[] {
  const scopes = Array.isArray(scope) ? scope : [scope];
  const seen = new Set<string>();
  const issues: TemplateIssue[] = [];
  for (const one of scopes) {
    for (const issue of checkTemplate(value, one)) {
      const key = `${issue.start}:${issue.message}`;
      if (!seen.has(key)) {
        seen.add(key);
        issues.push(issue);
      }
    }
  }
  return issues;
}

/**
 * A Jinja2 prompt editor: `{{ names }}` are highlighted, names the stage cannot read are underlined
 * and listed in words. The highlighting is a mirror layer behind a transparent-text textarea, so the
 * textarea keeps native editing, selection and accessibility.
 */
export function TemplateEditor({ label, value, onChange, scope, testId, rows = 4, placeholder, serverErrors, hint }: Props) {
  const id = useId();
  const mirror = useRef<HTMLPreElement>(null);
  const textarea = useRef<HTMLTextAreaElement>(null);
  const parsed = useMemo(() => parseTemplate(value), [value]);
  const issues = useMemo(() => templateIssues(value, scope), [value, scope]);
  const bad = useMemo(() => new Set(issues.map((i) => `${i.start}:${i.end}`)), [issues]);
  const names = useMemo(() => knownNames(Array.isArray(scope) ? scope[0] ?? emptyScope : scope), [scope]);
  // The box grows with its text (up to MAX_ROWS lines, then it scrolls), or opens full screen.
  const [fullScreen, setFullScreen] = useState(false);
  const shownRows = Math.min(MAX_ROWS, Math.max(rows, visualLines(value) + 1));
  useEffect(() => {
    if (!fullScreen) return;
    const onKey = (event: KeyboardEvent) => event.key === "Escape" && setFullScreen(false);
    window.addEventListener("keydown", onKey);
    textarea.current?.focus();
    return () => window.removeEventListener("keydown", onKey);
  }, [fullScreen]);

  const highlighted = useMemo(() => {
    const out: ReactNode[] = [];
    parsed.segments.forEach((segment, index) => {
      if (segment.kind === "text") {
        out.push(segment.text);
        return;
      }
      if (segment.kind === "comment") {
        out.push(
          <span key={index} className="text-muted italic">
            {segment.text}
          </span>,
        );
        return;
      }
      const parts: ReactNode[] = [];
      let pos = segment.start;
      for (const ref of segment.refs) {
        if (ref.start > pos) parts.push(value.slice(pos, ref.start));
        const unknown = bad.has(`${ref.start}:${ref.end}`);
        parts.push(
          <span
            key={ref.start}
            className={
              unknown
                ? "text-bad underline decoration-wavy decoration-2 underline-offset-2"
                : "font-semibold text-accent"
            }
          >
            {value.slice(ref.start, ref.end)}
          </span>,
        );
        pos = ref.end;
      }
      if (segment.end > pos) parts.push(value.slice(pos, segment.end));
      out.push(
        <span key={index} className={segment.kind === "expr" ? "rounded-sm bg-accent/10" : "rounded-sm bg-warn/10"}>
          {parts}
        </span>,
      );
    });
    // A trailing newline needs a character after it to take up a line in the mirror.
    out.push(value.endsWith("\n") ? " " : "");
    return out;
  }, [parsed, value, bad]);

  const syncScroll = () => {
    if (mirror.current && textarea.current) {
      mirror.current.scrollTop = textarea.current.scrollTop;
      mirror.current.scrollLeft = textarea.current.scrollLeft;
    }
  };

  const insert = (name: string) => {
    const el = textarea.current;
    const tag = `{{ ${name} }}`;
    if (!el) {
      onChange(value + tag);
      return;
    }
    const start = el.selectionStart ?? value.length;
    const end = el.selectionEnd ?? value.length;
    onChange(value.slice(0, start) + tag + value.slice(end));
    requestAnimationFrame(() => {
      el.focus();
      el.setSelectionRange(start + tag.length, start + tag.length);
    });
  };

  const problems = [...issues.map((i) => i.message), ...(serverErrors ?? [])];
  const shared = "m-0 whitespace-pre-wrap break-words px-3 py-2 font-mono text-sm leading-6";
  return (
    <div
      className={fullScreen ? "fixed inset-0 z-50 flex flex-col gap-2 overflow-auto bg-surface p-4" : "space-y-1"}
      role={fullScreen ? "dialog" : undefined}
      aria-modal={fullScreen || undefined}
      aria-label={fullScreen ? `${label} (full screen)` : undefined}
      data-testid={`${testId}-container`}
      data-fullscreen={fullScreen}
    >
      <div className="flex items-center justify-between gap-2">
        <label htmlFor={id} className="block text-sm font-medium">
          {label}
        </label>
        <button
          type="button"
          className="rounded px-1.5 py-0.5 text-xs text-accent hover:bg-raised"
          onClick={() => setFullScreen((v) => !v)}
          aria-pressed={fullScreen}
          data-testid={`${testId}-fullscreen`}
        >
          {fullScreen ? "Close full screen (Esc)" : "Full screen"}
        </button>
      </div>
      <div className={`relative rounded-md border border-line bg-panel focus-within:ring-2 focus-within:ring-accent ${fullScreen ? "flex min-h-0 flex-1 flex-col" : ""}`}>
        <pre
          ref={mirror}
          aria-hidden="true"
          className={`${shared} pointer-events-none absolute inset-0 overflow-hidden text-fg`}
        >
          {highlighted}
        </pre>
        <textarea
          ref={textarea}
          id={id}
          data-testid={testId}
          value={value}
          rows={shownRows}
          placeholder={placeholder}
          spellCheck={false}
          aria-invalid={problems.length > 0}
          aria-describedby={problems.length > 0 ? `${id}-issues` : `${id}-names`}
          onChange={(event) => onChange(event.target.value)}
          onScroll={syncScroll}
          className={`${shared} relative block w-full ${fullScreen ? "min-h-0 flex-1 resize-none" : "resize-y"} bg-transparent text-transparent caret-fg outline-none placeholder:text-muted`}
        />
      </div>
      {problems.length > 0 && (
        <ul id={`${id}-issues`} data-testid={`${testId}-issues`} className="space-y-0.5 text-sm text-bad">
          {problems.map((message, index) => (
            <li key={index}>
              <span aria-hidden="true">⚠ </span>
              {message}
            </li>
          ))}
        </ul>
      )}
      <div id={`${id}-names`} className="flex flex-wrap items-center gap-1 text-xs text-muted">
        <span>Names you can use:</span>
        {names.map((name) => (
          <button
            key={name}
            type="button"
            onClick={() => insert(name)}
            className="rounded border border-line px-1.5 py-0.5 font-mono hover:bg-raised"
            title={`Insert {{ ${name} }}`}
          >
            {name}
          </button>
        ))}
        {hint}
      </div>
    </div>
  );
}

const MAX_ROWS = 30;
/** Lines the text takes, counting a long line as several (about 90 characters wide). */
function visualLines(text: string): number {
  return text.split("\n").reduce((total, line) => total + Math.max(1, Math.ceil(line.length / 90)), 0);
}

const emptyScope: TemplateScope = { stageIndex: 0, earlierStages: [], vars: [] };
