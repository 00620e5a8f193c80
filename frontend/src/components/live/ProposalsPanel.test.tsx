import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { fakeApi, renderAt, Reply, type FakeRequest } from "../builder/testApi";
import { ProposalsPanel } from "./ProposalsPanel";

const SWEEP = "77777777-7777-7777-7777-777777777777";
const P1 = "aaaaaaaa-0000-0000-0000-000000000001";
const P2 = "aaaaaaaa-0000-0000-0000-000000000002";

function proposal(id: string, over: Record<string, unknown> = {}) {
  return {
    id, sweep_id: SWEEP, experiment_id: "e", stage: "answer", field: "prompt_template",
    text: "Summarize {{ input }} in one sentence.", proposed_text: "Summarize {{ input }} in one sentence.",
    status: "pending", dropped: false, reason: null, diff_base: "Summarize {{ input }}.", base_run_id: "r",
    projected_tokens: 1200, projected_cost: 0.0042, projected_calls: 3, run_ids: [], decided_by: null,
    decided_at: null, created_at: "2026-12-06T00:00:00Z", ...over,
  };
}
const dropped = proposal(P2, { status: "rejected", dropped: true, text: "", reason: "empty: the optimizer proposed no text" });

function page(items: unknown[]) {
  return { items, total: items.length, limit: 50, offset: 0, rounds: [] };
}

afterEach(() => vi.unstubAllGlobals());

describe("ProposalsPanel", { timeout: 30_000 }, () => {
  it("shows a pending rewrite as a word diff against the best prompt, with its projected cost", async () => {
    fakeApi({ [`GET /api/v1/sweeps/${SWEEP}/proposals`]: page([proposal(P1), dropped]) });
    renderAt(<ProposalsPanel sweepId={SWEEP} version={0} readOnly={false} />, "/", "/");
    const card = await screen.findByTestId("pending-proposal");
    const diff = within(card).getByTestId("proposal-diff");
    expect(diff.querySelector("[data-diff=insert]")).toHaveTextContent(/in one sentence/);
    expect(within(card).getByTestId("proposal-cost")).toHaveTextContent("$0.0042");
    expect(card).toHaveTextContent("3 calls");
    expect(screen.getByTestId("proposals-panel")).toHaveTextContent("1 rewrite waiting for approval");
    const decided = screen.getByTestId("decided-proposal");
    expect(decided).toHaveTextContent("dropped");
    expect(decided).toHaveTextContent("empty: the optimizer proposed no text");
  });

  it("approves, edits then approves, and rejects through the API", async () => {
    const calls = fakeApi({
      [`GET /api/v1/sweeps/${SWEEP}/proposals`]: page([proposal(P1), proposal(P2, { text: "Other {{ input }}" })]),
      [`POST /api/v1/proposals/${P1}/approve`]: (r: FakeRequest) => proposal(P1, { status: "approved", ...(r.body as object) }),
      [`POST /api/v1/proposals/${P2}/reject`]: proposal(P2, { status: "rejected" }),
    });
    renderAt(<ProposalsPanel sweepId={SWEEP} version={0} readOnly={false} />, "/", "/");
    const user = userEvent.setup();
    const [first, second] = await screen.findAllByTestId("pending-proposal");
    await user.click(within(first!).getByTestId("proposal-edit"));
    const text = within(first!).getByTestId("proposal-edit-text");
    await user.clear(text);
    await user.type(text, "Be brief: {{{{ input }}");
    await user.click(within(first!).getByTestId("proposal-save-approve"));
    await user.click(within(second!).getByTestId("proposal-reject"));
    await waitFor(() => expect(calls.filter((c) => c.method === "POST")).toHaveLength(2));
    const posts = calls.filter((c) => c.method === "POST");
    expect(posts[0]).toMatchObject({ path: `/api/v1/proposals/${P1}/approve`, body: { text: "Be brief: {{ input }}" } });
    expect(posts[1]).toMatchObject({ path: `/api/v1/proposals/${P2}/reject`, body: {} });
  });

  it("shows why an approval was refused, and hides the buttons for readers", async () => {
    fakeApi({
      [`GET /api/v1/sweeps/${SWEEP}/proposals`]: page([proposal(P1)]),
      [`POST /api/v1/proposals/${P1}/approve`]: new Reply(409, { detail: "The proposal is already rejected.", code: "proposal_not_pending" }),
    });
    const { unmount } = renderAt(<ProposalsPanel sweepId={SWEEP} version={0} readOnly={false} />, "/", "/");
    const user = userEvent.setup();
    await user.click(await screen.findByTestId("proposal-approve"));
    expect(await screen.findByText("The proposal is already rejected.")).toBeInTheDocument();
    unmount();
    renderAt(<ProposalsPanel sweepId={SWEEP} version={0} readOnly />, "/", "/");
    await screen.findByTestId("pending-proposal");
    expect(screen.queryByTestId("proposal-approve")).toBeNull();
  });

  it("says why the optimizer's last round proposed nothing", async () => {
    const round = { round: 1, status: "failed", reason: "optimizer call failed: 401", cached: false, tokens_in: 0, tokens_out: 0,
      cost_spent: 0, started_at: "2026-12-06T00:00:00Z", finished_at: "2026-12-06T00:00:01Z" };
    fakeApi({ [`GET /api/v1/sweeps/${SWEEP}/proposals`]: { ...page([]), rounds: [round] } });
    renderAt(<ProposalsPanel sweepId={SWEEP} version={0} readOnly={false} />, "/", "/");
    expect(await screen.findByTestId("round-failed")).toHaveTextContent("Optimizer round 1 proposed nothing: optimizer call failed: 401");
  });

  it("renders nothing for a sweep without proposals", async () => {
    const calls = fakeApi({ [`GET /api/v1/sweeps/${SWEEP}/proposals`]: page([]) });
    const { container } = renderAt(<ProposalsPanel sweepId={SWEEP} version={0} readOnly={false} />, "/", "/");
    await waitFor(() => expect(calls).toHaveLength(1));
    expect(container.querySelector("[data-testid=proposals-panel]")).toBeNull();
  });
});
