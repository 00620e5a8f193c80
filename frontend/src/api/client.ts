// The typed API client: paths and bodies come from schema.d.ts, generated from the backend's
// OpenAPI by `make api-client` (never edit schema.d.ts by hand).
import createClient, { type Middleware } from "openapi-fetch";

import { getToken } from "../lib/auth";
import { ApiError } from "./errors";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Project = Schemas["ProjectOut"];
export type ProjectDetail = Schemas["ProjectDetail"];
export type Experiment = Schemas["ExperimentOut"];
export type ExperimentSummary = Schemas["ExperimentSummary"];
export type ExperimentCreate = Schemas["ExperimentCreate"];
export type ExperimentUpdate = Schemas["ExperimentUpdate"];
export type Run = Schemas["RunOut"];
export type RunDetail = Schemas["RunDetail"];
export type LeaderboardEntry = Schemas["LeaderboardEntry"];
export type Endpoint = Schemas["EndpointOut"];
export type EndpointCreate = Schemas["EndpointCreate"];
export type EndpointUpdate = Schemas["EndpointUpdate"];
export type EndpointTest = Schemas["EndpointTestOut"];
export type Scorer = Schemas["ScorerInfo"];
export type User = Schemas["UserOut"];
export type ApiKey = Schemas["ApiKeyOut"];
export type ApiKeyCreated = Schemas["ApiKeyCreated"];
export type Settings = Schemas["SettingsOut"];
export type SettingsUpdate = Schemas["SettingsUpdate"];
export type Stats = Schemas["StatsOut"];
export type SweepCreate = Schemas["SweepCreate"];
export type SweepOut = Schemas["SweepOut"];
export type SweepEstimateIn = Schemas["SweepEstimateIn"];
export type SweepEstimate = Schemas["SweepEstimateOut"];
export type LiveEventOut = Schemas["EventsPage"]["items"][number];
export type EventsPage = Schemas["EventsPage"];
export type ScoreIn = Schemas["ScoreIn"];
export type Health = Schemas["HealthOut"];
export type Webhook = Schemas["WebhookOut"];
export type WebhookWithSecret = Schemas["WebhookWithSecret"];
export type WebhookDelivery = Schemas["WebhookDeliveryOut"];
export type Page<T> = { items: T[]; total: number; limit: number; offset: number };

const authMiddleware: Middleware = {
  onRequest({ request }) {
    const token = getToken();
    if (token && !request.headers.has("Authorization")) request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  },
};

/** Paths in schema.d.ts already start with /api/v1, so the base is the page's own origin. */
export const api = createClient<paths>({
  baseUrl: typeof window !== "undefined" ? window.location.origin : "",
  // Resolve fetch at call time so tests can stub it.
  fetch: (request: Request) => globalThis.fetch(request),
});
api.use(authMiddleware);

interface ClientResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The answer's data, or an ApiError with a readable sentence. */
export async function unwrap<T>(pending: Promise<ClientResult<T>>): Promise<T> {
  const { data, error, response } = await pending;
  if (!response.ok || error !== undefined) throw ApiError.from(response.status, error);
  return data as T;
}
