import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap } from "../client";
import { queryKeys } from "./keys";

/** Every rating of a run's outputs (yours marked `mine`) and their mean. */
export function useRunRatings(runId: string | undefined) {
  return useQuery({
    queryKey: queryKeys.reviews.ofRun(runId ?? ""),
    queryFn: () => unwrap(api.GET("/api/v1/runs/{run_id}/ratings", { params: { path: { run_id: runId! } } })),
    enabled: !!runId,
  });
}

/** Rate one output 1-5 (null: take the rating back); the run's human score and the queue follow. */
export function useRateOutput() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ runId, sampleId, rating }: { runId: string; sampleId: string; rating: number | null }) => {
      const path = { run_id: runId, sample_id: sampleId };
      return unwrap(
        rating === null
          ? api.DELETE("/api/v1/runs/{run_id}/samples/{sample_id}/rating", { params: { path } })
          : api.PUT("/api/v1/runs/{run_id}/samples/{sample_id}/rating", { params: { path }, body: { rating } }),
      );
    },
    onSuccess: (data, { runId }) => {
      queryClient.setQueryData(queryKeys.reviews.ofRun(runId), data);
      void queryClient.invalidateQueries({ queryKey: queryKeys.runs.detail(runId) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.reviews.queues });
      void queryClient.invalidateQueries({ queryKey: queryKeys.leaderboard.all });
      void queryClient.invalidateQueries({ queryKey: ["experiments", "judge-agreement"] });
    },
  });
}

/** Unrated outputs of the top runs, best run first. */
export function useReviewQueue(experimentId: string | undefined, top = 10) {
  return useQuery({
    queryKey: queryKeys.reviews.queue(experimentId ?? "", top),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/experiments/{experiment_id}/review-queue", {
          params: { path: { experiment_id: experimentId! }, query: { top, limit: 200 } },
        }),
      ),
    enabled: !!experimentId,
    placeholderData: keepPreviousData,
  });
}
