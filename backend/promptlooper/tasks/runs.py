"""`sweeps.dispatch` expands a sweep into `runs.execute` tasks; `runs.execute` runs one run.

Both are idempotent: a redelivered or duplicated task finds its run done, held by a live worker,
or its sweep paused, and does nothing; a run redone after a lost worker pays for no completed
call twice, because its calls are in the shared cache.
"""

from __future__ import annotations

import logging
import uuid

from celery import Celery

from promptlooper.config import Settings
from promptlooper.queue.celery_queue import DISPATCH_TASK, RUN_TASK, send_runs

log = logging.getLogger("promptlooper.tasks")


def register_run_tasks(app: Celery, settings: Settings) -> None:
    """Register the run tasks with time limits from the settings."""
    hard = settings.run_time_limit_s

    @app.task(name=RUN_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
              soft_time_limit=hard - 30, time_limit=hard)  # type: ignore[untyped-decorator]
    def execute_run(run_id: str, sweep_id: str) -> str:
        from promptlooper.services.distributed import execute_queued_run
        from promptlooper.worker import current_runtime

        worker = current_runtime()
        run, sweep = uuid.UUID(run_id), uuid.UUID(sweep_id)
        outcome = worker.call(lambda ctx: execute_queued_run(ctx, ctx.runtime, run, sweep), timeout=hard)
        if outcome == "requeue":  # its sweep is at its concurrency: go to the back of the queue
            send_runs(app, sweep, [run])
        log.debug("run %s: %s", run_id, outcome)
        return outcome

    @app.task(name=DISPATCH_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
              soft_time_limit=270, time_limit=300)  # type: ignore[untyped-decorator]
    def dispatch_sweep(sweep_id: str) -> int:
        from promptlooper.services.distributed import runs_to_dispatch
        from promptlooper.worker import current_runtime

        worker = current_runtime()
        run_ids = worker.call(lambda ctx: runs_to_dispatch(ctx, uuid.UUID(sweep_id)), timeout=120)
        send_runs(app, uuid.UUID(sweep_id), run_ids)
        log.info("sweep %s: %d run task(s) enqueued", sweep_id, len(run_ids))
        return len(run_ids)
