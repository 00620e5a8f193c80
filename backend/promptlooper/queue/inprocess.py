"""In-process run queue: each sweep executes as an asyncio task of the API process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptlooper.context import AppContext

log = logging.getLogger("promptlooper.queue")


class InProcessQueue:
    """Runs sweeps on the event loop of this process (one writer: fits SQLite)."""

    name = "in-process"

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}

    async def enqueue_sweep(self, sweep_id: uuid.UUID) -> None:
        """Start executing a sweep unless it is already executing here."""
        from promptlooper.services.execution import execute_sweep

        previous = self._tasks.get(sweep_id)

        async def _execute() -> None:
            if previous is not None and not previous.done():
                await asyncio.wait([previous])  # a resume right after a pause: the old pass ends first
            await execute_sweep(self.ctx, self.ctx.runtime, sweep_id)

        self._tasks[sweep_id] = asyncio.create_task(self._guard(_execute(), sweep_id), name=f"sweep-{sweep_id}")

    async def _guard(self, work: Coroutine[Any, Any, None], sweep_id: uuid.UUID) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sweep %s failed", sweep_id)
        finally:
            if self._tasks.get(sweep_id) is asyncio.current_task():
                self._tasks.pop(sweep_id, None)

    async def wait_idle(self) -> None:
        """Wait until no sweep is executing (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel executing sweeps; their unfinished runs stay pending in the database."""
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
