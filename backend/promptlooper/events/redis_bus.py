"""Events across processes: persisted like in-process events, then fanned out over Redis pub/sub.

A worker's events reach the WebSocket clients of every API process. Each API process subscribes
to the channel and hands what arrives to its own subscribers; a process never delivers its own
events directly, so every subscriber sees each event exactly once, in the order of persistence.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from promptlooper.events.bus import EventBus, LiveEvent
from promptlooper.queue.coordination import redis_client

log = logging.getLogger("promptlooper.events.redis")

CHANNEL = "promptlooper:events"


def _uuid(value: Any) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


def event_from_json(data: dict[str, Any]) -> LiveEvent:
    """The inverse of LiveEvent.to_json."""
    return LiveEvent(
        type=str(data["type"]),
        experiment_id=_uuid(data.get("experiment_id")),
        sweep_id=_uuid(data.get("sweep_id")),
        run_id=_uuid(data.get("run_id")),
        data=dict(data.get("data") or {}),
        ts=datetime.fromisoformat(str(data["ts"]).replace("Z", "+00:00")),
        seq=data.get("seq"),
    )


class RedisEventBus(EventBus):
    """EventBus whose delivery goes through Redis pub/sub (listen=True in processes that serve clients)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], redis_url: str, *, listen: bool,
                 flush_interval_s: float = 0.05) -> None:
        super().__init__(sessionmaker, flush_interval_s=flush_interval_s)
        self.redis: Redis = redis_client(redis_url)
        self.listen = listen
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._last_publish: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the flusher and, when listening, the subscriber (ready before this returns)."""
        await super().start()
        if self.listen and self._listener is None:
            self._listener = asyncio.create_task(self._listen_forever(), name="event-bus-redis-listener")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._subscribed.wait(), timeout=5)

    async def stop(self) -> None:
        """Flush, publish what is pending, stop listening and close the connection."""
        await super().stop()
        if self._last_publish is not None:
            await asyncio.wait([self._last_publish])
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self.redis.aclose()

    def deliver_published(self, events: list[LiveEvent]) -> None:
        """Local delivery of events that came through the channel."""
        super().deliver(events)

    def deliver(self, events: list[LiveEvent]) -> None:
        """Publish a persisted batch on the channel (delivery happens when it comes back)."""
        if events:
            payload = json.dumps([e.to_json() for e in events], separators=(",", ":"), default=str)
            previous = self._last_publish
            self._last_publish = asyncio.get_running_loop().create_task(self._publish(payload, events, previous))

    async def _publish(self, payload: str, events: list[LiveEvent], previous: asyncio.Task[None] | None) -> None:
        if previous is not None:  # batches go out in the order they were persisted
            await asyncio.wait([previous])
        try:
            await self.redis.publish(CHANNEL, payload)
        except Exception as exc:  # persisted already: pollers still see them; local sockets get them now
            log.warning("could not publish %d event(s) to Redis: %s", len(events), exc)
            if self.listen:
                super().deliver(events)

    async def _listen_forever(self) -> None:
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        try:
                            events = [event_from_json(item) for item in json.loads(message["data"])]
                        except (ValueError, KeyError, TypeError) as exc:
                            log.warning("dropped an unreadable event message: %s", exc)
                            continue
                        self.deliver_published(events)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarted: resubscribe; clients catch up with ?after=
                log.warning("event subscription lost (%s); resubscribing", exc)
                self._subscribed.clear()
                await asyncio.sleep(1.0)
