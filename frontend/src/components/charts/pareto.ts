// The score-vs-cost Pareto front: runs no other run beats on both (higher score AND lower cost).

export interface CostPoint {
  id: string;
  cost: number;
  score: number;
}

/** The non-dominated points, cheapest first (each one scores strictly higher than every cheaper one). */
export function paretoFront<T extends CostPoint>(points: T[]): T[] {
  const sorted = [...points].sort((a, b) => a.cost - b.cost || b.score - a.score);
  const front: T[] = [];
  let best = -Infinity;
  for (const point of sorted) {
    if (point.score > best) {
      front.push(point);
      best = point.score;
    }
  }
  return front;
}
