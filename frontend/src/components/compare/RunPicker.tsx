import { useMemo } from "react";

import type { LeaderboardEntry } from "../../api/client";
import { displayValue, flattenConfig } from "../../lib/diff";
import { formatScore, shortId } from "../../lib/format";
import { Select } from "../ui/Field";

/**
 * The config paths that tell the entries apart, each with a short name. Paths that always change
 * together (a model swept for every stage) are shown once.
 */
export function varyingPaths(entries: { config: Record<string, unknown> }[]): { path: string; name: string }[] {
  const flats = entries.map((e) => flattenConfig(e.config));
  const paths = [...new Set(flats.flatMap((f) => Object.keys(f)))].sort();
  const seen = new Set<string>();
  const kept: string[] = [];
  for (const path of paths) {
    const values = flats.map((f) => JSON.stringify(f[path]));
    if (new Set(values).size <= 1) continue;
    const signature = values.join("\u0000");
    if (seen.has(signature)) continue;
    seen.add(signature);
    kept.push(path);
  }
  const last = (path: string) => path.split(".").pop() ?? path;
  return kept.map((path) => ({
    path,
    name: kept.filter((other) => last(other) === last(path)).length > 1 ? path.replace(/^stages\./, "").replace(".params.", ".") : last(path),
  }));
}

function short(text: string, max = 24): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function entryLabel(entry: LeaderboardEntry, paths: { path: string; name: string }[]): string {
  const flat = flattenConfig(entry.config);
  const parts = paths.slice(0, 3).map((p) => `${p.name}=${short(displayValue(flat[p.path]))}`);
  return `#${entry.rank} · ${formatScore(entry.weighted_score)} · ${shortId(entry.run_id)}${parts.length ? ` · ${parts.join(", ")}` : ""}`;
}

/** A run from the experiment's leaderboard (the current one stays listed even when it is not ranked). */
export function RunPicker({
  label,
  value,
  onChange,
  entries,
  testId,
  disabled,
}: {
  label: string;
  value: string | null;
  onChange: (runId: string) => void;
  entries: LeaderboardEntry[];
  testId: string;
  disabled?: boolean;
}) {
  const paths = useMemo(() => varyingPaths(entries), [entries]);
  const listed = entries.some((e) => e.run_id === value);
  return (
    <label className="flex min-w-0 flex-1 flex-col gap-1 text-sm font-medium">
      {label}
      <Select data-testid={testId} value={value ?? ""} onChange={(e) => onChange(e.target.value)} disabled={disabled}>
        <option value="" disabled>
          {entries.length === 0 ? "No completed run yet" : "Pick a run from the leaderboard"}
        </option>
        {value && !listed && <option value={value}>Run {shortId(value)} (not on the leaderboard)</option>}
        {entries.map((entry) => (
          <option key={entry.run_id} value={entry.run_id}>
            {entryLabel(entry, paths)}
          </option>
        ))}
      </Select>
    </label>
  );
}
