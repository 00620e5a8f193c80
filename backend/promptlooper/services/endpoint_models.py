"""The models every configured endpoint serves (its /models answer), asked concurrently."""

from __future__ import annotations

import asyncio
from typing import Any

from promptlooper.context import AppContext
from promptlooper.db import session_scope
from promptlooper.schemas import EndpointOut
from promptlooper.services import endpoints as endpoint_service


async def _models_of(app: AppContext, endpoint: EndpointOut) -> dict[str, Any]:
    async with session_scope(app.sessionmaker) as session:
        tested = await endpoint_service.test_endpoint(session, app, endpoint.id)
    return {"endpoint_id": str(endpoint.id), "label": endpoint.label, "url": endpoint.url} | tested.model_dump(
        mode="json")


async def models_by_endpoint(app: AppContext) -> dict[str, Any]:
    """Every configured endpoint's /models answer (or its error), called concurrently."""
    async with session_scope(app.sessionmaker) as session:
        items: list[EndpointOut] = []
        while True:
            page = await endpoint_service.list_endpoints(session, 500, len(items))
            items.extend(page.items)
            if not page.items or len(items) >= page.total:
                break
    answers = list(await asyncio.gather(*(_models_of(app, e) for e in items)))
    models = sorted({m for answer in answers for m in (answer.get("models") or [])})
    return {"endpoints": answers, "models": models}
