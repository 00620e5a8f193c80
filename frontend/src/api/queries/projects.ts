import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap, type Schemas } from "../client";
import { queryKeys, type ListParams } from "./keys";

export function useProjects(params: ListParams = { limit: 100, offset: 0 }) {
  return useQuery({
    queryKey: queryKeys.projects.list(params),
    queryFn: () => unwrap(api.GET("/api/v1/projects", { params: { query: params } })),
    placeholderData: keepPreviousData,
  });
}

/** A project with its experiments (status, run count, best score). */
export function useProject(projectId: string | undefined) {
  return useQuery({
    queryKey: queryKeys.projects.detail(projectId ?? ""),
    queryFn: () => unwrap(api.GET("/api/v1/projects/{project_id}", { params: { path: { project_id: projectId! } } })),
    enabled: !!projectId,
  });
}

export function useCreateProject() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["ProjectCreate"]) => unwrap(api.POST("/api/v1/projects", { body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.projects.all }),
  });
}

export function useUpdateProject(projectId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["ProjectUpdate"]) =>
      unwrap(api.PUT("/api/v1/projects/{project_id}", { params: { path: { project_id: projectId } }, body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.projects.all }),
  });
}

export function useDeleteProject() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (projectId: string) =>
      unwrap(api.DELETE("/api/v1/projects/{project_id}", { params: { path: { project_id: projectId } } })),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: queryKeys.projects.all });
      void queryClient.invalidateQueries({ queryKey: queryKeys.experiments.all });
    },
  });
}
