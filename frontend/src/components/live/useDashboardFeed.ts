import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";

import { fetchAllEvents } from "../../api/queries/events";
import { queryKeys } from "../../api/queries/keys";
import { getToken } from "../../lib/auth";
import { describeEvent, originOf, MILESTONE_TYPES, NOISY_TYPES, type LiveEvent, type TimelineEntry } from "../../lib/liveReducer";
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
const HISTORY = 100;
const POLL_PAGE = 500;
const MILESTONES = MILESTONE_TYPES;
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
    if ((event.type === "sweep.progress" || event.type === "experiment.completed" || event.type === "experiment.paused") && typeof event.data.total === "number") {
      const d = event.data;
      progress = {
        ...progress,
        [experimentId]: {
          completed: Number(d.completed ?? 0),
          total: Number(d.total),
          failed: Number(d.failed ?? 0),
          // What was paid (a cache hit costs nothing); older events only carry the answers' cost.
          cost: Number(d.cost_spent ?? d.cost_estimate ?? 0),
          ts: event.ts,
        },
      };
    } else if (event.type === "sweep.started") {
      progress = { ...progress, [experimentId]: { completed: 0, total: Number(event.data.total ?? 0), failed: 0, cost: 0, ts: event.ts } };
    }
    if (NOISY_TYPES.includes(event.type)) continue; // the global feed keeps milestones only
    const { summary, tone } = describeEvent(event);
    const key = event.seq != null ? `s${event.seq}` : `${event.type}-${event.ts}-${added.length}`;
    if (event.seq != null && timeline.some((t) => t.seq === event.seq)) continue;
    added.push({ key, seq: event.seq ?? null, type: event.type, ts: event.ts, run_id: event.run_id ?? null, sweep_id: event.sweep_id ?? null, summary, tone, origin: originOf(event) });
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
    const controller = new AbortController();
    let close: (() => void) | undefined;
    let cancelled = false;
    const onEvents = (events: LiveEvent[]) => {
      setState((current) => foldDashboard(current, events));
      if (events.some((e) => STATUS_TYPES.has(e.type))) {
        void queryClient.invalidateQueries({ queryKey: queryKeys.experiments.all });
        void queryClient.invalidateQueries({ queryKey: queryKeys.admin.stats });
      }
    };
    void (async () => {
      // History first (the newest milestones), so the feed is not empty on a quiet system; the socket
      // then replays whatever came after it and goes live.
      let after = 0;
      try {
        const history = await fetchAllEvents({ latest: true, limit: HISTORY, type: MILESTONES }, controller.signal);
        if (cancelled) return;
        setState((current) => foldDashboard(current, history.items as LiveEvent[]));
        after = history.next_after;
      } catch {
        // History is a nicety: the live feed below still brings everything from now on.
      }
      if (cancelled) return;
      const feed = openFeed({
        path: "/ws/dashboard",
        token: getToken(),
        after,
        batchMs: 250,
        onStatus: setFeedStatus,
        onEvents,
        poll: async (since, signal) => {
          const answer = await fetchAllEvents({ after: since, limit: POLL_PAGE }, signal);
          return { items: answer.items as LiveEvent[], next_after: answer.next_after };
        },
        pollPageSize: POLL_PAGE,
      });
      close = feed.close;
    })();
    return () => {
      cancelled = true;
      controller.abort();
      close?.();
    };
  }, [queryClient]);

  return { state, feedStatus };
}
