"""Long-lived execution objects of a process: adapters per endpoint, the cache, the event bus, the queue."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.engine.cache import CachedChat
from promptlooper.engine.runner import EndpointHandle
from promptlooper.errors import BadRequest
from promptlooper.events.bus import EventBus, LiveEvent
from promptlooper.events.types import EventData
from promptlooper.models import LLMEndpoint
from promptlooper.services.cache_store import DatabaseCacheStore

log = logging.getLogger("promptlooper.runtime")

if TYPE_CHECKING:
    from promptlooper.context import AppContext
    from promptlooper.queue.base import RunQueue


@dataclass
class SweepControl:
    """In-process steering flags of a running sweep."""

    state: str = "running"  # running | paused | stopped
    task: asyncio.Task[None] | None = None
    inflight: set[asyncio.Task[Any]] = field(default_factory=set)  # this sweep's runs executing now
    total_runs: int | None = None  # set by a redirect: the sweep's run count now (progress events carry it)


@dataclass
class Runtime:
    """Adapters, cache, events and queue shared by every run of this process."""

    ctx: AppContext
    bus: EventBus
    cache_store: DatabaseCacheStore
    chat: CachedChat
    queue: RunQueue | None = None
    controls: dict[uuid.UUID, SweepControl] = field(default_factory=dict)
    _handles: dict[uuid.UUID, tuple[Any, EndpointHandle]] = field(default_factory=dict)
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run background work, keeping a reference until it ends (errors are logged)."""
        task = asyncio.create_task(work, name=name)
        self._background.add(task)

        def _done(finished: asyncio.Task[Any]) -> None:
            self._background.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                log.error("background task %s failed", name, exc_info=finished.exception())

        task.add_done_callback(_done)
        return task

    @classmethod
    def build(cls, ctx: AppContext, bus: EventBus | None = None) -> Runtime:
        """Create the runtime for a context (in-process event delivery unless a bus is given)."""
        dialect = "sqlite" if ctx.settings.is_sqlite else "postgresql"
        store = DatabaseCacheStore(ctx.sessionmaker, dialect)
        return cls(ctx=ctx, bus=bus or EventBus(ctx.sessionmaker), cache_store=store, chat=CachedChat(store))

    async def start(self) -> None:
        """Start background flushers."""
        await self.bus.start()

    async def aclose(self) -> None:
        """Flush caches and events, close adapters."""
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self.queue is not None:
            await self.queue.stop()
        await self.cache_store.aclose()
        await self.bus.stop()
        for _, handle in self._handles.values():
            await handle.adapter.aclose()
        self._handles.clear()

    def publish(
        self,
        data: EventData,
        *,
        experiment_id: uuid.UUID | None = None,
        sweep_id: uuid.UUID | None = None,
        run_id: uuid.UUID | None = None,
    ) -> None:
        """Publish a live event: its type is the data model's (`events/types.py`)."""
        self.bus.publish(LiveEvent(type=data.TYPE, experiment_id=experiment_id, sweep_id=sweep_id, run_id=run_id,
                                   data=data.model_dump(mode="json")))

    def queue_for(self) -> RunQueue:
        """The run queue of this process."""
        if self.queue is None:
            raise RuntimeError("the run queue is not started")
        return self.queue

    def set_control(self, sweep_id: uuid.UUID, state: str) -> None:
        """Steer a sweep executing in this process (pause or stop take effect before its next run)."""
        control = self.controls.get(sweep_id)
        if control is not None:
            control.state = state
            if state == "stopped":  # stop means stopped: cancel the in-flight calls (issue 11 §4)
                for task in list(control.inflight):
                    task.cancel()

    async def endpoint_handle(self, session: AsyncSession, endpoint_id: str | None) -> EndpointHandle:
        """The adapter of an endpoint, reused across runs (rebuilt when the endpoint changes)."""
        from promptlooper.services.endpoints import make_adapter

        if endpoint_id is None:
            raise BadRequest(
                "No endpoint: set the stage's endpoint_id or a default endpoint in admin settings.", code="no_endpoint"
            )
        try:
            key = uuid.UUID(str(endpoint_id))
        except ValueError as exc:
            raise BadRequest(f"Endpoint id {endpoint_id!r} is not a UUID.", code="endpoint_not_found") from exc
        endpoint = await session.get(LLMEndpoint, key)
        if endpoint is None:
            raise BadRequest(f"Endpoint {endpoint_id} does not exist.", code="endpoint_not_found")
        cached = self._handles.get(key)
        if cached is not None and cached[0] == endpoint.updated_at:
            return cached[1]
        if cached is not None:
            await cached[1].adapter.aclose()
        handle = EndpointHandle(
            id=str(endpoint.id),
            base_url=endpoint.url,
            adapter=make_adapter(self.ctx, endpoint),
            pricing=endpoint.pricing or {},
        )
        self._handles[key] = (endpoint.updated_at, handle)
        return handle
