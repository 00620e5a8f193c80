import { keepPreviousData, useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";

import { api, unwrap, type Experiment, type SweepCreate, type SweepEstimateIn } from "../client";
import { queryKeys } from "./keys";

function refreshExperiment(queryClient: QueryClient, experimentId: string, experiment?: Experiment) {
  if (experiment) queryClient.setQueryData(queryKeys.experiments.detail(experimentId), experiment);
  void queryClient.invalidateQueries({ queryKey: queryKeys.experiments.all });
  void queryClient.invalidateQueries({ queryKey: queryKeys.projects.all });
  void queryClient.invalidateQueries({ queryKey: queryKeys.runs.ofExperiment(experimentId) });
  void queryClient.invalidateQueries({ queryKey: queryKeys.leaderboard.ofExperiment(experimentId) });
}

/** Start a grid, random or guided sweep (202; 409 while one is running). */
export function useStartSweep(experimentId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: SweepCreate) =>
      unwrap(
        api.POST("/api/v1/experiments/{experiment_id}/sweep", {
          params: { path: { experiment_id: experimentId } },
          body,
        }),
      ),
    onSuccess: () => refreshExperiment(queryClient, experimentId),
  });
}

function useSteer(experimentId: string, action: "pause" | "resume" | "stop") {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: () => {
      const options = { params: { path: { experiment_id: experimentId } } };
      if (action === "pause") return unwrap(api.POST("/api/v1/experiments/{experiment_id}/pause", options));
      if (action === "resume") return unwrap(api.POST("/api/v1/experiments/{experiment_id}/resume", options));
      return unwrap(api.POST("/api/v1/experiments/{experiment_id}/stop", options));
    },
    onSuccess: (experiment) => refreshExperiment(queryClient, experimentId, experiment),
  });
}

/** Let in-flight runs finish and start no new one. */
export const usePauseSweep = (experimentId: string) => useSteer(experimentId, "pause");
/** Continue with exactly the runs not yet done. */
export const useResumeSweep = (experimentId: string) => useSteer(experimentId, "resume");
/** Stop for good: pending runs are dropped and the experiment is completed. */
export const useStopSweep = (experimentId: string) => useSteer(experimentId, "stop");

/** Change the parameter space of the running or paused sweep: pending runs outside it are dropped, new ones added. */
export function useRedirectSweep(experimentId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (parameterSpace: Record<string, unknown>) =>
      unwrap(
        api.POST("/api/v1/experiments/{experiment_id}/redirect", {
          params: { path: { experiment_id: experimentId } },
          body: { parameter_space: parameterSpace },
        }),
      ),
    onSuccess: () => {
      refreshExperiment(queryClient, experimentId);
      void queryClient.invalidateQueries({ queryKey: queryKeys.experiments.detail(experimentId) });
    },
  });
}

/** What a sweep of a (possibly unsaved) document would cost: runs, calls, tokens and dollars. */
export function estimateSweep(body: SweepEstimateIn, signal?: AbortSignal) {
  return unwrap(api.POST("/api/v1/experiments/estimate", { body, signal }));
}

/**
 * The server's estimate of a document being edited; keeps showing the previous answer while the
 * next one is computed (so the numbers do not blink on every keystroke).
 */
export function useSweepEstimate(body: SweepEstimateIn | null, options: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: queryKeys.sweeps.estimate(body),
    queryFn: ({ signal }) => estimateSweep(body!, signal),
    enabled: !!body && (options.enabled ?? true),
    staleTime: 60_000,
    retry: false,
    placeholderData: keepPreviousData,
  });
}

/** Drop every cached response of an experiment. */
export function useClearExperimentCache(experimentId: string) {
  return useMutation({
    mutationFn: () =>
      unwrap(api.DELETE("/api/v1/experiments/{experiment_id}/cache", { params: { path: { experiment_id: experimentId } } })),
  });
}
