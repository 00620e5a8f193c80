// Webhook signing secrets, test pings and the delivery log (list/create/delete live in admin.ts).
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap } from "../client";
import { queryKeys } from "./keys";

export const DELIVERIES_PAGE = 20;

export function useWebhookDeliveries(webhookId: string | null, offset = 0) {
  return useQuery({
    queryKey: queryKeys.admin.webhookDeliveries(webhookId ?? "", offset),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/webhooks/{webhook_id}/deliveries", {
          params: { path: { webhook_id: webhookId ?? "" }, query: { limit: DELIVERIES_PAGE, offset } },
        }),
      ),
    enabled: !!webhookId,
    placeholderData: keepPreviousData,
    // Retries are scheduled in the background: refresh while any delivery is still pending.
    refetchInterval: (query) => (query.state.data?.items.some((d) => d.next_attempt_at) ? 2000 : false),
  });
}

export function useRotateWebhookSecret() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (webhookId: string) =>
      unwrap(api.POST("/api/v1/webhooks/{webhook_id}/rotate-secret", { params: { path: { webhook_id: webhookId } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.admin.webhooks }),
  });
}

export function useTestWebhook() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (webhookId: string) =>
      unwrap(api.POST("/api/v1/webhooks/{webhook_id}/test", { params: { path: { webhook_id: webhookId } } })),
    onSuccess: (_, webhookId) =>
      queryClient.invalidateQueries({ queryKey: ["admin", "webhooks", webhookId, "deliveries"] }),
  });
}
