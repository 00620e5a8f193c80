import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { LeaderboardEntry } from "../../api/client";
import type { LiveRun } from "../../lib/liveReducer";
import { Leaderboard } from "./Leaderboard";
import { mergeLeaderboard } from "./mergeLeaderboard";

const config = (model: string, temperature: number) => ({
  stages: [{ name: "extract", model, endpoint_id: "e1", system_prompt: null, prompt_template: "{{ input }}", params: { temperature } }],
  vars: {},
});

function entry(runId: string, weighted: number, keyword: number, model = "m1", temperature = 0.1): LeaderboardEntry {
  return {
    rank: 0,
    run_id: runId,
    config: config(model, temperature),
    config_hash: `hash-${runId}`,
    weighted_score: weighted,
    scores: { keyword, length: 1 },
    tokens_in: 100,
    tokens_out: 50,
    cost_estimate: 0.002,
    duration_ms: 1200,
    status: "completed",
    origin: "grid",
    runs: 1,
    tokens_in_spent: 100,
    tokens_out_spent: 50,
    cost_spent: 0.002,
    cost_saved: 0,
    llm_calls_paid: 1,
    cache_hits: 0,
  };
}

function live(runId: string, weighted: number, keyword = weighted, status = "completed"): LiveRun {
  return {
    run_id: runId,
    status,
    weighted_score: weighted,
    scores: { keyword, length: 1 },
    config: config(`m2-${runId}`, 0.9), // every live run its own configuration
    config_hash: null,
    tokens_in: 10,
    tokens_out: 5,
    cost_estimate: 0.001,
    duration_ms: 300,
    origin: "sampler",
    seq: 1,
  };
}

const SERVER = [entry("run-aaaaaaaa", 0.9, 0.5), entry("run-bbbbbbbb", 0.8, 1.0, "m2", 0.5), entry("run-cccccccc", 0.6, 0.7)];

/** The server sorts: answer the leaderboard by the requested key, cut to the limit. */
function serveLeaderboard(items: LeaderboardEntry[]) {
  return vi.fn(async (request: Request) => {
    const url = new URL(request.url);
    const sort = url.searchParams.get("sort") ?? "weighted_score";
    const limit = Number(url.searchParams.get("limit") ?? 10);
    const value = (e: LeaderboardEntry) => (sort === "weighted_score" ? e.weighted_score! : e.scores[sort]!);
    const sorted = [...items].sort((a, b) => value(b) - value(a)).slice(0, limit).map((e, i) => ({ ...e, rank: i + 1 }));
    return new Response(JSON.stringify({ items: sorted }), { status: 200, headers: { "Content-Type": "application/json" } });
  });
}

function wrapper(client: QueryClient) {
  return ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={client}>
      <MemoryRouter>{children}</MemoryRouter>
    </QueryClientProvider>
  );
}

const rowIds = () => screen.getAllByTestId("leaderboard-row").map((row) => row.getAttribute("data-run-id"));

describe("Leaderboard", () => {
  let client: QueryClient;
  beforeEach(() => {
    client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("renders the server's rows with scores and swept values", async () => {
    const fetchMock = serveLeaderboard(SERVER);
    vi.stubGlobal("fetch", fetchMock);
    render(<Leaderboard experimentId="exp-1" sweptKeys={["model", "temperature"]} scorerNames={["keyword", "length"]} />, {
      wrapper: wrapper(client),
    });
    await waitFor(() => expect(screen.getAllByTestId("leaderboard-row")).toHaveLength(3));
    expect(rowIds()).toEqual(["run-aaaaaaaa", "run-bbbbbbbb", "run-cccccccc"]);
    const first = within(screen.getAllByTestId("leaderboard-row")[0]!);
    expect(first.getByTestId("leaderboard-score")).toHaveTextContent("0.900");
    expect(first.getByText("m1")).toBeInTheDocument();
    expect(first.getByRole("link", { name: /run-aaaa details/i })).toHaveAttribute("href", "/runs/run-aaaaaaaa");
    const url = new URL((fetchMock.mock.calls[0]![0] as Request).url);
    expect(url.pathname).toBe("/api/v1/experiments/exp-1/leaderboard");
    expect(url.searchParams.get("sort")).toBe("weighted_score");
  });

  it("moves a better run in as soon as it arrives live", async () => {
    vi.stubGlobal("fetch", serveLeaderboard(SERVER));
    const props = { experimentId: "exp-1", sweptKeys: ["model"], scorerNames: ["keyword", "length"] };
    const { rerender } = render(<Leaderboard {...props} liveRuns={[]} />, { wrapper: wrapper(client) });
    await waitFor(() => expect(screen.getAllByTestId("leaderboard-row")).toHaveLength(3));

    rerender(<Leaderboard {...props} liveRuns={[live("run-new", 0.95), live("run-meh", 0.7), live("run-fail", 0.99, 0.99, "failed")]} />);
    expect(rowIds()).toEqual(["run-new", "run-aaaaaaaa", "run-bbbbbbbb", "run-meh", "run-cccccccc"]);
    const ranks = screen.getAllByTestId("leaderboard-row").map((row) => row.querySelector("td")!.textContent);
    expect(ranks).toEqual(["1", "2", "3", "4", "5"]);
  });

  it("re-ranks by any scorer, server-side", async () => {
    const fetchMock = serveLeaderboard(SERVER);
    vi.stubGlobal("fetch", fetchMock);
    render(<Leaderboard experimentId="exp-1" sweptKeys={[]} scorerNames={["keyword", "length"]} liveRuns={[live("run-live", 0.5, 0.8)]} />, {
      wrapper: wrapper(client),
    });
    await waitFor(() => expect(screen.getAllByTestId("leaderboard-row")).toHaveLength(4));
    await userEvent.selectOptions(screen.getByTestId("leaderboard-sort"), "keyword");
    await waitFor(() => expect(rowIds()).toEqual(["run-bbbbbbbb", "run-live", "run-cccccccc", "run-aaaaaaaa"]));
    const last = new URL((fetchMock.mock.calls.at(-1)![0] as Request).url);
    expect(last.searchParams.get("sort")).toBe("keyword");
  });

  it("says what to do when there are no runs yet", async () => {
    vi.stubGlobal("fetch", serveLeaderboard([]));
    render(<Leaderboard experimentId="exp-1" sweptKeys={[]} scorerNames={[]} />, { wrapper: wrapper(client) });
    expect(await screen.findByText("No scored runs yet")).toBeInTheDocument();
    expect(screen.getByText(/Start a sweep/)).toBeInTheDocument();
    expect(screen.getByTestId("compare-top-two")).toBeDisabled();
  });

  it("shows API errors in words", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => new Response(JSON.stringify({ detail: "Experiment x does not exist.", code: "not_found" }), { status: 404 })),
    );
    render(<Leaderboard experimentId="x" sweptKeys={[]} scorerNames={[]} />, { wrapper: wrapper(client) });
    expect(await screen.findByRole("alert")).toHaveTextContent("Experiment x does not exist.");
  });
});

describe("mergeLeaderboard", () => {
  const server = [entry("a", 0.9, 0.1), entry("b", 0.8, 0.2)].map((e, i) => ({ ...e, rank: i + 1 }));

  it("keeps the server's values for runs it already lists (re-scores win)", () => {
    const rows = mergeLeaderboard(server, [{ ...live("a", 0.1), config: null }], "weighted_score", 10);
    expect(rows.map((r) => [r.run_id, r.weighted_score])).toEqual([
      ["a", 0.9],
      ["b", 0.8],
    ]);
  });

  it("only lets a live run in when it beats the last row of a full board", () => {
    expect(mergeLeaderboard(server, [live("c", 0.7)], "weighted_score", 2).map((r) => r.run_id)).toEqual(["a", "b"]);
    expect(mergeLeaderboard(server, [live("c", 0.85)], "weighted_score", 2).map((r) => r.run_id)).toEqual(["a", "c"]);
  });

  it("marks live rows and numbers ranks from 1", () => {
    const rows = mergeLeaderboard(server, [live("c", 0.95)], "weighted_score", 10);
    expect(rows.map((r) => [r.rank, r.run_id, r.live])).toEqual([
      [1, "c", true],
      [2, "a", false],
      [3, "b", false],
    ]);
  });

  it("keeps one row per configuration: a live run of a listed configuration (its cached twin) is no new row", () => {
    const board = [{ ...entry("a", 0.9, 0.1, "m2", 0.9), runs: 2 }, entry("b", 0.8, 0.2, "m1", 0.1)].map((e, i) => ({ ...e, rank: i + 1 }));
    const twin = { ...live("a2", 0.9), config: config("m2", 0.9) };
    const sameHash = { ...live("b2", 0.8), config: null, config_hash: "hash-b" };
    const rows = mergeLeaderboard(board, [twin, sameHash], "weighted_score", 10);
    expect(rows.map((r) => [r.run_id, r.runs, r.live])).toEqual([
      ["a", 2, false],
      ["b", 1, false],
    ]);
  });

  it("merges live runs of one new configuration into one row (the best)", () => {
    const first = { ...live("c1", 0.6), config: config("m3", 0.5) };
    const second = { ...live("c2", 0.7), config: config("m3", 0.5) };
    const rows = mergeLeaderboard(server, [first, second], "weighted_score", 10);
    expect(rows.map((r) => r.run_id)).toEqual(["a", "b", "c2"]);
  });
});
