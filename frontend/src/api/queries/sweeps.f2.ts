import { keepPreviousData, useQuery } from "@tanstack/react-query";

import type { SweepEstimateIn } from "../client";
import { queryKeys } from "./keys";
import { estimateSweep } from "./sweeps";

/**
 * The server's estimate of a document being edited; keeps showing the previous answer while the
 * next one is computed (so the builder's numbers do not blink on every keystroke).
 */
export function useLiveSweepEstimate(body: SweepEstimateIn | null) {
  return useQuery({
    queryKey: queryKeys.sweeps.estimate(body),
    queryFn: ({ signal }) => estimateSweep(body!, signal),
    enabled: !!body,
    staleTime: 60_000,
    retry: false,
    placeholderData: keepPreviousData,
  });
}
