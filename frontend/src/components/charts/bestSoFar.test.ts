import { describe, expect, it } from "vitest";

import { bestPoint, bestSoFar, type CurveRun } from "./bestSoFar";

const at = (second: number) => `2026-12-06T05:00:${String(second).padStart(2, "0")}Z`;
const run = (id: string, second: number, score: number | null, calls: number, extra: Partial<CurveRun> = {}): CurveRun => ({
  id,
  status: "completed",
  weighted_score: score,
  completed_at: at(second),
  llm_calls_paid: calls,
  origin: "sampler",
  ...extra,
});

describe("bestSoFar", () => {
  it("orders runs by completion, adds up paid calls and keeps the best score so far", () => {
    const points = bestSoFar([
      run("c", 30, 0.7, 2),
      run("a", 10, 0.4, 2),
      run("b", 20, 0.3, 2, { origin: "agent" }),
      run("d", 40, 0.9, 2),
    ]);
    expect(points.map((p) => [p.runId, p.calls, p.best, p.improved])).toEqual([
      ["a", 2, 0.4, true],
      ["b", 4, 0.4, false],
      ["c", 6, 0.7, true],
      ["d", 8, 0.9, true],
    ]);
    expect(points[1].origin).toBe("agent");
    expect(points[1].score).toBe(0.3);
    expect(bestPoint(points)?.runId).toBe("d");
  });

  it("counts a failed run's calls without a score, a cache hit's score without calls, and skips open runs", () => {
    const points = bestSoFar([
      run("fail", 1, null, 3, { status: "failed" }),
      run("hit", 2, 0.5, 0, { status: "cached" }),
      run("open", 3, null, 0, { status: "running", completed_at: null }),
      run("wait", 4, null, 0, { status: "pending", completed_at: null }),
    ]);
    expect(points.map((p) => [p.runId, p.calls, p.score, p.best])).toEqual([
      ["fail", 3, null, null],
      ["hit", 3, 0.5, 0.5],
    ]);
  });

  it("never takes a rejected run as the best, and breaks completion-time ties by id", () => {
    const points = bestSoFar([run("z", 5, 0.2, 1), run("y", 5, 0.99, 1, { rejected: true }), run("x", 6, 0.6, 1)]);
    expect(points.map((p) => [p.runId, p.best])).toEqual([
      ["y", null],
      ["z", 0.2],
      ["x", 0.6],
    ]);
  });

  it("is empty without finished runs, and has no best point before a score", () => {
    expect(bestSoFar([])).toEqual([]);
    expect(bestPoint(bestSoFar([run("f", 1, null, 1, { status: "failed" })]))).toBeNull();
  });
});
