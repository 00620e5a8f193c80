import { describe, expect, it } from "vitest";

import { ApiError, describeError, fieldPath } from "./errors";

describe("ApiError", () => {
  it("keeps the server's sentence and code", () => {
    const error = ApiError.from(409, { detail: "A sweep of this experiment is already running.", code: "sweep_running" });
    expect(error.message).toBe("A sweep of this experiment is already running.");
    expect(error.code).toBe("sweep_running");
    expect(error.status).toBe(409);
  });

  it("turns a 422 field list into one readable sentence", () => {
    const error = ApiError.from(422, {
      detail: [
        { loc: ["body", "pipeline_stages", 0, "model"], msg: "Field required", type: "missing" },
        { loc: ["body", "name"], msg: "String should have at least 1 character", type: "string_too_short" },
      ],
      code: "validation_error",
    });
    expect(error.message).toBe(
      "Please fix these fields: pipeline_stages › #1 › model: field required; name: string should have at least 1 character.",
    );
    expect(error.fields).toHaveLength(2);
  });

  it("parses error bodies that arrive as text (plain-text endpoints)", () => {
    const error = ApiError.from(404, JSON.stringify({ detail: "No completed run to export yet", code: "no_completed_runs" }));
    expect(error.code).toBe("no_completed_runs");
    expect(error.message).toBe("No completed run to export yet.");
  });

  it("falls back to a sentence for the status when the body says nothing", () => {
    expect(ApiError.from(403, undefined).message).toMatch(/read-only/);
    expect(ApiError.from(502, "").message).toMatch(/unreachable/);
    expect(ApiError.from(418, {}).message).toBe("The server answered 418.");
  });

  it("summarises long field lists", () => {
    const detail = Array.from({ length: 6 }, (_, i) => ({ loc: ["body", `f${i}`], msg: "bad" }));
    expect(ApiError.from(422, { detail }).message).toMatch(/\(and 2 more\)\.$/);
  });
});

describe("describeError", () => {
  it("explains network failures", () => {
    expect(describeError(new TypeError("Failed to fetch"))).toMatch(/Cannot reach the PromptLooper server/);
  });
  it("handles anything thrown", () => {
    expect(describeError("boom")).toBe("Boom.");
    expect(describeError(undefined)).toBe("Something went wrong.");
  });
  it("explains a malformed id in the address", () => {
    const error = ApiError.from(422, { detail: [{ loc: ["path", "project_id"], msg: "Input should be a valid UUID" }] });
    expect(error.message).toBe("This address is not valid: the project_id in it is not a known id.");
  });
  it("names query and path fields without the location prefix", () => {
    expect(fieldPath(["query", "limit"])).toBe("limit");
  });
});
