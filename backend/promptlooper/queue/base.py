"""The run queue interface: in-process for single-container mode, Celery in production."""

from __future__ import annotations

import uuid
from typing import Protocol


class RunQueue(Protocol):
    """Hands sweeps to whatever executes them. Payloads are IDs only; rows are committed first."""

    name: str

    async def enqueue_sweep(self, sweep_id: uuid.UUID) -> None:
        """Execute the pending runs of a sweep."""

    async def stop(self) -> None:
        """Stop accepting work; in-process work is cancelled (its runs stay pending and resume on start)."""
