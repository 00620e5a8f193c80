// Query keys shared by every hook: invalidate by prefix (e.g. `queryKeys.runs.all`).

export interface ListParams {
  limit?: number;
  offset?: number;
}
export interface ExperimentListParams extends ListParams {
  project_id?: string;
  status?: "draft" | "running" | "paused" | "completed";
}
export interface RunListParams extends ListParams {
  sort?: string;
  status?: "pending" | "running" | "completed" | "failed" | "cached" | "pruned" | "cancelled";
  sweep_id?: string;
}
export interface LeaderboardParams {
  limit?: number;
  sort?: string;
  sweep_id?: string;
  /** Add runs stopped early by early stopping (scored on a subset of the samples), marked `pruned`. */
  include_pruned?: boolean;
}
export interface EventListParams {
  after?: number;
  limit?: number;
  type?: string[];
}
export type ExportKind = "best" | "env" | "yaml" | "report";

export const queryKeys = {
  health: ["health"] as const,
  auth: {
    me: ["auth", "me"] as const,
    status: ["auth", "status"] as const,
  },
  projects: {
    all: ["projects"] as const,
    list: (params: ListParams = {}) => ["projects", "list", params] as const,
    detail: (projectId: string) => ["projects", "detail", projectId] as const,
  },
  experiments: {
    all: ["experiments"] as const,
    list: (params: ExperimentListParams = {}) => ["experiments", "list", params] as const,
    detail: (experimentId: string) => ["experiments", "detail", experimentId] as const,
    judgeAgreement: (experimentId: string) => ["experiments", "judge-agreement", experimentId] as const,
    importance: (experimentId: string, sweepId?: string) => ["experiments", "importance", experimentId, sweepId ?? "all"] as const,
  },
  runs: {
    all: ["runs"] as const,
    ofExperiment: (experimentId: string) => ["runs", "list", experimentId] as const,
    list: (experimentId: string, params: RunListParams = {}) => ["runs", "list", experimentId, params] as const,
    detail: (runId: string) => ["runs", "detail", runId] as const,
    paired: (runA: string, runB: string) => ["runs", "paired", runA, runB] as const,
  },
  leaderboard: {
    all: ["leaderboard"] as const,
    ofExperiment: (experimentId: string) => ["leaderboard", experimentId] as const,
    list: (experimentId: string, params: LeaderboardParams = {}) => ["leaderboard", experimentId, params] as const,
  },
  endpoints: {
    all: ["endpoints"] as const,
    list: (params: ListParams = {}) => ["endpoints", "list", params] as const,
    detail: (endpointId: string) => ["endpoints", "detail", endpointId] as const,
  },
  scorers: {
    all: ["scorers"] as const,
  },
  admin: {
    settings: ["admin", "settings"] as const,
    stats: ["admin", "stats"] as const,
    apiKeys: ["admin", "api-keys"] as const,
    users: ["admin", "users"] as const,
    webhooks: ["admin", "webhooks"] as const,
    webhookDeliveries: (webhookId: string, offset = 0) => ["admin", "webhooks", webhookId, "deliveries", offset] as const,
  },
  sweeps: {
    estimate: (body: unknown) => ["sweeps", "estimate", body] as const,
  },
  proposals: {
    all: ["proposals"] as const,
    ofSweep: (sweepId: string, version = 0) => ["proposals", sweepId, version] as const,
  },
  reviews: {
    ofRun: (runId: string) => ["reviews", "run", runId] as const,
    queues: ["reviews", "queue"] as const,
    queue: (experimentId: string, top: number) => ["reviews", "queue", experimentId, top] as const,
  },
  exports: {
    ofExperiment: (experimentId: string) => ["exports", experimentId] as const,
    one: (experimentId: string, kind: ExportKind, sweepId?: string) => ["exports", experimentId, kind, sweepId ?? "all"] as const,
  },
  steering: {
    all: ["steering"] as const,
    configs: (projectId: string, params: ListParams = {}) => ["steering", "configs", projectId, params] as const,
    exports: (projectId: string, params: ListParams = {}) => ["steering", "exports", projectId, params] as const,
  },
  events: {
    ofExperiment: (experimentId: string) => ["events", experimentId] as const,
    list: (experimentId: string, params: EventListParams = {}) => ["events", experimentId, params] as const,
  },
};
