import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap, type Schemas, type SettingsUpdate } from "../client";
import { queryKeys } from "./keys";

export function useSettings(options: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: queryKeys.admin.settings,
    queryFn: () => unwrap(api.GET("/api/v1/admin/settings")),
    enabled: options.enabled ?? true,
  });
}

export function useUpdateSettings() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: SettingsUpdate) => unwrap(api.PUT("/api/v1/admin/settings", { body })),
    onSuccess: (settings) => queryClient.setQueryData(queryKeys.admin.settings, settings),
  });
}

/** Counts of projects, experiments, runs by status, LLM calls and cache usage. */
export function useStats(options: { enabled?: boolean; refetchInterval?: number } = {}) {
  return useQuery({
    queryKey: queryKeys.admin.stats,
    queryFn: () => unwrap(api.GET("/api/v1/admin/stats")),
    enabled: options.enabled ?? true,
    refetchInterval: options.refetchInterval,
  });
}

export function useApiKeys() {
  return useQuery({
    queryKey: queryKeys.admin.apiKeys,
    queryFn: () => unwrap(api.GET("/api/v1/admin/api-keys", { params: { query: { limit: 500 } } })),
  });
}

/** Create an API key: the answer holds the key itself, shown this once. */
export function useCreateApiKey() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["ApiKeyCreate"]) => unwrap(api.POST("/api/v1/admin/api-keys", { body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.admin.apiKeys }),
  });
}

export function useDeleteApiKey() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (keyId: string) =>
      unwrap(api.DELETE("/api/v1/admin/api-keys/{key_id}", { params: { path: { key_id: keyId } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.admin.apiKeys }),
  });
}

export function useUsers() {
  return useQuery({
    queryKey: queryKeys.admin.users,
    queryFn: () => unwrap(api.GET("/api/v1/admin/users", { params: { query: { limit: 500 } } })),
  });
}

export function useCreateUser() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["UserCreate"]) => unwrap(api.POST("/api/v1/admin/users", { body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.admin.users }),
  });
}

export function useDeleteUser() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (userId: string) =>
      unwrap(api.DELETE("/api/v1/admin/users/{user_id}", { params: { path: { user_id: userId } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.admin.users }),
  });
}

export function useWebhooks() {
  return useQuery({
    queryKey: queryKeys.admin.webhooks,
    queryFn: () => unwrap(api.GET("/api/v1/webhooks", { params: { query: { limit: 500 } } })),
  });
}

export function useCreateWebhook() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["WebhookCreate"]) => unwrap(api.POST("/api/v1/webhooks", { body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.admin.webhooks }),
  });
}

export function useDeleteWebhook() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (webhookId: string) =>
      unwrap(api.DELETE("/api/v1/webhooks/{webhook_id}", { params: { path: { webhook_id: webhookId } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.admin.webhooks }),
  });
}
