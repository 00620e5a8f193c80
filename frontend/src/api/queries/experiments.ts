import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap, type ExperimentCreate, type ExperimentUpdate } from "../client";
import { queryKeys, type ExperimentListParams } from "./keys";

export function useExperiments(params: ExperimentListParams = { limit: 50, offset: 0 }, options: { refetchInterval?: number } = {}) {
  return useQuery({
    queryKey: queryKeys.experiments.list(params),
    queryFn: () => unwrap(api.GET("/api/v1/experiments", { params: { query: params } })),
    placeholderData: keepPreviousData,
    refetchInterval: options.refetchInterval,
  });
}

/** The full experiment document plus status, run count, best score and grid size. */
export function useExperiment(experimentId: string | undefined) {
  return useQuery({
    queryKey: queryKeys.experiments.detail(experimentId ?? ""),
    queryFn: () =>
      unwrap(api.GET("/api/v1/experiments/{experiment_id}", { params: { path: { experiment_id: experimentId! } } })),
    enabled: !!experimentId,
  });
}

function useInvalidateExperimentLists() {
  const queryClient = useQueryClient();
  return () => {
    void queryClient.invalidateQueries({ queryKey: queryKeys.experiments.all });
    void queryClient.invalidateQueries({ queryKey: queryKeys.projects.all });
  };
}

export function useCreateExperiment() {
  const invalidate = useInvalidateExperimentLists();
  return useMutation({
    mutationFn: (body: ExperimentCreate) => unwrap(api.POST("/api/v1/experiments", { body })),
    onSuccess: invalidate,
  });
}

/** PUT a changed document; changing scoring_config re-scores every run (so runs are refetched). */
export function useUpdateExperiment(experimentId: string) {
  const queryClient = useQueryClient();
  const invalidate = useInvalidateExperimentLists();
  return useMutation({
    mutationFn: (body: ExperimentUpdate) =>
      unwrap(
        api.PUT("/api/v1/experiments/{experiment_id}", { params: { path: { experiment_id: experimentId } }, body }),
      ),
    onSuccess: (experiment) => {
      queryClient.setQueryData(queryKeys.experiments.detail(experimentId), experiment);
      invalidate();
      void queryClient.invalidateQueries({ queryKey: queryKeys.runs.ofExperiment(experimentId) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.leaderboard.ofExperiment(experimentId) });
    },
  });
}

export function useDeleteExperiment() {
  const invalidate = useInvalidateExperimentLists();
  return useMutation({
    mutationFn: (experimentId: string) =>
      unwrap(api.DELETE("/api/v1/experiments/{experiment_id}", { params: { path: { experiment_id: experimentId } } })),
    onSuccess: invalidate,
  });
}
