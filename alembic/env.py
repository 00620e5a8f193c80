"""Alembic environment: uses the connection the app hands over, else builds one from Settings."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from promptlooper.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    from promptlooper.config import Settings
    from promptlooper.db import create_engine

    engine = create_engine(Settings())
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


def run_online() -> None:
    """Run migrations on a shared connection (the app) or a fresh engine (the alembic CLI)."""
    connection: Any = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not supported; run `promptlooper migrate`.")
run_online()
