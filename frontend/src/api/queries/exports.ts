import { useQuery } from "@tanstack/react-query";

import { api } from "../client";
import { ApiError } from "../errors";
import { queryKeys, type ExportKind } from "./keys";

export const EXPORT_FORMATS: Record<ExportKind, { label: string; filename: string; mime: string }> = {
  best: { label: "JSON", filename: "best-config.json", mime: "application/json" },
  yaml: { label: "YAML", filename: "best-config.yaml", mime: "application/yaml" },
  env: { label: ".env", filename: "best-config.env", mime: "text/plain" },
  report: { label: "Report", filename: "report.md", mime: "text/markdown" },
};

/** One export as text (JSON pretty-printed); 404 `no_completed_runs` while there is nothing to export. */
export async function fetchExport(experimentId: string, kind: ExportKind, signal?: AbortSignal, sweepId?: string): Promise<string> {
  const options = { params: { path: { experiment_id: experimentId }, query: sweepId ? { sweep_id: sweepId } : {} }, signal };
  if (kind === "best") {
    const { data, error, response } = await api.GET("/api/v1/experiments/{experiment_id}/export/best", options);
    if (!response.ok) throw ApiError.from(response.status, error);
    return JSON.stringify(data, null, 2);
  }
  const text = { ...options, parseAs: "text" as const };
  const answer =
    kind === "env"
      ? await api.GET("/api/v1/experiments/{experiment_id}/export/env", text)
      : kind === "yaml"
        ? await api.GET("/api/v1/experiments/{experiment_id}/export/yaml", text)
        : await api.GET("/api/v1/experiments/{experiment_id}/export/report", text);
  if (!answer.response.ok) throw ApiError.from(answer.response.status, answer.error);
  return String(answer.data ?? "");
}

export function useExport(experimentId: string | undefined, kind: ExportKind, options: { enabled?: boolean; sweepId?: string } = {}) {
  return useQuery({
    queryKey: queryKeys.exports.one(experimentId ?? "", kind, options.sweepId),
    queryFn: ({ signal }) => fetchExport(experimentId!, kind, signal, options.sweepId),
    enabled: !!experimentId && (options.enabled ?? true),
    retry: false,
  });
}
