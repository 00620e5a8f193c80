import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap } from "../client";
import { queryKeys } from "./keys";

/** Every scorer with its description and config JSON Schema (for the builder's scorer picker). */
export function useScorers() {
  return useQuery({
    queryKey: queryKeys.scorers.all,
    queryFn: () => unwrap(api.GET("/api/v1/scorers", { params: { query: { limit: 100 } } })),
    staleTime: 10 * 60_000,
  });
}

/** Re-score every run of an experiment from stored responses (no new LLM call). */
export function useRescore(experimentId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/experiments/{experiment_id}/rescore", { params: { path: { experiment_id: experimentId } } }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: queryKeys.runs.ofExperiment(experimentId) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.leaderboard.ofExperiment(experimentId) });
    },
  });
}

/** How well each LLM judge agrees with the human ratings of an experiment. */
export function useJudgeAgreement(experimentId: string | undefined) {
  return useQuery({
    queryKey: queryKeys.experiments.judgeAgreement(experimentId ?? ""),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/experiments/{experiment_id}/judge-agreement", {
          params: { path: { experiment_id: experimentId! } },
        }),
      ),
    enabled: !!experimentId,
  });
}
