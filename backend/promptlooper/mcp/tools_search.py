"""MCP tools for agent-driven search over a guided sweep: read it, ask its sampler, add configurations."""

from __future__ import annotations

import uuid
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool

from promptlooper.mcp.common import ToolContext, dump, parse, reported, unit_of_work
from promptlooper.mcp.tools import READ, WRITE
from promptlooper.schemas import ProposalApprove, ProposalReject, SweepConfigsAdd
from promptlooper.services import guided_search as search_service
from promptlooper.services import proposals as proposal_service


async def get_sweep(ctx: ToolContext, sweep_id: uuid.UUID) -> dict[str, Any]:
    """Read a sweep: `{sweep_id, experiment_id, type, status, total_runs, max_runs, completed, failed, cached,
    cancelled, pending, running, tokens_in, tokens_out, cost_estimate, best_score, pending_proposals, options, ...}`.

    Its runs (configs, scores, status) are `get_leaderboard` / the experiment's runs; `suggest_configs` asks
    a guided sweep's sampler what it would try next.
    """
    async with unit_of_work(ctx) as work:
        return dump(await search_service.get_sweep(work.session, sweep_id))


async def suggest_configs(ctx: ToolContext, sweep_id: uuid.UUID, n: int = 4) -> dict[str, Any]:
    """What a guided sweep's TPE sampler would try next: `{items: [{overrides: {...}}]}` (1-50); nothing starts.

    Each `overrides` uses the parameter_space keys with single values; pass any (edited or your own) to
    `add_sweep_configs` to run them in the sweep.
    """
    if not 1 <= n <= search_service.MAX_SUGGESTIONS:
        raise ToolError(f"n must be between 1 and {search_service.MAX_SUGGESTIONS}")
    async with unit_of_work(ctx) as work:
        return dump(await search_service.suggest(work.session, work.app, sweep_id, n))


async def add_sweep_configs(ctx: ToolContext, sweep_id: uuid.UUID, configs: list[dict[str, Any]]) -> dict[str, Any]:
    """Add configurations to a running guided sweep: `configs=[{"overrides": {"model": "m2", "temperature": 0.3}}]`.

    Validated like parameter_space single values; they count against the sweep's max_runs (a configuration
    the sweep already holds is not added again) and run like the sweep's own. Returns `{added, run_ids}`.
    """
    body = parse(SweepConfigsAdd, {"configs": configs})
    async with unit_of_work(ctx, write=True) as work:
        return dump(await search_service.add_configs(work.session, work.app, sweep_id, body))


async def list_proposals(ctx: ToolContext, sweep_id: uuid.UUID, status: str | None = None, limit: int = 50,
                         offset: int = 0) -> dict[str, Any]:
    """A guided sweep's prompt proposals (from its optimizer model), newest first: a page of `{id, stage, field,
    text, status: pending|approved|rejected, dropped, reason, diff_base, projected_cost, run_ids, created_at}`.

    `status` filters (pending: those waiting for `approve_proposal` / `reject_proposal`). Dropped proposals (the
    checks refused them: empty, unchanged, JSON, undefined template names, duplicates) are rejected with a reason.
    """
    if status not in (None, "pending", "approved", "rejected"):
        raise ToolError("status must be pending, approved or rejected")
    if not 1 <= limit <= 500 or offset < 0:
        raise ToolError("limit must be between 1 and 500 and offset 0 or more")
    async with unit_of_work(ctx) as work:
        return dump(await proposal_service.list_proposals(work.session, sweep_id, status, limit, offset))


async def approve_proposal(ctx: ToolContext, proposal_id: uuid.UUID, text: str | None = None) -> dict[str, Any]:
    """Approve a pending prompt proposal (pass `text` to edit it first): the variant joins the sweep's parameter
    space and one run of the best configuration with it starts (no call is spent on a proposal before this)."""
    body = parse(ProposalApprove, {"text": text} if text is not None else {})
    async with unit_of_work(ctx, write=True) as work:
        return dump(await proposal_service.approve(work.session, work.app, proposal_id, body,
                                                   work.principal.username))


async def reject_proposal(ctx: ToolContext, proposal_id: uuid.UUID, reason: str | None = None) -> dict[str, Any]:
    """Reject a pending prompt proposal: nothing is ever run for it (an optional `reason` is kept)."""
    body = parse(ProposalReject, {"reason": reason} if reason is not None else {})
    async with unit_of_work(ctx, write=True) as work:
        return dump(await proposal_service.reject(work.session, work.app, proposal_id, body,
                                                  work.principal.username))


def search_tools() -> list[Tool]:
    """The agent-driven search tools."""
    return [
        Tool.from_function(reported(get_sweep), annotations=READ),
        Tool.from_function(reported(suggest_configs), annotations=READ),
        Tool.from_function(reported(add_sweep_configs), annotations=WRITE),
        Tool.from_function(reported(list_proposals), annotations=READ),
        Tool.from_function(reported(approve_proposal), annotations=WRITE),
        Tool.from_function(reported(reject_proposal), annotations=WRITE),
    ]
