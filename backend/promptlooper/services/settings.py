"""Admin settings stored in the database, with defaults from the environment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.errors import BadRequest
from promptlooper.models import AppSetting, LLMEndpoint
from promptlooper.schemas import SettingsOut, SettingsUpdate


async def get_settings(session: AsyncSession, ctx: AppContext) -> SettingsOut:
    """Current settings: stored values over environment defaults."""
    stored = {row.key: row.value for row in (await session.scalars(select(AppSetting))).all()}
    base: dict[str, Any] = {
        "max_concurrent_runs": ctx.settings.max_concurrent_runs,
        "max_tokens_per_sweep": ctx.settings.max_tokens_per_sweep,
    }
    return SettingsOut.model_validate(base | stored)


async def update_settings(session: AsyncSession, ctx: AppContext, update: SettingsUpdate) -> SettingsOut:
    """Apply a partial update and answer the new settings."""
    changes = update.model_dump(mode="json", exclude_unset=True)
    if "allow_guest_access" in changes and changes["allow_guest_access"] is None:
        raise BadRequest("allow_guest_access must be true or false.", code="invalid_setting")
    for key in ("max_concurrent_runs", "max_tokens_per_sweep"):
        if key in changes and changes[key] is None:
            changes.pop(key)
    endpoint_id = update.default_endpoint_id
    if endpoint_id is not None and await session.get(LLMEndpoint, endpoint_id) is None:
        raise BadRequest(f"Endpoint {endpoint_id} does not exist.", code="endpoint_not_found")
    for key, value in changes.items():
        row = await session.get(AppSetting, key)
        if row is None:
            session.add(AppSetting(key=key, value=value))
        else:
            row.value = value
    await session.flush()
    return await get_settings(session, ctx)


async def set_value(session: AsyncSession, key: str, value: Any) -> None:
    """Store one setting."""
    row = await session.get(AppSetting, key)
    if row is None:
        session.add(AppSetting(key=key, value=value))
    else:
        row.value = value
    await session.flush()
