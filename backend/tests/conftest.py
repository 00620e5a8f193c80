"""Shared fixtures: every API test runs on SQLite and on a real PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from promptlooper.config import Settings
from promptlooper.db import create_engine, run_migrations
from promptlooper.main import create_app
from promptlooper.models import Base

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_FERNET_KEY = Fernet.generate_key().decode()
ADMIN = {"username": "admin", "password": "correct-horse-battery"}


def unavailable(what: str, reason: str) -> None:
    """Fail under CI (the service must be there), skip with the reason elsewhere."""
    message = f"{what} is not reachable ({reason})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(f"{message}; start it to run these tests")


def _pg(url: str, *sql: str, database: str | None = None) -> None:
    import asyncpg

    async def _go() -> None:
        dsn = url.rsplit("/", 1)[0] + "/" + database if database else url
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            for statement in sql:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(_go())


def _migrate(settings: Settings) -> None:
    async def _go() -> None:
        engine = create_engine(settings)
        try:
            await run_migrations(engine)
        finally:
            await engine.dispose()

    asyncio.run(_go())


def base_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for tests: explicit secrets, no .env file, no auto-migration (done once per session)."""
    values: dict[str, Any] = {
        "data_dir": data_dir, "database_url": None, "redis_url": None, "jwt_secret": "test-jwt-secret-that-is-long-enough-for-hs256",
        "encryption_key": TEST_FERNET_KEY, "auto_migrate": False, "api_key": None,
        "default_endpoint_url": None, "mcp_enabled": False, "llm_timeout_s": 5.0, "llm_max_retries": 2,
    }
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database copied for each test."""
    directory = tmp_path_factory.mktemp("sqlite-template")
    _migrate(base_settings(directory))
    return directory / "promptlooper.db"


@contextmanager
def fresh_database(purpose: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database, dropped afterwards (skips or fails when Postgres is absent)."""
    name = f"promptlooper_{purpose}_{uuid.uuid4().hex[:10]}"
    try:
        _pg(PG_ADMIN_URL, f'CREATE DATABASE "{name}"')
    except Exception as exc:
        unavailable(f"PostgreSQL at {PG_ADMIN_URL}", f"{type(exc).__name__}: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    _migrate(base_settings(Path("/tmp"), database_url=url))
    try:
        yield url
    finally:
        _pg(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
    from promptlooper.tests.support.workers import production_env, start_workers

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
    _pg(url, f"TRUNCATE TABLE {TABLES} RESTART IDENTITY CASCADE")
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


def bearer(token: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


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
