"""Shared fixtures: every API test runs on SQLite and on a real PostgreSQL database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from promptlooper.config import Settings
from promptlooper.main import create_app
from promptlooper.models import Base
from tests.support.environment import (
    ADMIN,
    REDIS_URL,
    TEST_FERNET_KEY,
    base_settings,
    bearer,
    fresh_database,
    migrate,
    pg_execute,
    unavailable,
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database copied for each test."""
    directory = tmp_path_factory.mktemp("sqlite-template")
    migrate(base_settings(directory))
    return directory / "promptlooper.db"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    with fresh_database("test") as url:
        yield url


@pytest.fixture(scope="session")
def production_postgres_url() -> Iterator[str]:
    """The session-wide workers' own database.

    Kept apart from the in-process tests' database: the workers' watchdog hands any `running` run
    without a Redis lease to the workers, and an in-process sweep's runs hold no such lease.
    """
    with fresh_database("workers") as url:
        yield url


TABLES = ", ".join(t.name for t in Base.metadata.sorted_tables)


@pytest.fixture(params=["sqlite", "postgres"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """Which database this test runs on."""
    return str(request.param)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Redis database 15, emptied: the broker, pub/sub and coordination of production-mode tests."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        client.flushdb()
        client.close()
    except Exception as exc:
        unavailable(f"Redis at {REDIS_URL}", f"{type(exc).__name__}: {exc}")
    return REDIS_URL


@pytest.fixture(scope="session")
def production_workers(production_postgres_url: str, redis_url: str,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Two real `promptlooper worker` processes on their own database, for the whole session."""
    from tests.support.workers import production_env, start_workers

    directory = tmp_path_factory.mktemp("workers")
    workers = start_workers(production_env(production_postgres_url, redis_url, TEST_FERNET_KEY), directory, 2)
    yield workers
    for worker in workers:
        worker.stop()


@pytest.fixture
def settings(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings on an empty, migrated database of the requested backend.

    `production`: Postgres plus Redis, so sweeps run on two real Celery worker processes.
    """
    if db_backend == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), tmp_path / "promptlooper.db")
        return base_settings(tmp_path)
    url = request.getfixturevalue("production_postgres_url" if db_backend == "production" else "postgres_url")
    pg_execute(url, f"TRUNCATE TABLE {TABLES} RESTART IDENTITY CASCADE")
    if db_backend == "production":
        workers = request.getfixturevalue("production_workers")
        for worker in workers:
            assert worker.proc.poll() is None, f"a production worker died:\n{worker.log()}"
        return base_settings(tmp_path, database_url=url, redis_url=request.getfixturevalue("redis_url"))
    return base_settings(tmp_path, database_url=url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A client of a running app (lifespan included)."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def admin_token(client: TestClient) -> str:
    """Set up the admin and answer its JWT."""
    response = client.post("/api/v1/auth/setup", json=ADMIN)
    assert response.status_code == 201, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def admin(client: TestClient, admin_token: str) -> TestClient:
    """The client, authenticated as the admin."""
    client.headers.update(bearer(admin_token))
    return client


@pytest.fixture
def anon(client: TestClient) -> TestClient:
    """A second client of the same running app, with no credentials (sharing its event loop)."""
    other = TestClient(client.app)
    other.portal = client.portal  # one loop: the app's connection pools belong to it
    return other
