"""What a sweep is, in both modes: its plan, budgets, progress (one ETA), next runs, completion, events.

The two executors differ only in how a run reaches `execution.run_once` and how slots are held:
- `services/execution.py` (in-process): one asyncio loop per sweep, a local semaphore;
- `services/distributed.py` (Celery): one task per run, Redis leases and semaphores.
Both call into this module for every decision, so a change to budgets, completion or an event's
payload is made here once:
- `load_plan`: the sweep's document, concurrency and budget caps;
- `progress_from_db` / `SweepProgress`: the counters and the one ETA (`eta_s`);
- `after_run`-style accounting: `publish_progress`, `publish_new_best`, `pause_for_budget`;
- `advance`: when no run is open, ask the strategy (`services/strategies.py`) for more runs
  (persisted as pending in the same transaction) or complete the sweep (exactly one caller wins);
- `announce_pause`: a user pause, with progress, whatever the mode.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.db import session_scope
from promptlooper.engine.definition import ExperimentDefinition
from promptlooper.engine.space import config_hash
from promptlooper.events import types as ev
from promptlooper.models import Experiment, ProposalRound, Run, RunStatus, StageResult, Sweep
from promptlooper.offload import run_cpu
from promptlooper.services import rewrite
from promptlooper.services.experiments import definition_of
from promptlooper.services.runtime import Runtime
from promptlooper.services.settings import get_settings
from promptlooper.services.strategies import Decision, Proposal, StrategySpec, Trial, build_strategy

OPEN_STATUSES = RunStatus.open()
DONE_STATUSES = RunStatus.done()
SUCCESS_STATUSES = RunStatus.succeeded()


def aware(value: datetime) -> datetime:
    """A timestamp as aware UTC (SQLite reads some back naive)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def session_start(sweep: Sweep) -> datetime:
    """When the sweep last (re)started running: the start of the pace the ETA extrapolates."""
    return aware(sweep.resumed_at or sweep.created_at)


# --- the plan ---------------------------------------------------------------------------------


@dataclass
class SweepPlan:
    """What every run of a sweep needs: its document, concurrency and budget caps."""

    sweep_id: uuid.UUID
    experiment_id: uuid.UUID
    sweep_type: str
    options: dict[str, Any]
    defn: ExperimentDefinition
    concurrency: int
    budget_tokens: int
    budget_cost: float
    default_endpoint_id: str | None
    loaded_at: float = field(default_factory=time.monotonic)

    def spec(self) -> StrategySpec:
        """What the sweep's strategy is built from."""
        return StrategySpec(self.sweep_type, self.defn, self.options, self.default_endpoint_id)


async def load_plan(ctx: AppContext, session: AsyncSession, sweep: Sweep) -> SweepPlan | None:
    """The plan of a sweep (None when its experiment is gone)."""
    experiment = await session.get(Experiment, sweep.experiment_id)
    if experiment is None:
        return None
    settings = await get_settings(session, ctx)
    budget = sweep.options.get("budget") or {}
    token_caps = [int(v) for v in (budget.get("max_tokens") or 0, settings.max_tokens_per_sweep) if v]
    return SweepPlan(
        sweep_id=sweep.id,
        experiment_id=experiment.id,
        sweep_type=sweep.type,
        options=dict(sweep.options),
        defn=definition_of(experiment),
        concurrency=int(sweep.options.get("concurrency") or settings.max_concurrent_runs),
        budget_tokens=min(token_caps) if token_caps else 0,
        budget_cost=float(budget.get("max_cost_usd") or 0.0),
        default_endpoint_id=str(settings.default_endpoint_id) if settings.default_endpoint_id else None,
    )


# --- progress and the one ETA -------------------------------------------------------------------


def eta_s(left: int, done_in_session: int, elapsed_s: float) -> float | None:
    """Seconds left at the pace of this session (since the sweep last started or resumed).

    0.0 when nothing is left; None until a run of this session finished (no pace to go by yet, so
    never a 0.0 right after a resume with runs left).
    """
    if left <= 0:
        return 0.0
    if done_in_session <= 0:
        return None
    return round(max(elapsed_s, 0.0) / done_in_session * left, 1)


@dataclass
class SweepProgress:
    """Counters of a sweep, seeded from the database and advanced as runs finish."""

    total: int
    completed: int = 0
    failed: int = 0
    cached: int = 0
    pruned: int = 0  # only from the database: a run is pruned by `advance`, never by an executor
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    paid_tokens: int = 0
    tokens_in_spent: int = 0
    tokens_out_spent: int = 0
    cost_spent: float = 0.0
    llm_calls_paid: int = 0
    cache_hits: int = 0
    session_done: int = 0  # runs finished since `session_started`
    session_started: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def finished(self) -> int:
        """Runs done in any final status."""
        return self.completed + self.failed + self.cached + self.pruned

    def count(self, run: Run, paid_tokens: int) -> None:
        """Account one run that just finished."""
        self.session_done += 1
        if run.status == RunStatus.FAILED:
            self.failed += 1
        elif run.status == RunStatus.CACHED:
            self.cached += 1
        else:
            self.completed += 1
        self.tokens_in += run.tokens_in
        self.tokens_out += run.tokens_out
        self.cost += run.cost_estimate
        self.paid_tokens += paid_tokens
        self.tokens_in_spent += run.tokens_in_spent
        self.tokens_out_spent += run.tokens_out_spent
        self.cost_spent += run.cost_spent
        self.llm_calls_paid += run.llm_calls_paid
        self.cache_hits += run.cache_hits

    def eta_s(self) -> float | None:
        """Seconds left (see `eta_s`)."""
        elapsed = (datetime.now(UTC) - self.session_started).total_seconds()
        return eta_s(self.total - self.finished, self.session_done, elapsed)

    def as_data(self) -> dict[str, Any]:
        """The progress fields of `sweep.progress`, `experiment.paused` and `experiment.completed`."""
        return {
            "completed": self.finished,
            "total": self.total,
            "failed": self.failed,
            "cached": self.cached,
            "pruned": self.pruned,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_estimate": round(self.cost, 6),
            "eta_s": self.eta_s(),
            # what was paid for, and what the cache saved (the totals above count every answer)
            "tokens_in_spent": self.tokens_in_spent,
            "tokens_out_spent": self.tokens_out_spent,
            "cost_spent": round(self.cost_spent, 6),
            "tokens_saved": max(self.tokens_in + self.tokens_out - self.tokens_in_spent - self.tokens_out_spent, 0),
            "cost_saved": round(max(self.cost - self.cost_spent, 0.0), 6),
            "llm_calls": self.llm_calls_paid,
            "cache_hits": self.cache_hits,
        }


async def progress_from_db(session: AsyncSession, sweep: Sweep) -> SweepProgress:
    """The sweep's counters as the database has them."""
    rows = (
        await session.execute(
            select(
                Run.status,
                func.count(),
                func.coalesce(func.sum(Run.tokens_in), 0),
                func.coalesce(func.sum(Run.tokens_out), 0),
                func.coalesce(func.sum(Run.cost_estimate), 0.0),
                func.coalesce(func.sum(Run.tokens_in_spent), 0),
                func.coalesce(func.sum(Run.tokens_out_spent), 0),
                func.coalesce(func.sum(Run.cost_spent), 0.0),
                func.coalesce(func.sum(Run.llm_calls_paid), 0),
                func.coalesce(func.sum(Run.cache_hits), 0),
            )
            .where(Run.sweep_id == sweep.id)
            .group_by(Run.status)
        )
    ).all()
    started = session_start(sweep)
    progress = SweepProgress(total=sum(int(r[1]) for r in rows), session_started=started)
    for status, count, t_in, t_out, cost, s_in, s_out, s_cost, paid_calls, hits in rows:
        if status in DONE_STATUSES:
            setattr(progress, status, getattr(progress, status) + int(count))
            progress.tokens_in += int(t_in)
            progress.tokens_out += int(t_out)
            progress.cost += float(cost)
            progress.tokens_in_spent += int(s_in)
            progress.tokens_out_spent += int(s_out)
            progress.cost_spent += float(s_cost)
            progress.llm_calls_paid += int(paid_calls)
            progress.cache_hits += int(hits)
    paid = await session.scalar(
        select(func.coalesce(func.sum(StageResult.tokens_in + StageResult.tokens_out), 0))
        .join(Run, Run.id == StageResult.run_id)
        .where(Run.sweep_id == sweep.id, StageResult.cached.is_(False))
    )
    progress.paid_tokens = int(paid or 0)
    r = ProposalRound
    sums = (await session.execute(
        select(*(func.coalesce(func.sum(c), 0) for c in (r.tokens_in, r.tokens_out, r.cost, r.tokens_in_spent,
                                                          r.tokens_out_spent, r.cost_spent)),
               func.count(r.id), func.coalesce(func.sum(case((r.cached.is_(True), 1), else_=0)), 0))
        .where(r.sweep_id == sweep.id, r.status == "done", r.tokens_in > 0)
    )).one()
    _add_optimizer_calls(progress, sums)
    progress.session_done = int(
        await session.scalar(
            select(func.count())
            .select_from(Run)
            .where(Run.sweep_id == sweep.id, Run.status.in_(DONE_STATUSES), Run.completed_at >= started)
        )
        or 0
    )
    return progress


def _add_optimizer_calls(progress: SweepProgress, sums: Any) -> None:
    """A rewriting sweep's optimizer calls (`services/rewrite.py`) count like its runs' calls."""
    t_in, t_out, cost, s_in, s_out, s_cost, calls, hits = sums
    progress.tokens_in += int(t_in)
    progress.tokens_out += int(t_out)
    progress.cost += float(cost)
    progress.tokens_in_spent += int(s_in)
    progress.tokens_out_spent += int(s_out)
    progress.cost_spent += float(s_cost)
    progress.paid_tokens += int(s_in) + int(s_out)
    progress.llm_calls_paid += int(calls) - int(hits)
    progress.cache_hits += int(hits)


def over_budget(plan: SweepPlan, progress: SweepProgress) -> bool:
    """Whether the sweep spent its token or cost budget (paid tokens only: cache hits are free)."""
    return bool(
        (plan.budget_tokens and progress.paid_tokens >= plan.budget_tokens)
        or (plan.budget_cost and progress.cost_spent >= plan.budget_cost)
    )


async def best_score(session: AsyncSession, experiment_id: uuid.UUID,
                     excluding: uuid.UUID | None = None) -> float | None:
    """The best weighted score of the experiment's succeeded, not rejected runs (failures never count)."""
    stmt = select(func.max(Run.weighted_score)).where(
        Run.experiment_id == experiment_id, Run.rejected.is_(False), Run.status.in_(SUCCESS_STATUSES),
        Run.sample_ids.is_(None),  # scored on every sample (early stopping's partial runs never lead)
    )
    if excluding is not None:
        stmt = stmt.where(Run.id != excluding)
    return await session.scalar(stmt)


def is_new_best(run: Run, best_so_far: float | None) -> bool:
    """A run that succeeded on every sample and beats the best so far (a failed or partial run never does)."""
    return (
        run.status in SUCCESS_STATUSES
        and run.sample_ids is None
        and run.weighted_score is not None
        and (best_so_far is None or run.weighted_score > best_so_far)
    )


# --- the events of a sweep --------------------------------------------------------------------


def publish_progress(rt: Runtime, plan: SweepPlan, progress: SweepProgress) -> None:
    """`sweep.progress` after a run finished."""
    rt.publish(ev.SweepProgressed(**progress.as_data()), experiment_id=plan.experiment_id, sweep_id=plan.sweep_id)


def publish_new_best(rt: Runtime, plan: SweepPlan, run: Run, best_so_far: float | None) -> bool:
    """`new_best_found` when the run beats the best so far; answers whether it did."""
    if not is_new_best(run, best_so_far):
        return False
    assert run.weighted_score is not None
    rt.publish(ev.NewBestFound(weighted_score=run.weighted_score, previous_best=best_so_far, config=run.config),
               experiment_id=plan.experiment_id, sweep_id=plan.sweep_id, run_id=run.id)
    return True


async def pause_for_budget(ctx: AppContext, rt: Runtime, plan: SweepPlan, progress: SweepProgress) -> bool:
    """Pause a running sweep whose budget is spent; exactly one caller wins and announces it."""
    async with session_scope(ctx.sessionmaker) as session:
        paused = await session.execute(
            update(Sweep).where(Sweep.id == plan.sweep_id, Sweep.status == "running").values(status="paused")
        )
        if not paused.rowcount:  # type: ignore[attr-defined]
            return False  # another worker got there first, or the user paused or stopped it
        await session.execute(update(Experiment).where(Experiment.id == plan.experiment_id).values(status="paused"))
    rt.publish(ev.BudgetExhausted(token_count=progress.paid_tokens, cost=round(progress.cost_spent, 6),
                                  max_tokens=plan.budget_tokens or None, max_cost_usd=plan.budget_cost or None),
               experiment_id=plan.experiment_id, sweep_id=plan.sweep_id)
    rt.publish(ev.ExperimentPaused(reason="budget", **progress.as_data()),
               experiment_id=plan.experiment_id, sweep_id=plan.sweep_id)
    return True


async def announce_pause(ctx: AppContext, rt: Runtime, experiment_id: uuid.UUID, sweep_id: uuid.UUID) -> None:
    """`experiment.paused` for a user's pause (after its commit), with the progress at that moment."""
    async with session_scope(ctx.sessionmaker) as session:
        sweep = await session.get(Sweep, sweep_id)
        if sweep is None:
            return
        progress = await progress_from_db(session, sweep)
    rt.publish(ev.ExperimentPaused(reason="requested", **progress.as_data()),
               experiment_id=experiment_id, sweep_id=sweep_id)


# --- next runs and completion -------------------------------------------------------------------


def proposal_rows(experiment_id: uuid.UUID, sweep_id: uuid.UUID, proposals: list[Proposal],
                  origin: str) -> list[dict[str, Any]]:
    """`runs` rows (pending) for a strategy's proposals; `origin` where a proposal names none."""
    return [
        {
            "id": uuid.uuid4(),
            "experiment_id": experiment_id,
            "sweep_id": sweep_id,
            "config_hash": config_hash(p.config),
            "config": p.config,
            "repeat_index": p.repeat_index,
            "status": RunStatus.PENDING.value,
            "sample_ids": list(p.samples) if p.samples is not None else None,
            "origin": p.origin or origin,
        }
        for p in proposals
        if p.parent_run_id is None
    ]


async def trials_of(session: AsyncSession, sweep_id: uuid.UUID) -> list[Trial]:
    """Every run of the sweep, oldest first: the whole state of its strategy."""
    rows = (
        await session.execute(
            select(Run.id, Run.config, Run.repeat_index, Run.status, Run.weighted_score, Run.sample_ids,
                   Run.samples_evaluated)
            .where(Run.sweep_id == sweep_id)
            .order_by(Run.created_at, Run.id)
        )
    ).all()
    return [Trial(run_id=r[0], config=r[1], repeat_index=r[2], status=r[3], weighted_score=r[4],
                  samples=tuple(r[5]) if r[5] is not None else None, samples_evaluated=r[6]) for r in rows]


def _decide(spec: StrategySpec, trials: list[Trial]) -> Decision:
    return build_strategy(spec, trials).ask()


async def _apply_halving(session: AsyncSession, sweep_id: uuid.UUID, decision: Decision) -> list[uuid.UUID]:
    """Prune the runs the strategy stops and reopen the ones it continues (on a larger sample set).

    A continued run keeps its stage results: `run_once` evaluates only the samples it has not seen,
    so no sample is ever called twice for a configuration. Answers the reopened run ids.
    """
    done_ok = (RunStatus.COMPLETED, RunStatus.CACHED)
    if decision.prune:
        await session.execute(
            update(Run).where(Run.sweep_id == sweep_id, Run.id.in_(decision.prune), Run.status.in_(done_ok))
            .values(status=RunStatus.PRUNED)
        )
    reopened: list[uuid.UUID] = []
    for proposal in decision.propose:
        if proposal.parent_run_id is None:
            continue
        samples = list(proposal.samples) if proposal.samples is not None else None
        result = await session.execute(
            update(Run).where(Run.sweep_id == sweep_id, Run.id == proposal.parent_run_id, Run.status.in_(done_ok))
            .values(status=RunStatus.PENDING, sample_ids=samples, started_at=None)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            reopened.append(proposal.parent_run_id)
    return reopened


async def advance(ctx: AppContext, rt: Runtime, sweep_id: uuid.UUID, *, force: bool = False) -> list[uuid.UUID]:
    """Decide what comes next for a running sweep with no open run; answer new pending runs to dispatch.

    Under a lock on the sweep row (Postgres; SQLite has one writer), so exactly one caller of many
    (workers finishing their last runs, the watchdog) asks the strategy: its proposals are inserted
    as pending runs in that transaction, or, when it proposes nothing, the sweep completes and that
    caller announces `experiment.completed`. `force` asks even with runs open (a redirect).
    """
    open_runs = select(func.count()).select_from(Run).where(Run.sweep_id == sweep_id, Run.status.in_(OPEN_STATUSES))
    if force:
        await rewrite.maybe_start_round(ctx, rt, sweep_id)  # a due optimizer round starts in the background
    else:  # the common case, after every run: a quick look without the lock
        async with session_scope(ctx.sessionmaker) as session:
            quick = await session.get(Sweep, sweep_id)
            rewriting = quick is not None and rewrite.options_of(quick) is not None
            left = await session.scalar(open_runs)
        if rewriting:  # only a rewriting sweep pays for the round check (its own unit of work)
            await rewrite.maybe_start_round(ctx, rt, sweep_id)
        if left:
            return []
    async with session_scope(ctx.sessionmaker) as session:
        sweep = await session.scalar(select(Sweep).where(Sweep.id == sweep_id).with_for_update())
        if sweep is None or sweep.status != "running":
            return []
        left = await session.scalar(open_runs)
        if left and not force:
            return []
        plan = await load_plan(ctx, session, sweep)
        if plan is None:
            return []
        # Off the loop: a guided sweep rebuilds and asks an Optuna study from every run told.
        decision = await run_cpu(_decide, plan.spec(), await trials_of(session, sweep_id))
        if decision.drop:
            dropped = await session.execute(
                delete(Run).where(Run.sweep_id == sweep_id, Run.id.in_(decision.drop),
                                  Run.status == RunStatus.PENDING)
            )
            sweep.total_runs -= int(dropped.rowcount or 0)  # type: ignore[attr-defined]
        reopened = await _apply_halving(session, sweep_id, decision)
        rows = proposal_rows(plan.experiment_id, sweep_id, decision.propose, plan.sweep_type)
        if rows:
            await session.execute(insert(Run), rows)
            sweep.total_runs += len(rows)
        if rows or reopened:
            return reopened + [row["id"] for row in rows]
        if left or decision.drop or await rewrite.holds_completion(session, sweep):
            return []  # a rewriting sweep waits for its proposals' approval (or its optimizer's answer)
        progress = await progress_from_db(session, sweep)
        sweep.status, sweep.completed_at = "completed", datetime.now(UTC)
        sweep.tokens_in, sweep.tokens_out, sweep.cost_estimate = progress.tokens_in, progress.tokens_out, progress.cost
        await session.execute(update(Experiment).where(Experiment.id == plan.experiment_id).values(status="completed"))
        best = await best_score(session, plan.experiment_id)
    rt.publish(ev.ExperimentCompleted(best_score=best, **progress.as_data()),
               experiment_id=plan.experiment_id, sweep_id=sweep_id)
    return []
