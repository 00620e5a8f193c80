import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap, type Schemas } from "../client";
import { queryKeys, type ListParams } from "./keys";

export type SavedConfig = Schemas["SavedConfigOut"];
export type ExportRecord = Schemas["ExportRecordOut"];

/** A project's saved (approved) configurations, latest approval first. */
export function useSavedConfigs(projectId: string | undefined, params: ListParams = { limit: 20, offset: 0 }) {
  return useQuery({
    queryKey: queryKeys.steering.configs(projectId ?? "", params),
    queryFn: () =>
      unwrap(api.GET("/api/v1/projects/{project_id}/configs", { params: { path: { project_id: projectId! }, query: params } })),
    enabled: !!projectId,
    placeholderData: keepPreviousData,
  });
}

/** A project's export history, newest first: one row per export served. */
export function useExportHistory(projectId: string | undefined, params: ListParams = { limit: 20, offset: 0 }) {
  return useQuery({
    queryKey: queryKeys.steering.exports(projectId ?? "", params),
    queryFn: () =>
      unwrap(api.GET("/api/v1/projects/{project_id}/exports", { params: { path: { project_id: projectId! }, query: params } })),
    enabled: !!projectId,
    placeholderData: keepPreviousData,
  });
}

/** Fork an experiment from a run (default: its best) into a new draft experiment. */
export function useForkExperiment(experimentId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["ForkCreate"]) =>
      unwrap(api.POST("/api/v1/experiments/{experiment_id}/fork", { params: { path: { experiment_id: experimentId } }, body })),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: queryKeys.experiments.all });
      void queryClient.invalidateQueries({ queryKey: queryKeys.projects.all });
    },
  });
}

/** Approve a run: its configuration becomes the project's saved configuration (and the export default). */
export function useApproveRun(runId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["ApproveIn"]) =>
      unwrap(api.POST("/api/v1/runs/{run_id}/approve", { params: { path: { run_id: runId } }, body })),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: queryKeys.steering.all });
      void queryClient.invalidateQueries({ queryKey: ["exports"] });
    },
  });
}
