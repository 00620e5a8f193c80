"""The event bus numbers events in the order they were published, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from promptlooper.config import Settings
from promptlooper.db import create_engine, make_sessionmaker
from promptlooper.events.bus import EventBus, LiveEvent
from promptlooper.models import Event
from tests.support.environment import base_settings, migrate


@pytest.fixture(params=["sqlite", "postgres"])
def settings_for(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        settings = base_settings(tmp_path)
        migrate(settings)
        return settings
    return base_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))


async def test_sequence_numbers_follow_publish_order_across_batches(settings_for: Settings) -> None:
    engine = create_engine(settings_for)
    bus = EventBus(make_sessionmaker(engine), max_batch=100_000)
    experiment_id = uuid.uuid4()
    try:
        published = [LiveEvent(type="run.started" if i % 3 else "stage.completed", experiment_id=experiment_id,
                               data={"i": i}) for i in range(2_345)]  # more than one multi-row INSERT
        for event in published:
            bus.publish(event)
        await bus.flush()
        seqs = [e.seq if e.seq is not None else -1 for e in published]
        assert min(seqs) > 0, "every event got its number"
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "numbered in publish order, no repeats"
        async with make_sessionmaker(engine)() as session:
            rows = (await session.scalars(
                select(Event).where(Event.experiment_id == experiment_id).order_by(Event.seq))).all()
        assert [(r.seq, r.data["i"], r.type) for r in rows] == [(e.seq, e.data["i"], e.type) for e in published]
    finally:
        await engine.dispose()
