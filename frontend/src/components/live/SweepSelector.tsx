// Pick which sweep the Live leaderboard, Runs, Charts, Review and Exports show: the latest (default),
// any earlier one, or all of them together.
import { formatDateTime, pluralize } from "../../lib/format";
import { Select } from "../ui/Field";

export interface SweepChoice {
  id: string;
  number: number;
  type: string;
  status: string;
  total_runs: number;
  created_at: string;
}

export function SweepSelector({ sweeps, value, onChange }: { sweeps: SweepChoice[]; value: string; onChange: (value: string) => void }) {
  if (sweeps.length < 2) return null; // one sweep (or none): nothing to keep apart
  return (
    <label className="flex flex-wrap items-center gap-2 text-sm" data-testid="sweep-selector">
      <span className="text-muted">Showing</span>
      <Select value={value} onChange={(e) => onChange(e.target.value)} className="h-8 w-auto max-w-full" aria-label="Which sweep to show">
        {sweeps.map((sweep, i) => (
          <option key={sweep.id} value={i === 0 ? "latest" : sweep.id}>
            {i === 0 ? "Latest sweep" : `Sweep ${sweep.number}`} · #{sweep.number} {sweep.type}, {pluralize(sweep.total_runs, "run")} · {formatDateTime(sweep.created_at)}
          </option>
        ))}
        <option value="all">All {sweeps.length} sweeps together</option>
      </Select>
    </label>
  );
}
