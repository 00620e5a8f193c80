"""Events of every experiment: the dashboard's history and its polling fallback for /ws/dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from promptlooper.deps import CurrentUser, SessionDep
from promptlooper.events.bus import EVENT_TYPES, events_after, latest_events
from promptlooper.routers.common import READ
from promptlooper.schemas import EventOut, EventsPage

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", response_model=EventsPage, responses=READ)
async def list_all_events(
    _: CurrentUser,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="Return events with seq greater than this")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    types: Annotated[list[str] | None, Query(alias="type", description="Only these event types")] = None,
    latest: Annotated[bool, Query(description="The newest `limit` events instead of those after `after`")] = False,
) -> EventsPage:
    """Events of every experiment, oldest first: after a sequence number, or the newest ones."""
    wanted = [t for t in (types or []) if t in EVENT_TYPES] or None
    if latest:
        events = await latest_events(session, limit, wanted)
    else:
        events = await events_after(session, None, after, limit, wanted)
    items = [EventOut(**e.to_json()) for e in events]
    return EventsPage(items=items, next_after=items[-1].seq if items and items[-1].seq else after)
