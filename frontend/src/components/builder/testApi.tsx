// Test helpers for the builder, compare and run pages: a fake API on `fetch` and a router + query client.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { configure, render } from "@testing-library/react";
import type { ReactElement } from "react";
import { createMemoryRouter, RouterProvider } from "react-router-dom";
import { vi } from "vitest";

// The page tests wait on debounced estimates and chained queries; shared CI machines can be slow.
configure({ asyncUtilTimeout: 4000 });

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

export type Handler = (request: FakeRequest) => unknown;
export type Routes = Record<string, Handler | unknown>;

/** A JSON answer with a status other than 200. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}

/**
 * Answer `fetch` from a table of `"METHOD /api/v1/path"` → value or handler; path segments written
 * `:name` match anything. Unknown routes answer 404. Returns the recorded requests.
 */
export function fakeApi(routes: Routes): FakeRequest[] {
  const calls: FakeRequest[] = [];
  const table = Object.entries(routes).map(([key, value]) => {
    const [method, pattern] = key.split(" ");
    const regex = new RegExp(`^${pattern.replace(/:[a-z_]+/g, "[^/]+")}$`);
    return { method, regex, value };
  });
  vi.stubGlobal("fetch", async (input: Request | string, init?: RequestInit) => {
    const request = typeof input === "string" ? new Request(new URL(input, "http://localhost"), init) : input;
    const url = new URL(request.url);
    const text = request.method === "GET" ? "" : await request.text();
    const call: FakeRequest = { method: request.method, path: url.pathname, query: url.searchParams, body: text ? JSON.parse(text) : null };
    calls.push(call);
    const route = table.find((r) => r.method === request.method && r.regex.test(url.pathname));
    if (!route) return json(404, { detail: `No fake for ${request.method} ${url.pathname}`, code: "not_found" });
    const answer = typeof route.value === "function" ? (route.value as Handler)(call) : route.value;
    if (answer instanceof Reply) return json(answer.status, answer.body);
    return json(200, answer);
  });
  return calls;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

/** Render `element` at `path` (matched by `route`) with a fresh query client; other paths render their name. */
export function renderAt(element: ReactElement, route: string, path: string) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: 0 }, mutations: { retry: false } } });
  const router = createMemoryRouter(
    [
      { path: route, element },
      { path: "*", element: <p data-testid="navigated">navigated</p> },
    ],
    { initialEntries: [path] },
  );
  const result = render(
    <QueryClientProvider client={client}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return { ...result, router, client };
}

export const keywordScorer = {
  id: "keyword",
  description: "Fraction of keywords found in the output.",
  admin_only: false,
  manual: false,
  config_schema: {
    additionalProperties: false,
    properties: {
      keywords: { items: { type: "string" }, minItems: 1, title: "Keywords", type: "array" },
      mode: { default: "all", enum: ["all", "any"], title: "Mode", type: "string" },
      case_sensitive: { default: false, title: "Case Sensitive", type: "boolean" },
    },
    required: ["keywords"],
    title: "KeywordConfig",
    type: "object",
  },
};

export const lengthScorer = {
  id: "length",
  description: "1 inside min/max words or chars.",
  admin_only: false,
  manual: false,
  config_schema: {
    additionalProperties: false,
    properties: {
      min_words: { anyOf: [{ minimum: 0, type: "integer" }, { type: "null" }], default: null, title: "Min Words" },
      max_words: { anyOf: [{ minimum: 0, type: "integer" }, { type: "null" }], default: null, title: "Max Words" },
    },
    title: "LengthConfig",
    type: "object",
  },
};

export const endpoint = {
  id: "11111111-1111-1111-1111-111111111111",
  label: "local",
  url: "http://127.0.0.1:9999/v1",
  has_api_key: false,
  max_concurrency: 8,
  pricing: {},
  created_at: "2025-01-01T00:00:00Z",
};
