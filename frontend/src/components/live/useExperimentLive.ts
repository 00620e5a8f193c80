import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useReducer, useRef, useState } from "react";

import { api, unwrap } from "../../api/client";
import { fetchEvents } from "../../api/queries/events";
import { queryKeys } from "../../api/queries/keys";
import { getToken } from "../../lib/auth";
import { initialLiveState, liveReducer, type LiveEvent, type LiveStatus } from "../../lib/liveReducer";
import { openFeed, type FeedStatus } from "../../lib/ws";

/** Milestones read on open to rebuild the state without replaying every event of a big sweep. */
const HISTORY_TYPES = [
  "sweep.started",
  "experiment.started",
  "experiment.paused",
  "experiment.resumed",
  "experiment.completed",
  "budget.exhausted",
  "new_best_found",
  "rescore.completed",
  // Failures stay in the activity feed after a reload (they are few: one per failed run at most).
  "run.failed",
];
const HISTORY_PAGES = 5;
const PAGE = 1000;
/** Server lists (leaderboard, runs, experiment) are refetched at most this often while results stream in
 * (less often for big sweeps, where each refetch costs the server more). */
const REFRESH_MS = 1500;
const REFRESH_BIG_MS = 5000;

function asStatus(status: string | undefined): LiveStatus | null {
  return status === "running" || status === "paused" || status === "completed" ? status : status === "draft" ? "idle" : null;
}

async function countRuns(experimentId: string, sweepId: string, status?: "pending" | "running") {
  const page = await unwrap(
    api.GET("/api/v1/experiments/{experiment_id}/runs", {
      params: { path: { experiment_id: experimentId }, query: { sweep_id: sweepId, status, limit: 1, offset: 0 } },
    }),
  );
  return page.total;
}

/**
 * The live state of one experiment: history milestones first, a run-count snapshot of the current
 * sweep, then the WebSocket (or polling) feed from where the history ended. Server lists are
 * refreshed (throttled) as results arrive.
 */
export function useExperimentLive(experimentId: string | undefined, experimentStatus: string | undefined) {
  const [state, dispatch] = useReducer(liveReducer, undefined, () => initialLiveState());
  const [feedStatus, setFeedStatus] = useState<FeedStatus>("connecting");
  const [historyLoaded, setHistoryLoaded] = useState(false);
  const queryClient = useQueryClient();

  const knownStatus = asStatus(experimentStatus);
  useEffect(() => {
    if (knownStatus && historyLoaded) dispatch({ kind: "status", status: knownStatus });
  }, [knownStatus, historyLoaded]);

  useEffect(() => {
    if (!experimentId) return;
    let cancelled = false;
    let close: (() => void) | null = null;
    const controller = new AbortController();
    dispatch({ kind: "reset" });
    setHistoryLoaded(false);
    setFeedStatus("connecting");

    (async () => {
      let after = 0;
      try {
        const history: LiveEvent[] = [];
        for (let page = 0; page < HISTORY_PAGES; page += 1) {
          const answer = await fetchEvents(experimentId, { after, limit: PAGE, type: HISTORY_TYPES }, controller.signal);
          history.push(...(answer.items as LiveEvent[]));
          after = Math.max(after, answer.next_after);
          if (answer.items.length < PAGE) break;
        }
        if (cancelled) return;
        dispatch({ kind: "events", events: history });
        const latest = liveReducer(initialLiveState(), { kind: "events", events: history });
        const sweepId = latest.progress.sweepId;
        if (sweepId && (latest.status === "running" || latest.status === "paused")) {
          const [total, pending, running] = await Promise.all([
            countRuns(experimentId, sweepId),
            countRuns(experimentId, sweepId, "pending"),
            countRuns(experimentId, sweepId, "running"),
          ]);
          if (cancelled) return;
          dispatch({ kind: "snapshot", sweepId, completed: Math.max(0, total - pending - running), total });
        }
      } catch {
        // History is a nicety: the feed below still brings everything from now on.
      }
      if (cancelled) return;
      setHistoryLoaded(true);
      const feed = openFeed({
        path: `/ws/experiments/${experimentId}`,
        token: getToken(),
        after,
        onEvents: (events) => dispatch({ kind: "events", events }),
        onStatus: setFeedStatus,
        poll: async (since, signal) => {
          const answer = await fetchEvents(experimentId, { after: since, limit: PAGE }, signal);
          return { items: answer.items as LiveEvent[], next_after: answer.next_after };
        },
        pollPageSize: PAGE,
      });
      close = feed.close;
    })();

    return () => {
      cancelled = true;
      controller.abort();
      close?.();
    };
  }, [experimentId]);

  // Versions reached by the history replay are the baseline: only newer changes refetch.
  const baseline = useRef<{ results: number; status: number } | null>(null);
  useEffect(() => {
    if (!historyLoaded) baseline.current = null;
    else if (baseline.current === null) baseline.current = { results: state.resultsVersion, status: state.statusVersion };
  }, [historyLoaded, state.resultsVersion, state.statusVersion]);

  // Refresh server-side lists while results stream in, at most every REFRESH_MS.
  const lastRefresh = useRef(0);
  useEffect(() => {
    if (!experimentId || !baseline.current || state.resultsVersion <= baseline.current.results) return;
    const every = state.progress.total > 1000 ? REFRESH_BIG_MS : REFRESH_MS;
    const wait = Math.max(0, lastRefresh.current + every - Date.now());
    const timer = window.setTimeout(() => {
      lastRefresh.current = Date.now();
      void queryClient.invalidateQueries({ queryKey: queryKeys.leaderboard.ofExperiment(experimentId) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.runs.ofExperiment(experimentId) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.experiments.detail(experimentId) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.exports.ofExperiment(experimentId) });
    }, wait);
    return () => window.clearTimeout(timer);
  }, [experimentId, state.resultsVersion, state.progress.total, queryClient]);

  useEffect(() => {
    if (!experimentId || !baseline.current || state.statusVersion <= baseline.current.status) return;
    void queryClient.invalidateQueries({ queryKey: queryKeys.experiments.detail(experimentId) });
    void queryClient.invalidateQueries({ queryKey: queryKeys.experiments.all });
  }, [experimentId, state.statusVersion, queryClient]);

  return { state, feedStatus, historyLoaded };
}
