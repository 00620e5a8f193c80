import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { fakeApi, type FakeRequest } from "../builder/testApi";
import { useExperimentLive } from "./useExperimentLive";

const STORED = [
  { seq: 1, type: "sweep.started", data: { type: "grid", total: 2 } },
  { seq: 2, type: "run.started", data: {} , run_id: "r1" },
  { seq: 3, type: "run.failed", data: { status: "failed", error: "sample s1, stage a: HTTP 401" }, run_id: "r1" },
  { seq: 4, type: "run.failed", data: { status: "failed", error: "sample s1, stage a: HTTP 401" }, run_id: "r2" },
  { seq: 5, type: "experiment.completed", data: { completed: 2, total: 2, failed: 2, cached: 0, tokens_in: 0, tokens_out: 0, cost_estimate: 0, eta_s: 0 } },
].map((e) => ({ experiment_id: "exp-1", sweep_id: "sw-1", run_id: null, ts: "2026-12-01T12:00:00Z", ...e }));

/** The server's `GET /experiments/{id}/events`: after a seq, only the asked-for types. */
function serveEvents(request: FakeRequest) {
  const after = Number(request.query.get("after") ?? 0);
  const types = request.query.getAll("type");
  const items = STORED.filter((e) => e.seq > after && (types.length === 0 || types.includes(e.type)));
  return { items, next_after: items.length ? items[items.length - 1]!.seq : after };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("useExperimentLive", () => {
  it("keeps failed runs in the activity feed after a reload (history from GET /events)", async () => {
    fakeApi({ "GET /api/v1/experiments/:id/events": serveEvents });
    vi.stubGlobal("WebSocket", undefined); // polling only: it starts after the history
    const client = new QueryClient();
    const wrapper = ({ children }: { children: ReactNode }) => <QueryClientProvider client={client}>{children}</QueryClientProvider>;
    const { result } = renderHook(() => useExperimentLive("exp-1", "completed"), { wrapper });
    await waitFor(() => expect(result.current.state.status).toBe("completed"));
    await waitFor(() => expect(result.current.state.timeline.filter((t) => t.type === "run.failed")).toHaveLength(2));
    expect(result.current.state.progress.failed).toBe(2);
  });
});
