"""The `origin_0001` migration backfills existing runs from their sweep's type, on SQLite and Postgres.

A database is migrated to the revision before it, given a project, an experiment, a grid, a random
and a guided sweep with a run each and one run without a sweep, then migrated to head.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from promptlooper.db import _alembic_config
from tests.support.environment import PG_ADMIN_URL, pg_execute, unavailable

BEFORE = "hooks_0001"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'origin.db'}"
        return
    name = f"promptlooper_origin_{uuid.uuid4().hex[:10]}"
    try:
        pg_execute(PG_ADMIN_URL, f'CREATE DATABASE "{name}"')
    except Exception as exc:
        unavailable(f"PostgreSQL at {PG_ADMIN_URL}", f"{type(exc).__name__}: {exc}")
    try:
        yield "postgresql+asyncpg://" + PG_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name
    finally:
        pg_execute(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _filler(column: sa.Column[Any]) -> Any:
    """A value for a required column the test does not care about."""
    try:
        python_type: type = column.type.python_type
    except NotImplementedError:  # JSON types
        return {}
    if python_type is datetime:
        return datetime.now(UTC)
    if python_type in (bool, int, float, dict, list):
        return python_type()
    return "x"


def _insert(conn: sa.Connection, table_name: str, values: dict[str, Any]) -> None:
    table = sa.Table(table_name, sa.MetaData(), autoload_with=conn)
    row = dict(values)
    for column in table.columns:
        if column.name not in row and not column.nullable and column.server_default is None:
            row[column.name] = _filler(column)
    if conn.dialect.name == "sqlite":  # the schema stores UUIDs as 32 hex characters there
        row = {k: v.hex if isinstance(v, uuid.UUID) else v for k, v in row.items()}
    conn.execute(table.insert().values(**row))


def _hex(value: Any) -> str:
    return value.hex if isinstance(value, uuid.UUID) else str(value).replace("-", "")


def test_existing_runs_get_their_sweeps_origin(database_url: str) -> None:
    project, experiment = uuid.uuid4(), uuid.uuid4()
    sweeps = {"grid": uuid.uuid4(), "random": uuid.uuid4(), "guided": uuid.uuid4()}
    runs = {uuid.uuid4(): kind for kind in sweeps} | {uuid.uuid4(): None}
    expected = {"grid": "grid", "random": "random", "guided": "sampler", None: "user"}

    def before(conn: sa.Connection) -> None:
        command.upgrade(_alembic_config(conn), BEFORE)
        _insert(conn, "projects", {"id": project, "name": "p"})
        _insert(conn, "experiments", {"id": experiment, "project_id": project, "name": "e", "status": "completed"})
        for kind, sweep_id in sweeps.items():
            _insert(conn, "sweeps", {"id": sweep_id, "experiment_id": experiment, "type": kind, "status": "completed"})
        for run_id, kind in runs.items():
            _insert(conn, "runs", {"id": run_id, "experiment_id": experiment,
                                   "sweep_id": sweeps[kind] if kind else None, "config_hash": "h",
                                   "status": "completed"})

    def after(conn: sa.Connection) -> dict[str, str]:
        command.upgrade(_alembic_config(conn), "head")
        rows = conn.execute(sa.text("SELECT id, origin FROM runs")).all()
        return {_hex(run_id): str(origin) for run_id, origin in rows}

    async def go() -> dict[str, str]:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(before)
            async with engine.begin() as conn:
                return await conn.run_sync(after)
        finally:
            await engine.dispose()

    origins = asyncio.run(go())
    assert origins == {run_id.hex: expected[kind] for run_id, kind in runs.items()}
