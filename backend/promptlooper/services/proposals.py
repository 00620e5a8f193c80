"""Prompt proposals of a guided sweep: stored, listed, approved (optionally edited) or rejected.

REST (`routers/proposals.py`) and MCP (`mcp/tools_search.py`) call these; `services/rewrite.py`
makes the proposals. Approving is the agent's add-configurations path (`guided_search`): under the
sweep row's lock, the variant joins the experiment's parameter space (the key that sweeps this
stage's field; `stages.<stage>.<field>` is created with the stage's own value first when none does),
so the guided sampler can pick it from then on, and one run (x repeats) of the best run's
configuration with the variant is inserted as pending and dispatched after commit. That run is
added on top of `max_runs` (it is what the approval asked for). Nothing is ever spent on a proposal
before it is approved.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.db import after_commit, session_scope
from promptlooper.engine.definition import parse_space_key
from promptlooper.engine.space import config_hash
from promptlooper.errors import Conflict, InvalidDefinition, NotFound
from promptlooper.events import types as ev
from promptlooper.models import Experiment, PromptProposal, ProposalRound, Run, RunOrigin, Sweep
from promptlooper.offload import run_cpu
from promptlooper.schemas import ProposalApprove, ProposalOut, ProposalPage, ProposalReject, ProposalRoundOut
from promptlooper.services import rewrite
from promptlooper.services import sweep_policy as policy
from promptlooper.services.common import get_or_404
from promptlooper.services.experiments import definition_of
from promptlooper.services.runtime import Runtime
from promptlooper.services.strategies import Proposal

if TYPE_CHECKING:
    from promptlooper.services.rewrite import RoundInput


def proposal_out(row: PromptProposal) -> ProposalOut:
    """The wire shape of a proposal."""
    return ProposalOut.model_validate({c: getattr(row, c) for c in ProposalOut.model_fields})


def _event_data(row: PromptProposal) -> dict[str, Any]:
    return {"proposal_id": str(row.id), "stage": row.stage, "field": row.field, "text": row.text,
            "status": row.status, "dropped": row.dropped, "reason": row.reason,
            "projected_cost": row.projected_cost, "run_ids": [str(r) for r in row.run_ids or []],
            "decided_by": row.decided_by}


def publish(rt: Runtime, row: PromptProposal, kind: type[ev.ProposalEvent]) -> None:
    """A proposal event (created, approved or rejected)."""
    rt.publish(kind(**_event_data(row)), experiment_id=row.experiment_id, sweep_id=row.sweep_id)


# --- dispatch -----------------------------------------------------------------------------------


async def dispatch_runs(rt: Runtime, sweep_id: uuid.UUID, run_ids: list[uuid.UUID]) -> None:
    """Hand committed pending runs to the queue (production: one task each; in-process: a sweep pass)."""
    queue = rt.queue_for()
    enqueue_runs = getattr(queue, "enqueue_runs", None)
    if enqueue_runs is not None:
        if run_ids:
            await enqueue_runs(sweep_id, run_ids)
    else:  # in-process: a pass of the sweep's loop (after the current one) runs every open run
        await queue.enqueue_sweep(sweep_id)


async def nudge(ctx: AppContext, rt: Runtime, sweep_id: uuid.UUID) -> None:
    """Let a sweep that waited for proposals go on: run what was added, or complete."""
    queue = rt.queue_for()
    if getattr(queue, "enqueue_runs", None) is not None:
        from promptlooper.services.distributed import advance_and_dispatch

        await advance_and_dispatch(ctx, rt, sweep_id)
    else:
        await queue.enqueue_sweep(sweep_id)


# --- the parameter space ------------------------------------------------------------------------


def extend_space(experiment: Experiment, stage_index: int, field_name: str, text: str) -> str | None:
    """Add the variant to the key that sweeps this stage's field; answers the key (None: no list to extend)."""
    defn = definition_of(experiment)
    stage = defn.pipeline_stages[stage_index]
    space = dict(experiment.parameter_space or {})
    exact = bare = None
    for key, value in space.items():
        target = parse_space_key(key, defn.pipeline_stages)
        if isinstance(target, str):
            continue
        if target.kind == "linked" and target.stage == stage_index and isinstance(value, list) and any(
                isinstance(v, dict) and field_name in v for v in value):
            return None  # a linked choice sets this field: the variant joins as a run only
        if target.kind == "field" and target.name == field_name:
            if target.stage == stage_index:
                exact = key
            elif target.stage is None:
                bare = key
    found = exact or (bare if bare is not None and len(defn.pipeline_stages) == 1 else None)
    if found is None:
        if bare is not None:
            return None  # swept for every stage at once: a variant for one stage does not fit that key
        found = f"stages.{stage.name}.{field_name}"
        space[found] = [getattr(stage, field_name)]
    values = space[found]
    if not isinstance(values, list):  # not a list of choices
        return None
    if text not in values:
        space[found] = [*values, text]
    experiment.parameter_space = space  # a new dict: the JSON column sees the change
    return found


# --- storing a round ----------------------------------------------------------------------------


async def store_round(ctx: AppContext, rt: Runtime, read: RoundInput, round_id: uuid.UUID, candidates: list[str],
                      spent: dict[str, Any]) -> None:
    """Store a round's candidates (checked; garbage dropped with the reason), approve them when auto."""
    options = read.options
    field_name = str(options.get("field") or "prompt_template")
    auto = options.get("approval") == "auto"
    base = read.base_run
    now = datetime.now(UTC)
    created: list[PromptProposal] = []
    approved: list[PromptProposal] = []
    # The checks (a template check per candidate) off the loop and before the lock; under it, only whether a
    # proposal stored meanwhile (another round, a slow one) already has the same text.
    reasons = await run_cpu(rewrite.check_all, read.defn, read.stage_index, field_name, candidates, read.current,
                            read.known)
    async with session_scope(ctx.sessionmaker) as session:
        sweep = await session.scalar(select(Sweep).where(Sweep.id == read.sweep_id).with_for_update())
        if sweep is None:
            return
        known = await rewrite.known_texts(session, sweep.id, read.defn, read.stage_index, field_name)
        for text, reason in zip(candidates, reasons, strict=True):
            stripped = text.strip()
            if reason is None and rewrite.normalized(stripped) in known:
                reason = "a duplicate of a variant the sweep already has"
            row = PromptProposal(
                id=uuid.uuid4(), sweep_id=sweep.id, experiment_id=sweep.experiment_id, round_id=round_id,
                stage=read.defn.pipeline_stages[read.stage_index].name, stage_index=read.stage_index,
                field=field_name, text=stripped[:rewrite.MAX_PROMPT_CHARS],
                proposed_text=text[:rewrite.MAX_PROMPT_CHARS], diff_base=read.current, base_run_id=base.id,
                status="rejected" if reason else "pending", dropped=reason is not None, reason=reason,
                projected_tokens=(base.tokens_in + base.tokens_out) * read.repeats,
                projected_cost=round(base.cost_estimate * read.repeats, 6),
                projected_calls=base.llm_calls * read.repeats, run_ids=[], created_at=now,
                decided_by="checks" if reason else None, decided_at=now if reason else None)
            session.add(row)
            created.append(row)
            if reason is None:
                known.add(rewrite.normalized(stripped))
        await session.flush()
        for row in created:
            if auto and not row.dropped:
                await _approve_locked(session, ctx, sweep, row, row.text, "auto")
                approved.append(row)
        await session.execute(update(ProposalRound).where(ProposalRound.id == round_id).values(
            status="done", finished_at=datetime.now(UTC),
            reason=None if candidates else "the optimizer's answer held no prompt", **spent))
    for row in created:
        publish(rt, row, ev.ProposalCreated if not row.dropped else ev.ProposalRejected)
    for row in approved:
        publish(rt, row, ev.ProposalApproved)
    run_ids = [uuid.UUID(str(r)) for row in approved for r in row.run_ids]
    if run_ids:
        await dispatch_runs(rt, read.sweep_id, run_ids)


# --- listing and deciding -----------------------------------------------------------------------


async def list_proposals(session: AsyncSession, sweep_id: uuid.UUID, status: str | None, limit: int,
                         offset: int) -> ProposalPage:
    """A page of the sweep's proposals, newest first (`status` filters; dropped ones are `rejected`)."""
    await get_or_404(session, Sweep, sweep_id, "Sweep")
    where = [PromptProposal.sweep_id == sweep_id]
    if status is not None:
        where.append(PromptProposal.status == status)
    total = int(await session.scalar(select(func.count()).select_from(PromptProposal).where(*where)) or 0)
    rows = (await session.scalars(select(PromptProposal).where(*where)
                                  .order_by(PromptProposal.created_at.desc(), PromptProposal.id)
                                  .limit(limit).offset(offset))).all()
    rounds = (await session.scalars(select(ProposalRound).where(ProposalRound.sweep_id == sweep_id)
                                    .order_by(ProposalRound.round).limit(1000))).all()
    return ProposalPage(items=[proposal_out(r) for r in rows], total=total, limit=limit, offset=offset,
                        rounds=[ProposalRoundOut.model_validate(r, from_attributes=True) for r in rounds])


async def _locked(session: AsyncSession, proposal_id: uuid.UUID) -> tuple[PromptProposal, Sweep]:
    row = await session.get(PromptProposal, proposal_id)
    if row is None:
        raise NotFound(f"Proposal {proposal_id} does not exist.", code="proposal_not_found")
    # The sweep row first (as advance, stop and add_configs take it), then the proposal, fresh.
    sweep = await session.scalar(select(Sweep).where(Sweep.id == row.sweep_id).with_for_update())
    if sweep is None:
        raise NotFound(f"Proposal {proposal_id} does not exist.", code="proposal_not_found")
    row = await session.get(PromptProposal, proposal_id, populate_existing=True, with_for_update=True)
    assert row is not None
    if row.status != "pending":
        raise Conflict(f"The proposal is already {row.status}.", code="proposal_not_pending")
    return row, sweep


async def _approve_locked(session: AsyncSession, ctx: AppContext, sweep: Sweep, row: PromptProposal, text: str,
                          user: str | None) -> None:
    row.text, row.status, row.decided_by, row.decided_at = text, "approved", user, datetime.now(UTC)
    experiment = await session.get(Experiment, sweep.experiment_id)
    if experiment is not None:
        extend_space(experiment, row.stage_index, row.field, text)
    base = await session.get(Run, row.base_run_id) if row.base_run_id is not None else None
    if sweep.status not in ("running", "paused") or base is None:  # a paused sweep runs it on resume
        row.reason = row.reason or "approved after the sweep ended: it joins the experiment's parameter space only"
        return
    config = copy.deepcopy(base.config)
    stages = config.get("stages") or []
    if row.stage_index >= len(stages):
        return
    stages[row.stage_index][row.field] = text
    held = set((await session.scalars(select(Run.config_hash).where(Run.sweep_id == sweep.id))).all())
    if config_hash(config) in held:
        return
    repeats = int(sweep.options.get("repeats") or 1)
    samples = None
    if sweep.options.get("early_stopping"):  # the variant climbs the rungs like the sampler's configurations
        from promptlooper.services.halving import first_rung

        plan = await policy.load_plan(ctx, session, sweep)
        samples = first_rung(plan.spec()) if plan is not None else None
    rows = policy.proposal_rows(sweep.experiment_id, sweep.id, [Proposal(config=config, repeat_index=r, samples=samples)
                                                                for r in range(repeats)], RunOrigin.REWRITE)
    await session.execute(insert(Run), rows)
    sweep.total_runs += len(rows)
    row.run_ids = [str(r["id"]) for r in rows]
    await session.flush()


async def approve(session: AsyncSession, ctx: AppContext, proposal_id: uuid.UUID, body: ProposalApprove,
                  user: str | None) -> ProposalOut:
    """Approve a pending proposal (edited first when `text` is given): it joins the sweep and its space."""
    row, sweep = await _locked(session, proposal_id)
    text = row.text
    if body.text is not None:
        experiment = await get_or_404(session, Experiment, sweep.experiment_id, "Experiment")
        defn = definition_of(experiment)
        text = body.text.strip()
        problem = (await run_cpu(rewrite.check_candidate, defn, row.stage_index, row.field, text, None, set())
                   if row.stage_index < len(defn.pipeline_stages) else "the stage is gone")
        if problem is not None:
            raise InvalidDefinition([{"loc": ["body", "text"], "msg": f"The edited prompt is {problem}.",
                                      "type": "invalid_prompt"}])
    await _approve_locked(session, ctx, sweep, row, text, user)
    rt, sweep_id, run_ids = ctx.runtime, sweep.id, [uuid.UUID(str(r)) for r in row.run_ids]

    async def _after() -> None:
        publish(rt, row, ev.ProposalApproved)
        if run_ids:
            await dispatch_runs(rt, sweep_id, run_ids)

    after_commit(session, _after)
    return proposal_out(row)


async def reject(session: AsyncSession, ctx: AppContext, proposal_id: uuid.UUID, body: ProposalReject,
                 user: str | None) -> ProposalOut:
    """Reject a pending proposal: nothing is ever run for it; a sweep that waited for it goes on."""
    row, sweep = await _locked(session, proposal_id)
    row.status, row.decided_by, row.decided_at = "rejected", user, datetime.now(UTC)
    row.reason = body.reason or row.reason
    rt, sweep_id, running = ctx.runtime, sweep.id, sweep.status == "running"

    async def _after() -> None:
        publish(rt, row, ev.ProposalRejected)
        if running:
            await nudge(ctx, rt, sweep_id)

    after_commit(session, _after)
    return proposal_out(row)
