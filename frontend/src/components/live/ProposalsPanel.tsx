import { useMemo, useState } from "react";

import { useApproveProposal, useProposals, useRejectProposal, type Proposal } from "../../api/queries/proposals";
import { wordDiff } from "../../lib/diff";
import { formatCost, formatTokens, pluralize } from "../../lib/format";
import { DiffLegend, DiffText } from "../compare/DiffText";
import { Badge, Button, Card, CardHeader, ErrorMessage, Textarea } from "../ui";

/**
 * Prompt rewrites proposed by a guided sweep's optimizer model. Pending ones show a word diff against
 * the best prompt when proposed and what approving would spend; nothing runs until Approve (or Edit,
 * then approve). Decided and dropped proposals are listed below with the reason.
 */
export function ProposalsPanel({ sweepId, version, readOnly }: { sweepId: string | undefined; version: number; readOnly: boolean }) {
  const proposals = useProposals(sweepId, version);
  const items = proposals.data?.items ?? [];
  const rounds = proposals.data?.rounds ?? [];
  const lastRound = rounds[rounds.length - 1];
  // Nothing to show (no rewriting in this sweep, or the list cannot be read): no panel at all.
  if (!sweepId || (items.length === 0 && rounds.length === 0)) return null;
  const pending = items.filter((p) => p.status === "pending");
  const decided = items.filter((p) => p.status !== "pending");
  return (
    <Card data-testid="proposals-panel">
      <CardHeader
        title="Prompt proposals"
        description={
          pending.length > 0
            ? `${pluralize(pending.length, "rewrite")} waiting for approval: nothing is spent on them before you approve.`
            : lastRound?.status === "generating"
              ? "The optimizer model is writing new prompt variants…"
              : "The optimizer's rewrites of this sweep."
        }
      />
      <div className="space-y-3 p-4">
        {lastRound?.status === "failed" && (
          <p className="text-sm text-warn" data-testid="round-failed">
            Optimizer round {lastRound.round} proposed nothing: {lastRound.reason}
          </p>
        )}
        {pending.length > 0 && <DiffLegend a="the best prompt" b="the proposal" />}
        {pending.map((proposal) => (
          <PendingProposal key={proposal.id} proposal={proposal} readOnly={readOnly} />
        ))}
        {decided.length > 0 && (
          <details data-testid="decided-proposals">
            <summary className="cursor-pointer text-sm text-muted">{pluralize(decided.length, "decided proposal")}</summary>
            <ul className="mt-2 space-y-2">
              {decided.map((proposal) => (
                <li key={proposal.id} className="text-sm" data-testid="decided-proposal">
                  <Badge tone={proposal.status === "approved" ? "good" : proposal.dropped ? "warn" : "neutral"}>
                    {proposal.dropped ? "dropped" : proposal.status}
                  </Badge>{" "}
                  <span className="whitespace-pre-wrap break-words">{proposal.text || "(empty)"}</span>
                  {proposal.reason && <span className="text-muted"> · {proposal.reason}</span>}
                </li>
              ))}
            </ul>
          </details>
        )}
      </div>
    </Card>
  );
}

function PendingProposal({ proposal, readOnly }: { proposal: Proposal; readOnly: boolean }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(proposal.text);
  const approve = useApproveProposal();
  const reject = useRejectProposal();
  const diff = useMemo(() => wordDiff(proposal.diff_base ?? "", proposal.text), [proposal.diff_base, proposal.text]);
  const busy = approve.isPending || reject.isPending;
  return (
    <div className="rounded-md border border-line p-3" data-testid="pending-proposal" data-proposal-id={proposal.id}>
      <p className="mb-2 text-xs text-muted" data-testid="proposal-projection">
        Stage <span className="font-medium text-fg">{proposal.stage}</span> · {proposal.field === "system_prompt" ? "system prompt" : "prompt template"} ·
        projected <span className="num" data-testid="proposal-cost">{formatCost(proposal.projected_cost)}</span>,{" "}
        {formatTokens(proposal.projected_tokens)} tokens, {pluralize(proposal.projected_calls, "call")}
      </p>
      {editing ? (
        <Textarea value={text} maxLength={100000} onChange={(e) => setText(e.target.value)} aria-label="Edited prompt" data-testid="proposal-edit-text" />
      ) : (
        <p className="rounded bg-bg p-2 font-mono text-sm" data-testid="proposal-diff">
          <DiffText parts={diff.parts} />
        </p>
      )}
      {!readOnly && (
        <div className="mt-2 flex flex-wrap gap-2">
          {editing ? (
            <>
              <Button variant="primary" size="sm" loading={approve.isPending} disabled={!text.trim() || busy}
                onClick={() => approve.mutate({ id: proposal.id, text })} data-testid="proposal-save-approve">
                Approve edited
              </Button>
              <Button size="sm" onClick={() => { setEditing(false); setText(proposal.text); }}>Cancel</Button>
            </>
          ) : (
            <>
              <Button variant="primary" size="sm" loading={approve.isPending} disabled={busy}
                onClick={() => approve.mutate({ id: proposal.id })} data-testid="proposal-approve">
                Approve
              </Button>
              <Button size="sm" disabled={busy} onClick={() => setEditing(true)} data-testid="proposal-edit">
                Edit, then approve
              </Button>
              <Button size="sm" loading={reject.isPending} disabled={busy}
                onClick={() => reject.mutate({ id: proposal.id })} data-testid="proposal-reject">
                Reject
              </Button>
            </>
          )}
        </div>
      )}
      <ErrorMessage error={approve.error ?? reject.error} title="Could not decide" />
    </div>
  );
}
