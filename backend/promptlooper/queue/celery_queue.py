"""The Celery run queue: the API hands a sweep to the workers as one dispatch task (IDs only)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celery import Celery

DISPATCH_TASK = "sweeps.dispatch"
RUN_TASK = "runs.execute"


class CeleryQueue:
    """Enqueues by task name, so the API process needs no task code, only the broker."""

    name = "celery"

    def __init__(self, app: Celery) -> None:
        self.app = app

    async def enqueue_sweep(self, sweep_id: uuid.UUID) -> None:
        """A worker expands the sweep into one task per run (called after the sweep's rows commit)."""
        await asyncio.to_thread(self.app.send_task, DISPATCH_TASK, args=[str(sweep_id)])

    async def enqueue_runs(self, sweep_id: uuid.UUID, run_ids: Iterable[uuid.UUID]) -> None:
        """One `runs.execute` task per run of the sweep."""
        await asyncio.to_thread(send_runs, self.app, sweep_id, list(run_ids))

    async def stop(self) -> None:
        """Nothing runs here: the workers own the work."""


# Workers re-send runs (a requeue, the watchdog's recoveries): a message that cannot be sent is a
# run nobody executes, so ride out a Redis outage of a few minutes instead of giving up after ~1 s.
SEND_RETRY_POLICY = {"max_retries": 150, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2.0}


def send_runs(app: Celery, sweep_id: uuid.UUID, run_ids: list[uuid.UUID]) -> None:
    """Publish run tasks (run id, sweep id) over one broker connection."""
    if not run_ids:
        return
    with app.producer_or_acquire() as producer:
        for run_id in run_ids:
            app.send_task(RUN_TASK, args=[str(run_id), str(sweep_id)], producer=producer,
                          retry=True, retry_policy=SEND_RETRY_POLICY)
