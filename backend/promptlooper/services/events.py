"""Reading persisted events: the one query behind GET /events, GET /experiments/{id}/events and WS replay."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.events.bus import LiveEvent
from promptlooper.events.types import EVENT_TYPES
from promptlooper.models import Event
from promptlooper.services import experiments as experiment_service


async def latest_events(session: AsyncSession, limit: int, types: list[str] | None = None) -> list[LiveEvent]:
    """The newest persisted events of every experiment, oldest first (the dashboard's history)."""
    stmt = select(Event).order_by(Event.seq.desc()).limit(limit)
    if types:
        stmt = stmt.where(Event.type.in_(types))
    return [LiveEvent.from_row(row) for row in reversed((await session.scalars(stmt)).all())]


async def events_after(
    session: AsyncSession, experiment_id: uuid.UUID | None, after: int, limit: int, types: list[str] | None = None
) -> list[LiveEvent]:
    """Persisted events with seq > after, oldest first (the polling fallback and WebSocket replay)."""
    stmt = select(Event).where(Event.seq > after).order_by(Event.seq).limit(limit)
    if experiment_id is not None:
        stmt = stmt.where(Event.experiment_id == experiment_id)
    if types:
        stmt = stmt.where(Event.type.in_(types))
    return [LiveEvent.from_row(row) for row in (await session.scalars(stmt)).all()]


async def events_page(session: AsyncSession, experiment_id: uuid.UUID | None, *, after: int, limit: int,
                      types: list[str] | None, latest: bool = False) -> dict[str, Any]:
    """A page of events in the `EventsPage` wire shape (an experiment's, or every experiment's).

    Answered as plain JSON data: every event was validated against its `events.types` model when it
    was published, so reading it back does not validate it again (nor fails on an older event).
    """
    if experiment_id is not None:
        await experiment_service.get_experiment(session, experiment_id)
    wanted = [t for t in (types or []) if t in EVENT_TYPES] or None
    if latest:
        events = await latest_events(session, limit, wanted)
    else:
        events = await events_after(session, experiment_id, after, limit, wanted)
    items = [e.to_json() for e in events]
    return {"items": items, "next_after": items[-1]["seq"] if items and items[-1]["seq"] else after}
