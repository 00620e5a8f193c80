import { useQuery } from "@tanstack/react-query";

import { api, unwrap, type Run } from "../client";
import { queryKeys } from "./keys";

export const RUNS_PAGE = 500; // the API's largest page
export const RUNS_CAP = 10_000;

export interface AllRuns {
  items: Run[];
  /** Runs the experiment has. */
  total: number;
  /** True when `total` is above the cap and only the first `cap` runs were fetched. */
  capped: boolean;
}

async function page(experimentId: string, offset: number, signal?: AbortSignal) {
  return unwrap(
    api.GET("/api/v1/experiments/{experiment_id}/runs", {
      params: { path: { experiment_id: experimentId }, query: { limit: RUNS_PAGE, offset, sort: "created_at" } },
      signal,
    }),
  );
}

/** Every run of an experiment (pages of 500, four at a time) up to `cap`, for charts over the whole sweep. */
export async function fetchAllRuns(experimentId: string, cap = RUNS_CAP, signal?: AbortSignal): Promise<AllRuns> {
  const first = await page(experimentId, 0, signal);
  const wanted = Math.min(first.total, cap);
  const offsets: number[] = [];
  for (let offset = RUNS_PAGE; offset < wanted; offset += RUNS_PAGE) offsets.push(offset);
  const items = [...first.items];
  for (let i = 0; i < offsets.length; i += 4) {
    const pages = await Promise.all(offsets.slice(i, i + 4).map((offset) => page(experimentId, offset, signal)));
    for (const p of pages) items.push(...p.items);
  }
  return { items: items.slice(0, wanted), total: first.total, capped: first.total > cap };
}

export function useAllRuns(experimentId: string | undefined, options: { refetchInterval?: number | false } = {}) {
  return useQuery({
    queryKey: [...queryKeys.runs.ofExperiment(experimentId ?? ""), "all", RUNS_CAP] as const,
    queryFn: ({ signal }) => fetchAllRuns(experimentId!, RUNS_CAP, signal),
    enabled: !!experimentId,
    staleTime: 10_000,
    refetchInterval: options.refetchInterval,
  });
}
