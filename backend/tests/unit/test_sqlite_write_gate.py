"""The SQLite write gate: writers queue on the event loop, readers never wait, the gate never leaks."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from promptlooper.db import SQLiteWriteGate, create_engine, make_sessionmaker
from tests.support.environment import base_settings


async def _engine(tmp_path: Path, gate: SQLiteWriteGate) -> AsyncEngine:
    engine = create_engine(base_settings(tmp_path), write_gate=gate)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    return engine


async def test_many_concurrent_writers_all_commit_and_the_gate_ends_free(tmp_path: Path) -> None:
    gate = SQLiteWriteGate()
    engine = await _engine(tmp_path, gate)
    sessions = make_sessionmaker(engine)
    inside = 0
    most_inside = 0

    async def write(i: int) -> None:
        nonlocal inside, most_inside
        async with sessions() as session:
            await session.execute(text("SELECT count(*) FROM notes"))  # a read first: no gate yet
            await session.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": f"n{i}"})
            inside += 1
            most_inside = max(most_inside, inside)
            await asyncio.sleep(0.002)  # other writers get the loop while this transaction is open
            inside -= 1
            if i % 5 == 0:
                await session.rollback()
            else:
                await session.commit()

    try:
        await asyncio.gather(*(write(i) for i in range(40)))
        async with sessions() as session:
            count = (await session.execute(text("SELECT count(*) FROM notes"))).scalar_one()
        assert count == 32, "every committed write landed, every rolled-back one did not"
        assert most_inside == 1, "one write transaction at a time"
        assert gate.queued >= 30, "writers waited on the loop, not in SQLite's sleeping busy handler"
        assert gate.idle
    finally:
        await engine.dispose()


async def test_readers_do_not_wait_for_an_open_write_transaction(tmp_path: Path) -> None:
    gate = SQLiteWriteGate()
    engine = await _engine(tmp_path, gate)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as writer:
            await writer.execute(text("INSERT INTO notes (body) VALUES ('open')"))
            assert not gate.idle, "the writer holds the gate until it commits"
            async with sessions() as reader:
                seen = (await reader.execute(text("SELECT count(*) FROM notes"))).scalar_one()
            assert seen == 0, "the reader answered at once, from before the uncommitted write"
            await writer.commit()
        assert gate.idle
    finally:
        await engine.dispose()


async def test_a_writer_that_cannot_get_the_gate_goes_on_and_sqlite_orders_it(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A write nested inside another's open transaction must not deadlock on the gate."""
    gate = SQLiteWriteGate(timeout_s=0.2)
    engine = await _engine(tmp_path, gate)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as outer:
            await outer.execute(text("INSERT INTO notes (body) VALUES ('outer')"))

            async def nested() -> None:
                async with sessions() as inner:
                    await inner.execute(text("INSERT INTO notes (body) VALUES ('inner')"))
                    await inner.commit()

            with caplog.at_level(logging.WARNING, logger="promptlooper.db"):
                task = asyncio.create_task(nested())
                await asyncio.sleep(0.5)  # past the gate's timeout: the inner writer waits on SQLite's lock
                assert not task.done()
                await outer.commit()  # SQLite's lock frees, the inner write lands
                await asyncio.wait_for(task, timeout=10)
            assert "writing without it" in caplog.text
        async with sessions() as session:
            bodies = (await session.execute(text("SELECT body FROM notes ORDER BY id"))).scalars().all()
        assert bodies == ["outer", "inner"]
        assert gate.idle
    finally:
        await engine.dispose()
