import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";

import { queryKeys } from "../../api/queries/keys";
import { getToken } from "../../lib/auth";
import { describeEvent, NOISY_TYPES, type LiveEvent, type TimelineEntry } from "../../lib/liveReducer";
import { openFeed, type FeedStatus } from "../../lib/ws";

export interface SweepProgress {
  completed: number;
  total: number;
  failed: number;
  cost: number;
  ts: string;
}

export interface DashboardFeedState {
  timeline: TimelineEntry[];
  typeCounts: Record<string, number>;
  progress: Record<string, SweepProgress>;
  experimentOf: Record<string, string>;
}

const LIMIT = 150;
const STATUS_TYPES = new Set(["sweep.started", "experiment.started", "experiment.paused", "experiment.resumed", "experiment.completed", "budget.exhausted"]);

export function foldDashboard(state: DashboardFeedState, events: LiveEvent[]): DashboardFeedState {
  let timeline = state.timeline;
  let typeCounts = state.typeCounts;
  let progress = state.progress;
  let experimentOf = state.experimentOf;
  const added: TimelineEntry[] = [];
  for (const event of events) {
    const experimentId = event.experiment_id ?? "";
    typeCounts = { ...typeCounts, [event.type]: (typeCounts[event.type] ?? 0) + 1 };
    const d = event.data ?? {};
    if ((event.type === "sweep.progress" || event.type === "experiment.completed" || event.type === "experiment.paused") && typeof d.total === "number") {
      progress = {
        ...progress,
        [experimentId]: {
          completed: Number(d.completed ?? 0),
          total: Number(d.total),
          failed: Number(d.failed ?? 0),
          cost: Number(d.cost_estimate ?? 0),
          ts: event.ts,
        },
      };
    } else if (event.type === "sweep.started") {
      progress = { ...progress, [experimentId]: { completed: 0, total: Number(d.total ?? 0), failed: 0, cost: 0, ts: event.ts } };
    }
    if (NOISY_TYPES.includes(event.type)) continue; // the global feed keeps milestones only
    const { summary, tone } = describeEvent(event);
    const key = event.seq != null ? `s${event.seq}` : `${event.type}-${event.ts}-${added.length}`;
    if (event.seq != null && timeline.some((t) => t.seq === event.seq)) continue;
    added.push({ key, seq: event.seq ?? null, type: event.type, ts: event.ts, run_id: event.run_id ?? null, sweep_id: event.sweep_id ?? null, summary, tone });
    experimentOf = { ...experimentOf, [key]: experimentId };
  }
  if (added.length) timeline = [...added.reverse(), ...timeline].slice(0, LIMIT);
  return { timeline, typeCounts, progress, experimentOf };
}

/** The global activity feed (/ws/dashboard): milestones of every experiment and sweep progress. */
export function useDashboardFeed() {
  const [state, setState] = useState<DashboardFeedState>({ timeline: [], typeCounts: {}, progress: {}, experimentOf: {} });
  const [feedStatus, setFeedStatus] = useState<FeedStatus>("connecting");
  const queryClient = useQueryClient();

  useEffect(() => {
    const feed = openFeed({
      path: "/ws/dashboard",
      token: getToken(),
      batchMs: 250,
      onStatus: setFeedStatus,
      onEvents: (events) => {
        setState((current) => foldDashboard(current, events));
        if (events.some((e) => STATUS_TYPES.has(e.type))) {
          void queryClient.invalidateQueries({ queryKey: queryKeys.experiments.all });
          void queryClient.invalidateQueries({ queryKey: queryKeys.admin.stats });
        }
      },
    });
    return feed.close;
  }, [queryClient]);

  return { state, feedStatus };
}
