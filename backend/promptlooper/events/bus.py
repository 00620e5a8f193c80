"""The event bus: events are persisted in batches (for polling) and pushed to live subscribers.

One interface, two transports: in-process (this module) and Redis pub/sub (production), which
reuses the persistence and subscriber fan-out here and only changes how events cross processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from promptlooper.models import Event

log = logging.getLogger("promptlooper.events")

@dataclass
class LiveEvent:
    """One event as clients see it."""

    type: str
    experiment_id: uuid.UUID | None = None
    sweep_id: uuid.UUID | None = None
    run_id: uuid.UUID | None = None
    data: dict[str, Any] = field(default_factory=dict)
    ts: datetime = field(default_factory=lambda: datetime.now(UTC))
    seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The wire shape of CONTRACT.md (plus `seq` for resuming)."""
        return {
            "type": self.type,
            "seq": self.seq,
            "experiment_id": str(self.experiment_id) if self.experiment_id else None,
            "sweep_id": str(self.sweep_id) if self.sweep_id else None,
            "run_id": str(self.run_id) if self.run_id else None,
            "data": self.data,
            "ts": self.ts.isoformat().replace("+00:00", "Z"),
        }

    @classmethod
    def from_row(cls, row: Event) -> LiveEvent:
        """An event read back from the database."""
        return cls(
            type=row.type,
            experiment_id=row.experiment_id,
            sweep_id=row.sweep_id,
            run_id=row.run_id,
            data=row.data,
            ts=row.ts,
            seq=row.seq,
        )


class Subscription:
    """A live feed of events for one experiment (or all of them)."""

    def __init__(self, experiment_id: uuid.UUID | None, maxsize: int = 10_000) -> None:
        self.experiment_id = experiment_id
        self.queue: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0

    def offer(self, event: LiveEvent) -> None:
        """Queue an event if it matches; a slow consumer drops events rather than blocking the sweep."""
        if self.experiment_id is not None and event.experiment_id != self.experiment_id:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1


class Outbox(Protocol):
    """Writes side effects of events (webhook deliveries) in the transaction that persists them."""

    async def write(self, session: AsyncSession, events: list[LiveEvent]) -> int:
        """Add rows for persisted events (their `seq` set) to the session; answers how many."""

    def committed(self) -> None:
        """Called after the commit of a batch for which `write` added rows."""


class EventBus:
    """Buffers published events, writes them in batches, then fans them out to subscribers."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], flush_interval_s: float = 0.05, max_batch: int = 500
    ) -> None:
        self.sessionmaker = sessionmaker
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self._pending: list[LiveEvent] = []
        self._subscribers: set[Subscription] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.outbox: Outbox | None = None  # services/webhook_delivery.Outbox, set by the runtime

    async def start(self) -> None:
        """Start the background flusher."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-bus-flusher")

    async def stop(self) -> None:
        """Flush what is pending and stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    def publish(self, event: LiveEvent) -> None:
        """Queue an event for persistence and delivery (never blocks the caller)."""
        self._pending.append(event)
        if len(self._pending) >= self.max_batch:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.flush_interval_s)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # keep the flusher alive; the events stay pending for the next try
                log.exception("event flush failed")
                await asyncio.sleep(0.5)

    async def flush(self) -> None:
        """Write pending events in one transaction, then deliver them with their sequence numbers."""
        async with self._lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, []
            try:
                await self._persist(batch)
            except BaseException:
                self._pending = batch + self._pending
                raise
            self.deliver(batch)

    async def _persist(self, batch: list[LiveEvent]) -> None:
        async with self.sessionmaker() as session:
            rows = [
                {
                    "type": e.type,
                    "experiment_id": e.experiment_id,
                    "sweep_id": e.sweep_id,
                    "run_id": e.run_id,
                    "data": e.data,
                    "ts": e.ts,
                }
                for e in batch
            ]
            if session.get_bind().dialect.name == "sqlite":
                # One multi-row INSERT per 1,000 events: SQLite numbers the rows of a statement in
                # VALUES order and has one writer at a time, so the sorted sequence numbers are the
                # batch's, in order. (Asking SQLAlchemy to sort by parameter order made it insert
                # row by row on SQLite: 5,064 statements for a 5,000-call sweep.)
                result = await session.execute(insert(Event).returning(Event.seq), rows)
                seqs = sorted(result.scalars().all())
            else:
                result = await session.execute(insert(Event).returning(Event.seq, sort_by_parameter_order=True), rows)
                seqs = list(result.scalars().all())
            for event, seq in zip(batch, seqs, strict=True):
                event.seq = seq
            written = await self.outbox.write(session, batch) if self.outbox is not None else 0
            await session.commit()
        if written and self.outbox is not None:
            self.outbox.committed()

    def deliver(self, events: list[LiveEvent]) -> None:
        """Hand events to every live subscriber in this process."""
        for event in events:
            for subscription in list(self._subscribers):
                subscription.offer(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, experiment_id: uuid.UUID | None) -> AsyncIterator[Subscription]:
        """A subscription that is removed when the block exits (closed sockets are cleaned up)."""
        subscription = Subscription(experiment_id)
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        """Live subscribers in this process."""
        return len(self._subscribers)
