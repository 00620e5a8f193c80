import type { Experiment } from "../../api/client";
import { useLeaderboard } from "../../api/queries/leaderboard";
import { ApproveButton } from "./ApproveButton";
import { ForkButton } from "./ForkButton";

/** Fork and Approve beside Pause/Resume/Stop: both start from the leaderboard's best configuration. */
export function SteeringActions({ experiment }: { experiment: Experiment }) {
  // The same query (key and params) the live tab's leaderboard already holds: no extra request.
  const board = useLeaderboard(experiment.id, { limit: 10, sort: "weighted_score" });
  const best = board.data?.items[0];
  if (!best) return null;
  return (
    <div className="flex flex-wrap gap-2" data-testid="steering-actions">
      <ForkButton experimentId={experiment.id} experimentName={experiment.name} size="sm" />
      <ApproveButton runId={best.run_id} defaultName={experiment.name} label="Approve best" size="sm" />
    </div>
  );
}
