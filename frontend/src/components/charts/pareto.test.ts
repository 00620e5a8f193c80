import { describe, expect, it } from "vitest";

import { paretoFront } from "./pareto";

describe("paretoFront", () => {
  it("keeps the runs no other run beats on both score and cost, cheapest first", () => {
    const points = [
      { id: "a", cost: 1, score: 0.2 },
      { id: "b", cost: 2, score: 0.1 }, // dearer and worse than a
      { id: "c", cost: 3, score: 0.8 },
      { id: "d", cost: 3, score: 0.5 }, // same cost as c, worse
      { id: "e", cost: 5, score: 0.8 }, // same score as c, dearer
      { id: "f", cost: 9, score: 1.0 },
    ];
    expect(paretoFront(points).map((p) => p.id)).toEqual(["a", "c", "f"]);
  });

  it("is empty for no points and the point itself for one", () => {
    expect(paretoFront([])).toEqual([]);
    expect(paretoFront([{ id: "x", cost: 0, score: 0 }]).map((p) => p.id)).toEqual(["x"]);
  });
});
