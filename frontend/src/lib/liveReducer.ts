// A pure fold of an experiment's live events (CONTRACT "Live events"; their types are generated
// from the backend's events/types.py into api/schema.d.ts) into what the Live view shows: progress,
// tokens, cost, cache hit rate, ETA, the runs that finished since the page opened (for the live
// leaderboard) and the activity timeline.
//
// Events can arrive twice (WebSocket replay after a reconnect, polling overlap) or out of order
// (replayed history racing live messages): each `seq` is folded once, and absolute snapshots such
// as `sweep.progress` never move progress backwards.

import type { LiveEventOut } from "../api/client";

/** One live event as the server sends it (WebSocket and polling): the OpenAPI's union, by `type`. */
export type LiveEvent = LiveEventOut;
export type LiveEventType = LiveEvent["type"];
export type EventOf<T extends LiveEventType> = Extract<LiveEvent, { type: T }>;
type ProgressEvent = EventOf<"sweep.progress" | "experiment.paused" | "experiment.completed">;
type RunEvent = EventOf<"run.completed" | "run.cached" | "run.failed">;

export type LiveStatus = "idle" | "running" | "paused" | "completed";

export interface LiveRun {
  run_id: string;
  status: string;
  weighted_score: number | null;
  scores: Record<string, number>;
  config: Record<string, unknown> | null;
  config_hash: string | null;
  tokens_in: number;
  tokens_out: number;
  cost_estimate: number;
  duration_ms: number | null;
  /** Scored on a subset of the samples so far (early stopping): not leaderboard material yet. */
  partial?: boolean;
  /** Who proposed the run (grid, random, sampler, agent, redirect, user); null from an older server. */
  origin: string | null;
  /** seq of the event that finished the run (newer wins). */
  seq: number;
}

export interface TimelineEntry {
  key: string;
  seq: number | null;
  type: string;
  ts: string;
  run_id: string | null;
  sweep_id: string | null;
  summary: string;
  tone: "neutral" | "accent" | "good" | "warn" | "bad";
  /** Who proposed the run a run event is about (null for other events). */
  origin: string | null;
}

export interface LiveProgress {
  sweepId: string | null;
  sweepType: string | null;
  completed: number;
  total: number;
  failed: number;
  cached: number;
  tokensIn: number;
  tokensOut: number;
  /** What the answers contain (cache hits included), so configurations compare. */
  cost: number;
  /** What was paid for and what the cache saved; null until the server reports them. */
  tokensSpent: number | null;
  tokensSaved: number | null;
  costSpent: number | null;
  costSaved: number | null;
  /** LLM calls sent upstream (paid) and calls answered from the cache, over the sweep. */
  callsPaid: number | null;
  cacheHits: number | null;
  etaS: number | null;
  /** When etaS was reported (ISO), so the view can count down between updates. */
  etaTs: string | null;
  /** seq of the newest progress snapshot folded (older ones are ignored). */
  progressSeq: number;
}

export interface LiveState {
  status: LiveStatus | null;
  statusReason: string | null;
  progress: LiveProgress;
  /** LLM calls and cache hits of the runs of the current sweep seen finishing, and how many runs that is. */
  callsSeen: number;
  hitsSeen: number;
  runsSeen: number;
  inFlight: string[];
  bestScore: number | null;
  bestRunId: string | null;
  /** Runs finished since the view opened, newest last, capped. */
  runs: Record<string, LiveRun>;
  runOrder: string[];
  /** Bumped whenever a run finishes or the best changes: the cue to refetch server lists. */
  resultsVersion: number;
  /** Bumped on status changes (sweep started, paused, resumed, completed). */
  statusVersion: number;
  /** Bumped when a prompt proposal is created, approved or rejected: the cue to refetch proposals. */
  proposalsVersion: number;
  budget: { tokens: number | null; cost: number | null; ts: string } | null;
  rescore: { done: number; total: number } | null;
  timeline: TimelineEntry[];
  typeCounts: Record<string, number>;
  lastSeq: number;
  recentSeqs: number[];
  lastEventTs: string | null;
}

export type LiveAction =
  | { kind: "events"; events: LiveEvent[] }
  | {
      kind: "snapshot";
      sweepId: string | null;
      sweepType?: string | null;
      completed: number;
      total: number;
      failed?: number;
      cached?: number;
      status?: LiveStatus | null;
    }
  | { kind: "status"; status: LiveStatus }
  | { kind: "reset" };

export const TIMELINE_LIMIT = 300;
export const RUNS_LIMIT = 500;
const SEQ_WINDOW = 2000;

/**
 * Whether each event type arrives in bulk (the timeline hides those unless asked). Keyed by the
 * generated union, so a new backend event type fails the type-check until it is placed here.
 */
const BULK: Record<LiveEventType, boolean> = {
  "config.approved": false,
  "sweep.redirected": false,
  "sweep.started": false,
  "experiment.started": false,
  "run.started": true,
  "stage.completed": true,
  "run.completed": false,
  "run.cached": false,
  "run.failed": false,
  "sweep.progress": true,
  "new_best_found": false,
  "experiment.paused": false,
  "experiment.resumed": false,
  "experiment.completed": false,
  "budget.exhausted": false,
  "human_needed": false,
  "rescore.progress": true,
  "rescore.completed": false,
  "proposal.created": false,
  "proposal.approved": false,
  "proposal.rejected": false,
};

/** Event types that arrive in bulk; the timeline hides them unless asked. */
export const NOISY_TYPES: string[] = (Object.keys(BULK) as LiveEventType[]).filter((type) => BULK[type]);
/** Every other event type: what the dashboard's global feed keeps. */
export const MILESTONE_TYPES: LiveEventType[] = (Object.keys(BULK) as LiveEventType[]).filter((type) => !BULK[type]);

export function emptyProgress(): LiveProgress {
  return {
    sweepId: null,
    sweepType: null,
    completed: 0,
    total: 0,
    failed: 0,
    cached: 0,
    tokensIn: 0,
    tokensOut: 0,
    cost: 0,
    tokensSpent: null,
    tokensSaved: null,
    costSpent: null,
    costSaved: null,
    callsPaid: null,
    cacheHits: null,
    etaS: null,
    etaTs: null,
    progressSeq: -1,
  };
}

export function initialLiveState(status: LiveStatus | null = null): LiveState {
  return {
    status,
    statusReason: null,
    progress: emptyProgress(),
    callsSeen: 0,
    hitsSeen: 0,
    runsSeen: 0,
    inFlight: [],
    bestScore: null,
    bestRunId: null,
    runs: {},
    runOrder: [],
    resultsVersion: 0,
    statusVersion: 0,
    proposalsVersion: 0,
    budget: null,
    rescore: null,
    timeline: [],
    typeCounts: {},
    lastSeq: 0,
    recentSeqs: [],
    lastEventTs: null,
  };
}

export function liveReducer(state: LiveState, action: LiveAction): LiveState {
  switch (action.kind) {
    case "reset":
      return initialLiveState(state.status);
    case "status":
      return state.status === action.status ? state : { ...state, status: action.status };
    case "snapshot":
      return applySnapshot(state, action);
    case "events": {
      if (action.events.length === 0) return state;
      // The batch owns fresh copies of the collections it grows, so folding many events copies
      // them once per batch, not once per event; `state` itself is never mutated.
      let next: LiveState = {
        ...state,
        recentSeqs: state.recentSeqs.slice(),
        typeCounts: { ...state.typeCounts },
        runs: { ...state.runs },
        runOrder: state.runOrder.slice(),
      };
      const newTimeline: TimelineEntry[] = [];
      for (const event of action.events) {
        if (!event || typeof event.type !== "string") continue;
        const seq = typeof event.seq === "number" ? event.seq : null;
        if (seq !== null) {
          if (isDuplicate(next.recentSeqs, seq)) continue;
          rememberSeq(next.recentSeqs, seq);
          if (seq > next.lastSeq) next.lastSeq = seq;
        }
        next = foldEvent(next, event, seq);
        next.typeCounts[event.type] = (next.typeCounts[event.type] ?? 0) + 1;
        if (!next.lastEventTs || event.ts > next.lastEventTs) next.lastEventTs = event.ts;
        newTimeline.push(timelineEntry(event, seq));
      }
      if (newTimeline.length === 0) return state;
      if (next.recentSeqs.length > SEQ_WINDOW) next.recentSeqs.splice(0, next.recentSeqs.length - SEQ_WINDOW);
      if (next.runOrder.length > RUNS_LIMIT) {
        for (const id of next.runOrder.splice(0, next.runOrder.length - RUNS_LIMIT)) delete next.runs[id];
      }
      next.timeline = mergeTimeline(next.timeline, newTimeline);
      return next;
    }
  }
}

function isDuplicate(recent: number[], seq: number): boolean {
  if (recent.length >= SEQ_WINDOW && seq < recent[0]!) return true; // older than anything we can vouch for
  return binaryIncludes(recent, seq);
}

/** Insert into the batch-owned sorted window (trimmed once at the end of the batch). */
function rememberSeq(recent: number[], seq: number): void {
  if (recent.length === 0 || seq > recent[recent.length - 1]!) recent.push(seq);
  else recent.splice(insertionIndex(recent, seq), 0, seq);
}

function insertionIndex(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function binaryIncludes(sorted: number[], value: number): boolean {
  const i = insertionIndex(sorted, value);
  return i < sorted.length && sorted[i] === value;
}

const num = (value: unknown, fallback = 0): number => (typeof value === "number" && Number.isFinite(value) ? value : fallback);
const numOrNull = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null);
const str = (value: unknown): string | null => (typeof value === "string" ? value : null);

function startSweep(state: LiveState, sweepId: string | null, type: string | null, total: number): LiveState {
  return {
    ...state,
    progress: { ...emptyProgress(), sweepId, sweepType: type, total },
    callsSeen: 0,
    hitsSeen: 0,
    runsSeen: 0,
    inFlight: [],
    budget: null,
  };
}

/** Fold one progress payload (sweep.progress, experiment.completed/paused carry the same fields). */
function applyProgress(state: LiveState, event: ProgressEvent, seq: number | null): LiveState {
  const d = event.data;
  if (typeof d.completed !== "number" || typeof d.total !== "number") return state;
  let next = state;
  if (event.sweep_id && next.progress.sweepId && event.sweep_id !== next.progress.sweepId) {
    // A progress event of another sweep: newer sweeps replace older ones, stale ones are ignored.
    if (seq !== null && seq < next.progress.progressSeq) return state;
    next = startSweep(next, event.sweep_id, null, num(d.total));
  }
  const order = seq ?? next.progress.progressSeq + 1;
  if (order <= next.progress.progressSeq) return next;
  const p = next.progress;
  return {
    ...next,
    progress: {
      ...p,
      sweepId: event.sweep_id ?? p.sweepId,
      completed: Math.max(num(d.completed), p.sweepId === (event.sweep_id ?? p.sweepId) ? p.completed : 0),
      total: num(d.total, p.total),
      failed: num(d.failed, p.failed),
      cached: num(d.cached, p.cached),
      tokensIn: num(d.tokens_in, p.tokensIn),
      tokensOut: num(d.tokens_out, p.tokensOut),
      cost: num(d.cost_estimate, p.cost),
      tokensSpent: "tokens_in_spent" in d ? num(d.tokens_in_spent) + num(d.tokens_out_spent) : p.tokensSpent,
      tokensSaved: numOrNull(d.tokens_saved) ?? p.tokensSaved,
      costSpent: numOrNull(d.cost_spent) ?? p.costSpent,
      costSaved: numOrNull(d.cost_saved) ?? p.costSaved,
      callsPaid: numOrNull(d.llm_calls) ?? p.callsPaid,
      cacheHits: numOrNull(d.cache_hits) ?? p.cacheHits,
      etaS: numOrNull(d.eta_s),
      etaTs: event.ts,
      progressSeq: order,
    },
  };
}

function applySnapshot(state: LiveState, action: Extract<LiveAction, { kind: "snapshot" }>): LiveState {
  let next = state;
  if (action.sweepId && next.progress.sweepId && action.sweepId !== next.progress.sweepId) {
    next = startSweep(next, action.sweepId, action.sweepType ?? null, action.total);
  }
  const p = next.progress;
  const sameSweep = !p.sweepId || !action.sweepId || p.sweepId === action.sweepId;
  return {
    ...next,
    status: action.status ?? next.status,
    progress: {
      ...p,
      sweepId: action.sweepId ?? p.sweepId,
      sweepType: action.sweepType ?? p.sweepType,
      completed: sameSweep ? Math.max(p.completed, action.completed) : action.completed,
      total: p.progressSeq >= 0 && sameSweep ? p.total : action.total,
      failed: Math.max(p.failed, action.failed ?? 0),
      cached: Math.max(p.cached, action.cached ?? 0),
    },
  };
}

function recordRun(state: LiveState, event: RunEvent, seq: number | null): LiveState {
  const runId = event.run_id;
  if (!runId) return state;
  const d = event.data;
  const order = seq ?? state.lastSeq;
  const existing = state.runs[runId];
  if (existing && existing.seq > order) return state;
  const run: LiveRun = {
    run_id: runId,
    status: str(d.status) ?? event.type.replace("run.", ""),
    weighted_score: numOrNull(d.weighted_score),
    scores: Object.fromEntries(Object.entries(d.scores ?? {}).filter((e): e is [string, number] => typeof e[1] === "number")),
    config: d.config && typeof d.config === "object" ? d.config : (existing?.config ?? null),
    config_hash: existing?.config_hash ?? null,
    tokens_in: num(d.tokens_in),
    tokens_out: num(d.tokens_out),
    cost_estimate: num(d.cost_estimate),
    duration_ms: numOrNull(d.duration_ms),
    partial: d.partial === true,
    origin: str(d.origin) ?? existing?.origin ?? null,
    seq: order,
  };
  // runs and runOrder belong to the current batch (see liveReducer): safe to update in place.
  state.runs[runId] = run;
  if (!existing) state.runOrder.push(runId);
  const sameSweep = !event.sweep_id || !state.progress.sweepId || event.sweep_id === state.progress.sweepId;
  return {
    ...state,
    inFlight: state.inFlight.filter((id) => id !== runId),
    callsSeen: state.callsSeen + (sameSweep && !existing ? num(d.llm_calls) : 0),
    hitsSeen: state.hitsSeen + (sameSweep && !existing ? num(d.cache_hits) : 0),
    runsSeen: state.runsSeen + (sameSweep && !existing ? 1 : 0),
    resultsVersion: state.resultsVersion + 1,
  };
}

function foldEvent(state: LiveState, event: LiveEvent, seq: number | null): LiveState {
  switch (event.type) {
    case "sweep.started": {
      if (seq !== null && seq < state.progress.progressSeq) return state;
      const next = startSweep(state, event.sweep_id ?? null, str(event.data.type), num(event.data.total));
      return { ...next, status: "running", statusReason: null, statusVersion: state.statusVersion + 1, progress: { ...next.progress, progressSeq: seq ?? next.progress.progressSeq } };
    }
    case "experiment.started":
      return { ...state, status: "running", statusReason: null, statusVersion: state.statusVersion + 1 };
    case "experiment.resumed":
      return { ...state, status: "running", statusReason: null, statusVersion: state.statusVersion + 1 };
    case "run.started": {
      if (!event.run_id || state.inFlight.includes(event.run_id) || state.runs[event.run_id]) return state;
      const inFlight = [...state.inFlight, event.run_id];
      return { ...state, inFlight: inFlight.length > 1000 ? inFlight.slice(-1000) : inFlight };
    }
    case "run.completed":
    case "run.cached":
      return recordRun(state, event, seq);
    case "run.failed":
      // A failure without a run id reports a batch of runs failed before starting (e.g. no endpoint).
      return event.run_id ? recordRun(state, event, seq) : { ...state, resultsVersion: state.resultsVersion + 1 };
    case "sweep.progress":
      return applyProgress(state, event, seq);
    case "new_best_found": {
      const score = numOrNull(event.data.weighted_score);
      if (score === null || (state.bestScore !== null && score < state.bestScore)) return state;
      return { ...state, bestScore: score, bestRunId: event.run_id ?? state.bestRunId, resultsVersion: state.resultsVersion + 1 };
    }
    case "experiment.paused": {
      const next = applyProgress(state, event, seq);
      return { ...next, status: "paused", statusReason: str(event.data.reason), inFlight: [], statusVersion: state.statusVersion + 1 };
    }
    case "experiment.completed": {
      const next = applyProgress(state, event, seq);
      return {
        ...next,
        status: "completed",
        statusReason: event.data.stopped ? "stopped" : null,
        inFlight: [],
        bestScore: numOrNull(event.data.best_score) ?? next.bestScore,
        progress: { ...next.progress, etaS: null },
        statusVersion: state.statusVersion + 1,
        resultsVersion: state.resultsVersion + 1,
      };
    }
    case "sweep.redirected": {
      // The sweep's runs changed (pending ones dropped, new ones added): a new total, and the run list.
      const p = state.progress;
      if (event.sweep_id && p.sweepId && event.sweep_id !== p.sweepId) return state;
      return { ...state, progress: { ...p, total: num(event.data.total_runs, p.total) }, resultsVersion: state.resultsVersion + 1 };
    }
    case "budget.exhausted":
      return { ...state, budget: { tokens: numOrNull(event.data.token_count), cost: numOrNull(event.data.cost), ts: event.ts } };
    case "rescore.progress":
      return { ...state, rescore: { done: num(event.data.done), total: num(event.data.total) } };
    case "rescore.completed":
      return { ...state, rescore: null, resultsVersion: state.resultsVersion + 1 };
    case "proposal.created":
    case "proposal.approved":
    case "proposal.rejected":
      return { ...state, proposalsVersion: state.proposalsVersion + 1 };
    default:
      return state;
  }
}

function mergeTimeline(current: TimelineEntry[], added: TimelineEntry[]): TimelineEntry[] {
  // Newest first by seq (then time); usually the added batch is simply newer than everything.
  const all = added.slice().reverse().concat(current);
  const inOrder = all.every((entry, i) => i === 0 || compareEntries(all[i - 1]!, entry) <= 0);
  const sorted = inOrder ? all : all.sort(compareEntries);
  return sorted.length > TIMELINE_LIMIT ? sorted.slice(0, TIMELINE_LIMIT) : sorted;
}

function compareEntries(a: TimelineEntry, b: TimelineEntry): number {
  if (a.seq !== null && b.seq !== null) return b.seq - a.seq;
  return a.ts < b.ts ? 1 : a.ts > b.ts ? -1 : 0;
}

const short = (id: string | null | undefined) => (id ? id.slice(0, 8) : "?");
const score = (value: unknown) => (typeof value === "number" ? value.toFixed(3) : "—");

/** One line describing an event for the activity timeline. */
export function describeEvent(event: LiveEvent): { summary: string; tone: TimelineEntry["tone"] } {
  switch (event.type) {
    case "sweep.started":
      return { summary: `${capitalize(str(event.data.type) ?? "")} sweep started: ${num(event.data.total)} runs`.replace(/^ /, ""), tone: "accent" };
    case "experiment.started":
      return { summary: `Experiment started (${num(event.data.total)} runs)`, tone: "accent" };
    case "run.started":
      return { summary: `Run ${short(event.run_id)} started`, tone: "neutral" };
    case "stage.completed":
      return {
        summary: `Stage ${str(event.data.stage_name) ?? num(event.data.stage_index)} · sample ${str(event.data.sample_id) ?? "?"} · ${num(event.data.tokens_in) + num(event.data.tokens_out)} tokens${event.data.cached ? " (cached)" : ""}${event.data.error ? ` · error: ${String(event.data.error)}` : ""}`,
        tone: event.data.error ? "bad" : "neutral",
      };
    case "run.completed":
      return { summary: `Run ${short(event.run_id)} completed · score ${score(event.data.weighted_score)}`, tone: "good" };
    case "run.cached":
      return { summary: `Run ${short(event.run_id)} served from cache · score ${score(event.data.weighted_score)}`, tone: "good" };
    case "run.failed":
      return event.run_id
        ? { summary: `Run ${short(event.run_id)} failed${event.data.error ? `: ${String(event.data.error)}` : ""}`, tone: "bad" }
        : { summary: `${num(event.data.runs)} runs failed${event.data.error ? `: ${String(event.data.error)}` : ""}`, tone: "bad" };
    case "sweep.progress":
      return { summary: `Progress ${num(event.data.completed)} of ${num(event.data.total)}`, tone: "neutral" };
    case "new_best_found":
      return {
        summary: `New best ${score(event.data.weighted_score)}${typeof event.data.previous_best === "number" ? ` (was ${score(event.data.previous_best)})` : ""} · run ${short(event.run_id)}`,
        tone: "accent",
      };
    case "experiment.paused":
      return { summary: event.data.reason === "budget" ? "Paused: the budget is spent" : "Paused", tone: "warn" };
    case "experiment.resumed":
      return { summary: "Resumed", tone: "accent" };
    case "experiment.completed":
      return event.data.stopped
        ? { summary: "Stopped", tone: "warn" }
        : num(event.data.failed) > 0
          ? { summary: `Completed, ${num(event.data.failed)} failed${typeof event.data.best_score === "number" ? ` · best ${score(event.data.best_score)}` : ""}`, tone: "warn" }
          : { summary: `Completed${typeof event.data.best_score === "number" ? ` · best ${score(event.data.best_score)}` : ""}`, tone: "good" };
    case "budget.exhausted":
      return {
        summary: `Budget exhausted after ${num(event.data.token_count)} tokens${` / $${event.data.cost.toFixed(4)}`}`,
        tone: "warn",
      };
    case "human_needed":
      return { summary: `Human rating needed${event.run_id ? ` · run ${short(event.run_id)}` : ""}`, tone: "warn" };
    case "sweep.redirected":
      return { summary: `Redirected: ${num(event.data.added)} runs added, ${num(event.data.dropped)} dropped (${num(event.data.total_runs)} in all)`, tone: "accent" };
    case "rescore.progress":
      return { summary: `Re-scoring ${num(event.data.done)} of ${num(event.data.total)}`, tone: "neutral" };
    case "rescore.completed":
      return { summary: `Re-scored ${num(event.data.runs)} runs`, tone: "good" };
    case "proposal.created":
      return { summary: `Prompt rewrite proposed for stage ${event.data.stage}: waiting for approval`, tone: "accent" };
    case "proposal.approved":
      return { summary: `Prompt rewrite approved${event.data.decided_by === "auto" ? " (auto)" : ""} for stage ${event.data.stage}`, tone: "good" };
    case "proposal.rejected":
      return { summary: `Prompt rewrite ${event.data.dropped ? "dropped" : "rejected"}${event.data.reason ? `: ${event.data.reason}` : ""}`, tone: "warn" };
    default: // a type this build does not know yet (a newer server)
      return { summary: String((event as { type: unknown }).type), tone: "neutral" };
  }
}

function timelineEntry(event: LiveEvent, seq: number | null): TimelineEntry {
  const { summary, tone } = describeEvent(event);
  return {
    key: seq !== null ? `s${seq}` : `${event.type}-${event.ts}-${event.run_id ?? ""}-${Math.random().toString(36).slice(2, 8)}`,
    seq,
    type: event.type,
    ts: event.ts,
    run_id: event.run_id ?? null,
    sweep_id: event.sweep_id ?? null,
    summary,
    tone,
    origin: originOf(event),
  };
}

/** The `origin` a run event carries (who proposed the run). */
export function originOf(event: LiveEvent): string | null {
  if (event.type === "run.started" || event.type === "run.completed" || event.type === "run.cached" || event.type === "run.failed") {
    return str(event.data.origin) ?? null;
  }
  return null;
}

function capitalize(text: string): string {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

/** Cache hit rate of the current sweep: per LLM call when every finished run was seen, else per run. */
export function cacheHitRate(state: LiveState): number | null {
  const p = state.progress;
  // The server's counts over the whole sweep, when it reports them (paid calls and hits apart).
  if (p.callsPaid !== null && p.cacheHits !== null && p.callsPaid + p.cacheHits > 0) return p.cacheHits / (p.callsPaid + p.cacheHits);
  if (state.callsSeen > 0 && state.runsSeen >= p.completed) return state.hitsSeen / state.callsSeen;
  if (p.completed > 0) return p.cached / p.completed;
  if (state.callsSeen > 0) return state.hitsSeen / state.callsSeen;
  return null;
}

/** Seconds left, counted down from the last report (never below zero). */
export function etaSeconds(state: LiveState, now: number = Date.now()): number | null {
  const { etaS, etaTs } = state.progress;
  if (etaS === null || state.status !== "running") return null;
  const since = etaTs ? Math.max(0, (now - new Date(etaTs).getTime()) / 1000) : 0;
  return Math.max(0, etaS - (Number.isFinite(since) ? since : 0));
}

/** The runs finished live, best first by a score key (`weighted_score` or a scorer name). */
export function liveRunsList(state: LiveState): LiveRun[] {
  return state.runOrder.map((id) => state.runs[id]!).filter(Boolean);
}
