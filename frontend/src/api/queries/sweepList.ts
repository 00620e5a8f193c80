import { useQuery } from "@tanstack/react-query";

import { api, unwrap } from "../client";

/** An experiment's sweeps, newest first (`number` counts from the first). */
export function useSweepList(experimentId: string | undefined, refreshKey?: unknown) {
  return useQuery({
    queryKey: ["sweeps", "list", experimentId ?? "", refreshKey ?? null] as const,
    queryFn: () => unwrap(api.GET("/api/v1/experiments/{experiment_id}/sweeps", { params: { path: { experiment_id: experimentId! } } })),
    enabled: !!experimentId,
    staleTime: 5_000,
  });
}
