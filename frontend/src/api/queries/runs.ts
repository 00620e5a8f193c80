import { keepPreviousData, queryOptions, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap, type Run, type ScoreIn, type Schemas } from "../client";
import { queryKeys, type RunListParams } from "./keys";

/** Query options for one page of runs (for useQueries over the pages a virtual list shows). */
export function runsPageOptions(experimentId: string, params: RunListParams) {
  return queryOptions({
    queryKey: queryKeys.runs.list(experimentId, params),
    queryFn: ({ signal }) =>
      unwrap(
        api.GET("/api/v1/experiments/{experiment_id}/runs", {
          params: { path: { experiment_id: experimentId }, query: params },
          signal,
        }),
      ),
    staleTime: 5_000,
  });
}

/** One page of an experiment's runs, sorted server-side (a run field or any score name, `-` for descending). */
export function useRuns(experimentId: string | undefined, params: RunListParams, options: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: queryKeys.runs.list(experimentId ?? "", params),
    queryFn: ({ signal }) =>
      unwrap(
        api.GET("/api/v1/experiments/{experiment_id}/runs", {
          params: { path: { experiment_id: experimentId! }, query: params },
          signal,
        }),
      ),
    enabled: !!experimentId && (options.enabled ?? true),
    placeholderData: keepPreviousData,
    staleTime: 5_000,
  });
}

/** A run with every stage's prompt and response per sample, and its score details. */
export function useRun(runId: string | undefined) {
  return useQuery({
    queryKey: queryKeys.runs.detail(runId ?? ""),
    queryFn: () => unwrap(api.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: runId! } } })),
    enabled: !!runId,
  });
}

/** Run B minus run A per common sample: mean, 95% interval and Wilcoxon p-value (computed on the server). */
export function usePairedDifference(runA: string | undefined, runB: string | undefined) {
  return useQuery({
    queryKey: queryKeys.runs.paired(runA ?? "", runB ?? ""),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/runs/{run_id}/paired-difference/{other_run_id}", {
          params: { path: { run_id: runA!, other_run_id: runB! } },
        }),
      ),
    enabled: !!runA && !!runB,
  });
}

function useInvalidateRun() {
  const queryClient = useQueryClient();
  return (run: { id: string; experiment_id: string }) => {
    void queryClient.invalidateQueries({ queryKey: queryKeys.runs.detail(run.id) });
    void queryClient.invalidateQueries({ queryKey: queryKeys.runs.ofExperiment(run.experiment_id) });
    void queryClient.invalidateQueries({ queryKey: queryKeys.leaderboard.ofExperiment(run.experiment_id) });
  };
}

/** Store a human rating: `{value}` in [0, 1], `{rating}` 1–5 or `{thumbs}`, with an optional comment. */
export function useScoreRun(runId: string) {
  const queryClient = useQueryClient();
  const invalidate = useInvalidateRun();
  return useMutation({
    mutationFn: (body: ScoreIn) => unwrap(api.POST("/api/v1/runs/{run_id}/score", { params: { path: { run_id: runId } }, body })),
    onSuccess: (run) => {
      queryClient.setQueryData(queryKeys.runs.detail(runId), run);
      invalidate(run);
    },
  });
}

/** Reject (or un-reject) a run: rejected runs leave the leaderboard. */
export function useSetRunRejected(runId: string) {
  const invalidate = useInvalidateRun();
  return useMutation({
    mutationFn: (rejected: boolean) =>
      unwrap(api.PUT("/api/v1/runs/{run_id}", { params: { path: { run_id: runId } }, body: { rejected } })),
    onSuccess: invalidate,
  });
}

/** Execute one run with single-value overrides and answer it when done. */
export function useCreateRun() {
  const invalidate = useInvalidateRun();
  return useMutation({
    mutationFn: (body: Schemas["AdHocRun"]) => unwrap(api.POST("/api/v1/runs", { body })),
    onSuccess: invalidate,
  });
}

/** Drop a run's cached responses so the next identical call goes to the LLM again. */
export function useInvalidateRunCache(runId: string) {
  return useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/v1/runs/{run_id}/cache", { params: { path: { run_id: runId } } })),
  });
}

export const RUNS_PAGE = 500; // the API's largest page
export const RUNS_CAP = 10_000;

export interface AllRuns {
  items: Run[];
  /** Runs the experiment has. */
  total: number;
  /** True when `total` is above the cap and only the first `cap` runs were fetched. */
  capped: boolean;
}

async function page(experimentId: string, offset: number, signal?: AbortSignal, sweepId?: string) {
  return unwrap(
    api.GET("/api/v1/experiments/{experiment_id}/runs", {
      params: { path: { experiment_id: experimentId }, query: { limit: RUNS_PAGE, offset, sort: "created_at", ...(sweepId ? { sweep_id: sweepId } : {}) } },
      signal,
    }),
  );
}

/** Every run of an experiment (pages of 500, four at a time) up to `cap`, for charts over the whole sweep. */
export async function fetchAllRuns(experimentId: string, cap = RUNS_CAP, signal?: AbortSignal, sweepId?: string): Promise<AllRuns> {
  const first = await page(experimentId, 0, signal, sweepId);
  const wanted = Math.min(first.total, cap);
  const offsets: number[] = [];
  for (let offset = RUNS_PAGE; offset < wanted; offset += RUNS_PAGE) offsets.push(offset);
  const items = [...first.items];
  for (let i = 0; i < offsets.length; i += 4) {
    const pages = await Promise.all(offsets.slice(i, i + 4).map((offset) => page(experimentId, offset, signal, sweepId)));
    for (const p of pages) items.push(...p.items);
  }
  return { items: items.slice(0, wanted), total: first.total, capped: first.total > cap };
}

export function useAllRuns(experimentId: string | undefined, options: { refetchInterval?: number | false; sweepId?: string } = {}) {
  return useQuery({
    queryKey: [...queryKeys.runs.ofExperiment(experimentId ?? ""), "all", RUNS_CAP, options.sweepId ?? "all"] as const,
    queryFn: ({ signal }) => fetchAllRuns(experimentId!, RUNS_CAP, signal, options.sweepId),
    enabled: !!experimentId,
    staleTime: 10_000,
    refetchInterval: options.refetchInterval,
  });
}
