"""Helpers shared by services: fetch-or-404 and pagination."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.errors import NotFound

M = TypeVar("M")


async def get_or_404(session: AsyncSession, model: type[M], obj_id: uuid.UUID, what: str) -> M:
    """Load a row by primary key or raise a 404 naming what was missing."""
    obj = await session.get(model, obj_id)
    if obj is None:
        raise NotFound(f"{what} {obj_id} does not exist.", code=f"{what.lower().replace(' ', '_')}_not_found")
    return obj


async def paginate(session: AsyncSession, stmt: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    """Rows of one page and the total count of the query."""
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = (await session.scalars(stmt.limit(limit).offset(offset))).all()
    return list(rows), int(total or 0)
