"""Stop means stopped (issue 11 §4): a stopped sweep's in-flight runs end as `cancelled`, at once.

- `stop_sweep` (services/sweeps.py) marks the sweep's running runs `cancelled` in its own
  transaction, so once it answers no run of the sweep is `running` and the experiment is honestly
  `completed`; then it cancels the in-flight calls of this process (in-process queue).
- Workers (production) run each run under a `StopWatch`: one query per process every
  `STOP_POLL_S` finds the stopped sweeps among those it is executing and cancels their runs' tasks,
  which aborts the LLM calls. Until a worker notices, the run is still leased in Redis, and a new
  sweep of the experiment is refused (409 `runs_still_running`).
- A cancelled run's outcome is never persisted over `cancelled` (`run_once` locks the row and
  checks). A call that completed before the cancel is in the response cache, so nothing paid is lost.
- Leftovers (a run still `running` in a stopped or completed sweep, e.g. from before this fix or a
  crash mid-stop) are cancelled at start (in-process) and by the watchdog once their lease lapsed.

The status value is the plain string 'cancelled' (the engine's RunStatus enum carries it too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.db import session_scope
from promptlooper.errors import Conflict, ServiceUnavailable
from promptlooper.models import Run, Sweep
from promptlooper.queue.coordination import REDIS_ERRORS

log = logging.getLogger("promptlooper.stopping")
T = TypeVar("T")

CANCELLED = "cancelled"
FINAL_STATUSES = ("completed", "cached", "failed", "pruned", CANCELLED)  # a run in one of these is never executed again
STOPPED_REASON = "Cancelled: the sweep was stopped while this run was in flight."
ENDED_SWEEP_STATUSES = ("stopped", "completed")


async def cancel_running_runs(session: AsyncSession, sweep_id: uuid.UUID, reason: str = STOPPED_REASON) -> int:
    """Mark the sweep's running runs cancelled in the caller's transaction; answers how many."""
    result = await session.execute(
        update(Run)
        .where(Run.sweep_id == sweep_id, Run.status == "running")
        .values(status=CANCELLED, error=reason, completed_at=datetime.now(UTC))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def mark_cancelled(ctx: AppContext, run_id: uuid.UUID, reason: str = STOPPED_REASON) -> None:
    """A run whose call was cancelled by a stop: `cancelled` unless it already ended otherwise."""
    async with session_scope(ctx.sessionmaker) as session:
        await session.execute(
            update(Run)
            .where(Run.id == run_id, Run.status.in_(("pending", "running")))
            .values(status=CANCELLED, error=reason, completed_at=datetime.now(UTC))
        )


async def cancel_leftovers(ctx: AppContext, still_held: set[uuid.UUID] | None = None) -> int:
    """Runs left `running` in a stopped or completed sweep: cancelled (except those in `still_held`,
    the runs a live worker still holds a lease on). Answers how many."""
    async with session_scope(ctx.sessionmaker) as session:
        ids = set(
            (
                await session.scalars(
                    select(Run.id)
                    .join(Sweep, Sweep.id == Run.sweep_id)
                    .where(Run.status == "running", Sweep.status.in_(ENDED_SWEEP_STATUSES))
                )
            ).all()
        )
        ids -= still_held or set()
        if not ids:
            return 0
        await session.execute(
            update(Run)
            .where(Run.id.in_(ids), Run.status == "running")
            .values(status=CANCELLED, error="Cancelled: its sweep had ended; the run was left running.",
                    completed_at=datetime.now(UTC))
        )
    log.warning("%d run(s) left running in ended sweeps were cancelled", len(ids))
    return len(ids)


async def leftover_candidates(ctx: AppContext) -> set[uuid.UUID]:
    """Runs `running` in a stopped or completed sweep (the watchdog checks their leases)."""
    async with session_scope(ctx.sessionmaker) as session:
        return set(
            (
                await session.scalars(
                    select(Run.id)
                    .join(Sweep, Sweep.id == Run.sweep_id)
                    .where(Run.status == "running", Sweep.status.in_(ENDED_SWEEP_STATUSES))
                )
            ).all()
        )


async def refuse_while_runs_in_flight(session: AsyncSession, ctx: AppContext, experiment_id: uuid.UUID) -> None:
    """409 while any run of the experiment is still running: in the database, in a worker that has not
    yet noticed its sweep's stop (its Redis lease), or as a task of this process."""
    running = await session.scalar(
        select(func.count()).select_from(Run).where(Run.experiment_id == experiment_id, Run.status == "running")
    )
    in_flight = bool(running)
    if not in_flight:
        recent = list(
            (
                await session.scalars(
                    select(Sweep.id)
                    .where(Sweep.experiment_id == experiment_id, Sweep.status == "stopped")
                    .order_by(Sweep.created_at.desc())
                    .limit(3)
                )
            ).all()
        )
        in_flight = any(_in_flight_here(ctx, sweep_id) for sweep_id in recent)
        coordinator = ctx.coordinator
        if not in_flight and coordinator is not None and recent:
            try:
                for sweep_id in recent:
                    picked = await coordinator.picked_runs(sweep_id)
                    if picked and await coordinator.leased_runs(picked):
                        in_flight = True
                        break
            except REDIS_ERRORS as exc:
                raise ServiceUnavailable("The run queue (Redis) is unreachable, so nothing was started; "
                                         "try again once Redis is back.", code="queue_unavailable") from exc
    if in_flight:
        raise Conflict(
            "Runs of a stopped sweep of this experiment are still being cancelled; try again in a moment.",
            code="runs_still_running",
        )


def _in_flight_here(ctx: AppContext, sweep_id: uuid.UUID) -> bool:
    if not ctx.has_runtime:
        return False
    control = ctx.runtime.controls.get(sweep_id)
    return control is not None and any(not task.done() for task in control.inflight)


class StopWatch:
    """Cancels a worker's in-flight runs of sweeps that were stopped (one query per poll, per process)."""

    def __init__(self, ctx: AppContext, poll_s: float) -> None:
        self.ctx = ctx
        self.poll_s = poll_s
        self._tasks: dict[uuid.UUID, set[asyncio.Task[Any]]] = {}
        self._watcher: asyncio.Task[None] | None = None

    async def run(self, sweep_id: uuid.UUID, work: Coroutine[Any, Any, T]) -> T:
        """Await `work`; raises `RunCancelled` when the sweep is stopped meanwhile (the work is cancelled)."""
        task: asyncio.Task[T] = asyncio.ensure_future(work)
        self._tasks.setdefault(sweep_id, set()).add(task)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch(), name="stop-watch")
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and (current is None or not current.cancelling()):
                raise RunCancelled from None  # the watch cancelled it, not our caller
            raise
        finally:
            tasks = self._tasks.get(sweep_id)
            if tasks is not None:
                tasks.discard(task)
                if not tasks:
                    self._tasks.pop(sweep_id, None)

    async def _watch(self) -> None:
        while self._tasks:
            await asyncio.sleep(self.poll_s)
            try:
                await self.check_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database blipped: look again at the next poll
                log.warning("stop check failed: %s", exc)

    async def check_once(self) -> None:
        """Cancel the tasks of every watched sweep that is stopped now."""
        watched = list(self._tasks)
        if not watched:
            return
        async with session_scope(self.ctx.sessionmaker) as session:
            stopped = set(
                (
                    await session.scalars(select(Sweep.id).where(Sweep.id.in_(watched), Sweep.status == "stopped"))
                ).all()
            )
        for sweep_id in stopped:
            for task in list(self._tasks.get(sweep_id, ())):
                task.cancel()

    async def aclose(self) -> None:
        """Stop watching (the runs' own tasks belong to their callers)."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None


class RunCancelled(Exception):
    """The run's sweep was stopped while it was in flight; its call was cancelled."""


def stop_watch_of(ctx: AppContext) -> StopWatch:
    """This process's StopWatch (created on first use)."""
    watch = ctx.stop_watch
    if watch is None:
        watch = ctx.stop_watch = StopWatch(ctx, float(ctx.settings.stop_poll_s))
    return watch
