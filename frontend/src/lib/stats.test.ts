import { describe, expect, it } from "vitest";

import { formatHalfWidth, formatInterval, formatP, judgeVerdict, pairedSentence, versusBest, versusBestSentence } from "./stats";

describe("sentences", () => {
  it("puts a run against the best", () => {
    expect(versusBestSentence({ ci_low: 0.5, ci_high: 0.7, p_value: 0.3, tied_with_best: true }, 12)).toBe(
      "95% interval [0.500, 0.700] over 12 samples; tied with the best (p = 0.3, not significant).",
    );
    expect(versusBestSentence({ ci_low: null, ci_high: null, tied_with_best: null }, 1)).toBe("no interval (1 sample); not tested against the best.");
    expect(versusBestSentence({ ci_low: 0, ci_high: 0, p_value: 0.0001, tied_with_best: false }, 12)).toContain("significantly below");
  });
  it("reads a paired difference", () => {
    expect(pairedSentence({ samples: 12, diff: -1, ci_low: -1, ci_high: -1, p_value: 0.0005, significant: true })).toBe(
      "B − A = -1.000 [-1.000, -1.000] over 12 samples (p < 0.001, significant).",
    );
    expect(pairedSentence({ samples: 12, diff: 0.083, ci_low: 0, ci_high: 0.25, p_value: 1, significant: false })).toContain("not significant: may be noise");
    expect(pairedSentence({ samples: 0, significant: false })).toContain("No samples in common");
  });
});

describe("intervals", () => {
  it("shows half the width, or nothing without an interval", () => {
    expect(formatHalfWidth({ ci_low: 0.45, ci_high: 0.61 })).toBe("± 0.080");
    expect(formatHalfWidth({ ci_low: null, ci_high: null })).toBe("");
    expect(formatHalfWidth({})).toBe("");
  });
  it("shows both ends, signed for differences", () => {
    expect(formatInterval({ ci_low: 0.45, ci_high: 0.607 })).toBe("[0.450, 0.607]");
    expect(formatInterval({ ci_low: -0.02, ci_high: 0.18 }, true)).toBe("[-0.020, +0.180]");
    expect(formatInterval({ ci_low: null, ci_high: 0.1 })).toBe("—");
  });
  it("reads p-values", () => {
    expect(formatP(0.0004)).toBe("p < 0.001");
    expect(formatP(0.0421)).toBe("p = 0.042");
    expect(formatP(null)).toBe("—");
  });
});

describe("versusBest", () => {
  it("tells the leader, a tie, a clear loss and the untestable apart", () => {
    expect(versusBest({ rank: 1, p_value: null, tied_with_best: true }).kind).toBe("best");
    const tied = versusBest({ rank: 2, p_value: 0.8, p_adjusted: 1, tied_with_best: true });
    expect(tied.kind).toBe("tied");
    expect(tied.title).toContain("p = 1");
    expect(versusBest({ rank: 3, p_value: 0.0005, p_adjusted: 0.001, tied_with_best: false })).toMatchObject({ kind: "worse", label: "p = 0.001" });
    expect(versusBest({ rank: 4, tied_with_best: null }).kind).toBe("unknown");
  });
});

describe("judgeVerdict", () => {
  it("warns when the server flags a judge, and says why", () => {
    const text = judgeVerdict({ name: "judge", pairs: 12, kappa: -0.3, bias: -0.125, warning: true });
    expect(text).toContain("disagrees with people");
    expect(text).toContain("-0.30");
    expect(text).toContain("0.13 lower");
  });
  it("does not warn on too few pairs, and reads a calibrated judge", () => {
    expect(judgeVerdict({ name: "j", pairs: 2, kappa: -1, bias: 0, warning: false })).toContain("too few");
    expect(judgeVerdict({ name: "j", pairs: 20, kappa: 0.9, bias: 0.05, warning: false })).toBe(
      "Weighted kappa 0.90 over 20 pairs; it scores 0.05 higher than people on average.",
    );
    expect(judgeVerdict({ name: "j", pairs: 0, warning: false })).toContain("No paired ratings");
    expect(judgeVerdict({ name: "j", pairs: 12, kappa: -1, bias: 0, warning: true })).toContain("on average it scores as people do");
  });
});
