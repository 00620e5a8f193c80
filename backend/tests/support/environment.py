"""Test environment shared by conftest files, tests, the bench and the e2e helpers.

Where Postgres and Redis are, the test secrets and settings, and a fresh migrated Postgres database.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from promptlooper.config import Settings
from promptlooper.db import create_engine, run_migrations

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


def pg_execute(url: str, *sql: str, database: str | None = None) -> None:
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


def migrate(settings: Settings) -> None:
    async def _go() -> None:
        engine = create_engine(settings)
        try:
            await run_migrations(engine)
        finally:
            await engine.dispose()

    asyncio.run(_go())


# Webhook retries in tests: 0.2 s, 0.4 s, 0.8 s ... (production: 30 s doubling, 8 tries).
FAST_WEBHOOKS: dict[str, Any] = {"webhook_backoff_s": 0.2, "webhook_poll_s": 0.1, "webhook_timeout_s": 3.0,
                                 "webhook_max_attempts": 5}


def base_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for tests: explicit secrets, no .env file, no auto-migration (done once per session)."""
    values: dict[str, Any] = {
        "data_dir": data_dir, "database_url": None, "redis_url": None, "jwt_secret": "test-jwt-secret-that-is-long-enough-for-hs256",
        "encryption_key": TEST_FERNET_KEY, "auto_migrate": False, "api_key": None,
        "default_endpoint_url": None, "mcp_enabled": False, "llm_timeout_s": 5.0, "llm_max_retries": 2,
        "strategy_modules": "tests.support.strategies",  # the test-only `two_wave` sweep type
        **FAST_WEBHOOKS,
    }
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]


@contextmanager
def fresh_database(purpose: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database, dropped afterwards (skips or fails when Postgres is absent)."""
    name = f"promptlooper_{purpose}_{uuid.uuid4().hex[:10]}"
    try:
        pg_execute(PG_ADMIN_URL, f'CREATE DATABASE "{name}"')
    except Exception as exc:
        unavailable(f"PostgreSQL at {PG_ADMIN_URL}", f"{type(exc).__name__}: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    migrate(base_settings(Path("/tmp"), database_url=url))
    try:
        yield url
    finally:
        pg_execute(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bearer(token: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


BACKEND_DIR = Path(__file__).resolve().parents[2]


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a Python subprocess that imports `tests.support` (e.g. the LLM mock)."""
    path = os.pathsep.join(p for p in (str(BACKEND_DIR), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}
