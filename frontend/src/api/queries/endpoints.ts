import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap, type EndpointCreate, type EndpointUpdate } from "../client";
import { queryKeys, type ListParams } from "./keys";

export function useEndpoints(params: ListParams = { limit: 200, offset: 0 }) {
  return useQuery({
    queryKey: queryKeys.endpoints.list(params),
    queryFn: () => unwrap(api.GET("/api/v1/endpoints", { params: { query: params } })),
  });
}

export function useEndpoint(endpointId: string | undefined) {
  return useQuery({
    queryKey: queryKeys.endpoints.detail(endpointId ?? ""),
    queryFn: () =>
      unwrap(api.GET("/api/v1/endpoints/{endpoint_id}", { params: { path: { endpoint_id: endpointId! } } })),
    enabled: !!endpointId,
  });
}

export function useCreateEndpoint() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: EndpointCreate) => unwrap(api.POST("/api/v1/endpoints", { body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.endpoints.all }),
  });
}

export function useUpdateEndpoint(endpointId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: EndpointUpdate) =>
      unwrap(api.PUT("/api/v1/endpoints/{endpoint_id}", { params: { path: { endpoint_id: endpointId } }, body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.endpoints.all }),
  });
}

export function useDeleteEndpoint() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (endpointId: string) =>
      unwrap(api.DELETE("/api/v1/endpoints/{endpoint_id}", { params: { path: { endpoint_id: endpointId } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.endpoints.all }),
  });
}

/** Call the endpoint's /models: `{ok, models, latency_ms}` or `{ok: false, error}` (200 either way). */
export function useTestEndpoint() {
  return useMutation({
    mutationFn: (endpointId: string) =>
      unwrap(api.POST("/api/v1/endpoints/{endpoint_id}/test", { params: { path: { endpoint_id: endpointId } } })),
  });
}

/** The models an endpoint serves (via its test call), cached for a minute; for model pickers. */
export function useEndpointModels(endpointId: string | undefined) {
  return useQuery({
    queryKey: [...queryKeys.endpoints.detail(endpointId ?? ""), "models"],
    queryFn: () =>
      unwrap(api.POST("/api/v1/endpoints/{endpoint_id}/test", { params: { path: { endpoint_id: endpointId! } } })),
    enabled: !!endpointId,
    staleTime: 60_000,
  });
}
