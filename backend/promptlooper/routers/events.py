"""Events of every experiment: the dashboard's history and its polling fallback for /ws/dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from promptlooper.deps import CurrentUser, SessionDep
from promptlooper.routers.common import READ
from promptlooper.schemas import EventsPage
from promptlooper.services import events as service

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", response_model=EventsPage, responses=READ)
async def list_all_events(
    _: CurrentUser,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="Return events with seq greater than this")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    types: Annotated[list[str] | None, Query(alias="type", description="Only these event types")] = None,
    latest: Annotated[bool, Query(description="The newest `limit` events instead of those after `after`")] = False,
) -> JSONResponse:
    """Events of every experiment, oldest first: after a sequence number, or the newest ones."""
    return JSONResponse(await service.events_page(session, None, after=after, limit=limit, types=types, latest=latest))
