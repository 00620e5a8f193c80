import { useQuery } from "@tanstack/react-query";

import { api, unwrap } from "../client";
import { queryKeys, type EventListParams } from "./keys";

/** Persisted events with seq > after, oldest first (the polling fallback and history). */
export function fetchEvents(experimentId: string, params: EventListParams = {}, signal?: AbortSignal) {
  return unwrap(
    api.GET("/api/v1/experiments/{experiment_id}/events", {
      params: { path: { experiment_id: experimentId }, query: params },
      signal,
    }),
  );
}

export function useEvents(experimentId: string | undefined, params: EventListParams = {}) {
  return useQuery({
    queryKey: queryKeys.events.list(experimentId ?? "", params),
    queryFn: ({ signal }) => fetchEvents(experimentId!, params, signal),
    enabled: !!experimentId,
  });
}

/** Events of every experiment: the newest `limit` (`latest`), or those after a seq (polling fallback). */
export function fetchAllEvents(params: EventListParams & { latest?: boolean } = {}, signal?: AbortSignal) {
  return unwrap(api.GET("/api/v1/events", { params: { query: params }, signal }));
}
