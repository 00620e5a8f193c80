import { keepPreviousData, useQuery } from "@tanstack/react-query";

import { api, unwrap } from "../client";
import { queryKeys, type LeaderboardParams } from "./keys";

/** The top runs by weighted score (or by one scorer's name); rejected runs are left out. */
export function useLeaderboard(experimentId: string | undefined, params: LeaderboardParams = { limit: 10 }) {
  return useQuery({
    queryKey: queryKeys.leaderboard.list(experimentId ?? "", params),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/experiments/{experiment_id}/leaderboard", {
          params: { path: { experiment_id: experimentId! }, query: params },
        }),
      ),
    enabled: !!experimentId,
    placeholderData: keepPreviousData,
  });
}
