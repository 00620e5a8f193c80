import { describe, expect, it } from "vitest";

import {
  cacheHitRate,
  describeEvent,
  etaSeconds,
  initialLiveState,
  liveReducer,
  liveRunsList,
  NOISY_TYPES,
  RUNS_LIMIT,
  TIMELINE_LIMIT,
  type LiveEvent,
  type LiveState,
} from "./liveReducer";

const EXP = "exp-1";
const SWEEP = "sweep-1";
let clock = Date.parse("2026-01-01T00:00:00Z");

function ev(seq: number | null, type: string, data: Record<string, unknown> = {}, extra: Partial<LiveEvent> = {}): LiveEvent {
  clock += 1000;
  // Test payloads give only the fields a case needs: cast, as the wire is trusted to be the union.
  return { type, seq, experiment_id: EXP, sweep_id: SWEEP, run_id: null, data, ts: new Date(clock).toISOString(), ...extra } as unknown as LiveEvent;
}

const started = (seq: number, total: number, sweep = SWEEP) => ev(seq, "sweep.started", { type: "grid", total }, { sweep_id: sweep });
const progress = (seq: number, completed: number, total: number, more: Record<string, unknown> = {}, sweep = SWEEP) =>
  ev(seq, "sweep.progress", { completed, total, failed: 0, cached: 0, tokens_in: completed * 10, tokens_out: completed * 5, cost_estimate: completed * 0.01, eta_s: 30, ...more }, { sweep_id: sweep });
const runDone = (seq: number, runId: string, score: number, more: Record<string, unknown> = {}) =>
  ev(seq, "run.completed", { status: "completed", weighted_score: score, scores: { keyword: score }, tokens_in: 10, tokens_out: 5, cost_estimate: 0.01, llm_calls: 2, cache_hits: 1, duration_ms: 100, config: { stages: [] }, ...more }, { run_id: runId });

function fold(events: LiveEvent[], state: LiveState = initialLiveState()): LiveState {
  return liveReducer(state, { kind: "events", events });
}

describe("liveReducer", () => {
  it("bumps proposalsVersion on proposal events (once per seq) and describes them", () => {
    const data = { proposal_id: "p", stage: "answer", field: "prompt_template", text: "x", status: "pending", dropped: false,
      reason: null, projected_cost: 0, run_ids: [], decided_by: null };
    const created = ev(1, "proposal.created", data);
    const dropped = ev(2, "proposal.rejected", { ...data, status: "rejected", dropped: true, reason: "JSON, not a prompt" });
    const auto = ev(3, "proposal.approved", { ...data, status: "approved", decided_by: "auto" });
    const state = fold([created, dropped, auto, created]);
    expect(state.proposalsVersion).toBe(3);
    expect(NOISY_TYPES).not.toContain("proposal.created");
    expect(describeEvent(created).summary).toContain("waiting for approval");
    expect(describeEvent(dropped).summary).toBe("Prompt rewrite dropped: JSON, not a prompt");
    expect(describeEvent(auto).summary).toContain("(auto)");
  });

  it("takes a redirected sweep's new total and refreshes the results", () => {
    const before = fold([started(1, 8), progress(2, 2, 8)]);
    const state = fold([ev(3, "sweep.redirected", { dropped: 3, added: 2, total_runs: 7 })], before);
    expect(state.progress).toMatchObject({ completed: 2, total: 7 });
    expect(state.resultsVersion).toBe(before.resultsVersion + 1);
    expect(describeEvent(ev(3, "sweep.redirected", { dropped: 3, added: 2, total_runs: 7 })).summary).toBe(
      "Redirected: 2 runs added, 3 dropped (7 in all)");
  });

  it("keeps who proposed each run: on the live run and on its timeline entries", () => {
    const state = fold([
      started(1, 2),
      ev(2, "run.started", { origin: "sampler" }, { run_id: "r1" }),
      runDone(3, "r1", 0.5, { origin: "sampler" }),
      runDone(4, "r2", 0.9, { origin: "agent" }),
      runDone(5, "r3", 0.1), // an older server sends no origin
    ]);
    expect(liveRunsList(state).map((r) => [r.run_id, r.origin])).toEqual([["r1", "sampler"], ["r2", "agent"], ["r3", null]]);
    const origins = Object.fromEntries(state.timeline.filter((t) => t.run_id).map((t) => [`${t.type} ${t.run_id}`, t.origin]));
    expect(origins).toMatchObject({ "run.started r1": "sampler", "run.completed r1": "sampler", "run.completed r2": "agent", "run.completed r3": null });
    expect(state.timeline.find((t) => t.type === "sweep.started")?.origin).toBeNull();
  });

  it("tracks a sweep from start to completion", () => {
    const state = fold([
      started(1, 3),
      ev(2, "run.started", {}, { run_id: "r1" }),
      runDone(3, "r1", 0.5),
      progress(4, 1, 3),
      ev(5, "new_best_found", { weighted_score: 0.5, previous_best: null }, { run_id: "r1" }),
      runDone(6, "r2", 0.9),
      progress(7, 2, 3),
      runDone(8, "r3", 0.7),
      progress(9, 3, 3, { eta_s: 0 }),
      ev(10, "experiment.completed", { best_score: 0.9, completed: 3, total: 3, failed: 0, cached: 0, tokens_in: 30, tokens_out: 15, cost_estimate: 0.03 }),
    ]);
    expect(state.status).toBe("completed");
    expect(state.progress).toMatchObject({ sweepId: SWEEP, sweepType: "grid", completed: 3, total: 3, tokensIn: 30, tokensOut: 15 });
    expect(state.progress.cost).toBeCloseTo(0.03);
    expect(state.bestScore).toBe(0.9);
    expect(state.inFlight).toEqual([]);
    expect(liveRunsList(state).map((r) => r.run_id)).toEqual(["r1", "r2", "r3"]);
    expect(state.timeline[0]!.type).toBe("experiment.completed");
    expect(state.timeline).toHaveLength(10);
    expect(state.lastSeq).toBe(10);
  });

  it("folds each seq once: duplicates from a replay change nothing", () => {
    const events = [started(1, 2), runDone(2, "r1", 0.5), progress(3, 1, 2)];
    const once = fold(events);
    const twice = fold(events, once);
    expect(twice).toBe(once); // nothing new: same object, no re-render
    const mixed = fold([...events, runDone(4, "r2", 0.6), progress(5, 2, 2)], once);
    expect(mixed.progress.completed).toBe(2);
    expect(mixed.typeCounts["run.completed"]).toBe(2);
    expect(mixed.runsSeen).toBe(2);
    expect(mixed.timeline.filter((t) => t.type === "run.completed")).toHaveLength(2);
  });

  it("never moves progress backwards when older snapshots arrive late", () => {
    let state = fold([started(1, 10), progress(5, 4, 10)]);
    state = fold([progress(3, 2, 10), progress(4, 3, 10)], state);
    expect(state.progress.completed).toBe(4);
    expect(state.progress.progressSeq).toBe(5);
    state = fold([progress(6, 5, 10)], state);
    expect(state.progress.completed).toBe(5);
    // The late events still appear in the timeline, in seq order.
    const seqs = state.timeline.map((t) => t.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b! - a!));
  });

  it("keeps the timeline ordered newest first when batches overlap", () => {
    const state = fold([runDone(7, "r7", 0.1), runDone(9, "r9", 0.1)], fold([runDone(8, "r8", 0.1), runDone(10, "r10", 0.1)]));
    expect(state.timeline.map((t) => t.seq)).toEqual([10, 9, 8, 7]);
  });

  it("starts over when a new sweep starts and ignores stale events of the old one", () => {
    let state = fold([started(1, 4), progress(2, 4, 4), ev(3, "experiment.completed", { completed: 4, total: 4 })]);
    state = fold([started(10, 6, "sweep-2"), progress(11, 1, 6, {}, "sweep-2")], state);
    expect(state.status).toBe("running");
    expect(state.progress).toMatchObject({ sweepId: "sweep-2", completed: 1, total: 6 });
    state = fold([progress(4, 4, 4)], state); // a late event of sweep-1
    expect(state.progress).toMatchObject({ sweepId: "sweep-2", completed: 1, total: 6 });
  });

  it("follows pause, resume and the budget", () => {
    let state = fold([started(1, 10), progress(2, 3, 10), ev(3, "budget.exhausted", { token_count: 500, cost: 0.2 }), ev(4, "experiment.paused", { reason: "budget", completed: 3, total: 10 })]);
    expect(state.status).toBe("paused");
    expect(state.statusReason).toBe("budget");
    expect(state.budget).toMatchObject({ tokens: 500, cost: 0.2 });
    state = fold([ev(5, "experiment.resumed")], state);
    expect(state.status).toBe("running");
    expect(state.statusReason).toBeNull();
  });

  it("computes the cache hit rate per call when every run was seen, else per run", () => {
    const seenAll = fold([started(1, 2), runDone(2, "r1", 0.5, { llm_calls: 4, cache_hits: 1 }), progress(3, 1, 2)]);
    expect(cacheHitRate(seenAll)).toBeCloseTo(0.25);
    // Opened mid-sweep: 10 runs done (4 fully cached) but only one run seen since.
    const partial = fold([progress(20, 10, 20, { cached: 4 }), runDone(21, "r11", 0.5, { llm_calls: 2, cache_hits: 2 })], fold([started(1, 20)]));
    expect(cacheHitRate(partial)).toBeCloseTo(0.4);
    expect(cacheHitRate(initialLiveState())).toBeNull();
  });

  it("counts the ETA down between reports and hides it when not running", () => {
    const state = fold([started(1, 10), progress(2, 5, 10, { eta_s: 60 })]);
    const reported = Date.parse(state.progress.etaTs!);
    expect(etaSeconds(state, reported + 15_000)).toBeCloseTo(45);
    expect(etaSeconds(state, reported + 90_000)).toBe(0);
    expect(etaSeconds({ ...state, status: "paused" }, reported)).toBeNull();
  });

  it("tracks runs in flight and failures", () => {
    let state = fold([started(1, 3), ev(2, "run.started", {}, { run_id: "a" }), ev(3, "run.started", {}, { run_id: "b" })]);
    expect(state.inFlight).toEqual(["a", "b"]);
    state = fold([ev(4, "run.failed", { status: "failed", error: "boom" }, { run_id: "a" })], state);
    expect(state.inFlight).toEqual(["b"]);
    expect(state.runs.a!.status).toBe("failed");
    expect(state.timeline[0]!.summary).toContain("boom");
    state = fold([ev(5, "run.failed", { error: "no endpoint", runs: 7 })], state);
    expect(state.timeline[0]!.summary).toBe("7 runs failed: no endpoint");
  });

  it("caps the timeline and the live runs", () => {
    const events = Array.from({ length: RUNS_LIMIT + 50 }, (_, i) => runDone(i + 1, `r${i}`, i / 1000));
    const state = fold(events);
    expect(state.timeline).toHaveLength(TIMELINE_LIMIT);
    expect(state.runOrder).toHaveLength(RUNS_LIMIT);
    expect(Object.keys(state.runs)).toHaveLength(RUNS_LIMIT);
    expect(state.runs.r0).toBeUndefined();
    expect(state.runs[`r${RUNS_LIMIT + 49}`]).toBeDefined();
  });

  it("does not mutate the previous state", () => {
    const before = fold([started(1, 2), runDone(2, "r1", 0.5)]);
    const snapshot = JSON.stringify(before);
    fold([runDone(3, "r2", 0.6), progress(4, 2, 2)], before);
    expect(JSON.stringify(before)).toBe(snapshot);
  });

  it("takes a run-count snapshot without undoing newer live progress", () => {
    let state = fold([started(1, 100), progress(2, 40, 100)]);
    state = liveReducer(state, { kind: "snapshot", sweepId: SWEEP, completed: 35, total: 100 });
    expect(state.progress.completed).toBe(40);
    state = liveReducer(state, { kind: "snapshot", sweepId: SWEEP, completed: 45, total: 100 });
    expect(state.progress.completed).toBe(45);
    const fresh = liveReducer(initialLiveState(), { kind: "snapshot", sweepId: SWEEP, completed: 5, total: 9, status: "running" });
    expect(fresh.progress).toMatchObject({ completed: 5, total: 9 });
    expect(fresh.status).toBe("running");
  });

  it("marks bulk event types as noisy for the timeline filter", () => {
    expect(NOISY_TYPES).toContain("stage.completed");
    expect(NOISY_TYPES).not.toContain("run.completed");
  });
});
