import { describe, expect, it } from "vitest";

import { copyName } from "./DuplicateExperiment";

describe("copyName", () => {
  it("adds (copy), then counts up", () => {
    expect(copyName("grid")).toBe("grid (copy)");
    expect(copyName("grid (copy)")).toBe("grid (copy 2)");
    expect(copyName("grid (copy 2)")).toBe("grid (copy 3)");
  });
});
