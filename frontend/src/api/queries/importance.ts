import { useQuery } from "@tanstack/react-query";

import { api, unwrap } from "../client";
import { queryKeys } from "./keys";

/** Optuna's PED-ANOVA importance of every swept key over the experiment's (or one sweep's) scored runs. */
export function useImportance(experimentId: string | undefined, sweepId?: string, options: { refetchInterval?: number | false } = {}) {
  return useQuery({
    queryKey: queryKeys.experiments.importance(experimentId ?? "", sweepId),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/experiments/{experiment_id}/importance", {
          params: { path: { experiment_id: experimentId! }, query: sweepId ? { sweep_id: sweepId } : {} },
        }),
      ),
    enabled: !!experimentId,
    staleTime: 10_000,
    refetchInterval: options.refetchInterval,
  });
}
