"""Login and first-boot setup under abuse: counted before checked, per account and per client, hashing
off the event loop, equal timing for unknown users, forwarded headers only from trusted proxies, the
throttle shared through Redis in production mode, and exactly one winner of racing setups.

Every test runs on SQLite, on Postgres, and on Postgres + Redis (`redis`: REDIS_URL set, so the
throttle lives in Redis; no workers are needed for logins).
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from promptlooper import auth
from promptlooper.config import Settings
from promptlooper.main import create_app
from tests.conftest import TABLES
from tests.support.environment import ADMIN, base_settings, pg_execute

LOGIN = "/api/v1/auth/login"


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """SQLite, Postgres, and Postgres with Redis (the production throttle)."""
    return str(request.param)


@pytest.fixture
def make_settings(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """Build settings on a clean database of the backend, with overrides (the throttle's limits)."""
    def build(**overrides: Any) -> Settings:
        if db_backend == "sqlite":
            target = tmp_path / "promptlooper.db"
            if not target.exists():
                shutil.copy(request.getfixturevalue("sqlite_template"), target)
            return base_settings(tmp_path, **overrides)
        url = request.getfixturevalue("postgres_url")
        if db_backend == "redis":
            redis_url = request.getfixturevalue("redis_url")
            _forget_throttle(redis_url)
            overrides = {"redis_url": redis_url} | overrides
        return base_settings(tmp_path, database_url=url, **overrides)

    if db_backend != "sqlite":
        pg_execute(request.getfixturevalue("postgres_url"), f"TRUNCATE TABLE {TABLES} RESTART IDENTITY CASCADE")
    return build


def _forget_throttle(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=auth.RedisLoginThrottle.PREFIX + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def app_client(make_settings: Any) -> Iterator[TestClient]:
    """An app with an admin set up and the default limits (5 per account, 50 per client, 300 s)."""
    with TestClient(create_app(make_settings())) as client:
        assert client.post("/api/v1/auth/setup", json=ADMIN).status_code == 201
        yield client


def in_parallel(client: TestClient, requests: list[dict[str, Any]]) -> list[httpx2.Response]:
    """Send every request at once on the app's own loop (a real concurrent burst, in-process)."""
    async def burst() -> list[httpx2.Response]:
        transport = httpx2.ASGITransport(app=client.app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return list(await asyncio.gather(*(http.request(**r) for r in requests)))

    return client.portal.call(burst)


def login_request(username: str, password: str, forwarded_for: str | None = None) -> dict[str, Any]:
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
    return {"method": "POST", "url": LOGIN, "json": {"username": username, "password": password},
            "headers": headers}


def test_parallel_wrong_passwords_are_counted_before_they_are_checked(app_client: TestClient) -> None:
    answers = in_parallel(app_client, [login_request("admin", "wrong-password")] * 200)
    statuses = [a.status_code for a in answers]
    assert statuses.count(401) <= 5, f"{statuses.count(401)} passwords were checked (the limit is 5)"
    assert statuses.count(429) >= 195 and set(statuses) <= {401, 429}
    assert all(a.json()["code"] == "too_many_login_attempts" for a in answers if a.status_code == 429)


def test_an_account_lockout_is_short_and_per_account_and_a_good_login_resets_it(make_settings: Any) -> None:
    with TestClient(create_app(make_settings(login_lockout_seconds=6))) as client:
        admin = client.post("/api/v1/auth/setup", json=ADMIN).json()["access_token"]
        other = {"username": "bob", "password": "bob-password-123"}
        assert client.post("/api/v1/admin/users", json=other | {"is_admin": False},
                           headers={"Authorization": f"Bearer {admin}"}).status_code in (200, 201)
        # A good login resets the count: four failures, a success, four failures: still not locked.
        for _ in range(4):
            assert client.post(LOGIN, json={"username": "admin", "password": "nope-nope"}).status_code == 401
        assert client.post(LOGIN, json=ADMIN).status_code == 200
        for _ in range(5):
            assert client.post(LOGIN, json={"username": "admin", "password": "nope-nope"}).status_code == 401
        locked = client.post(LOGIN, json=ADMIN)
        assert locked.status_code == 429 and 1 <= int(locked.headers["Retry-After"]) <= 6
        # Only that account: the same client logs in as another user (the per-client limit is higher).
        assert client.post(LOGIN, json=other).status_code == 200
        # Not forever: once the lockout has passed, the right password works again.
        time.sleep(int(locked.headers["Retry-After"]) + 0.5)
        assert client.post(LOGIN, json=ADMIN).status_code == 200


def test_the_per_client_limit_spans_accounts_and_forwarded_headers_count_only_from_trusted_proxies(
        make_settings: Any) -> None:
    limits = {"login_max_failures_per_client": 3}
    with TestClient(create_app(make_settings(**limits))) as client:
        # A rotating X-Forwarded-For from an untrusted peer is ignored: one client, one bucket.
        answers = [client.post(LOGIN, json={"username": f"user{i}", "password": "whatever-1"},
                               headers={"x-forwarded-for": f"10.0.0.{i}"}).status_code for i in range(5)]
        assert answers == [401, 401, 401, 429, 429]
    # The test client's peer is "testclient"; trust the ASGI transport's 127.0.0.1 as the proxy.
    with TestClient(create_app(make_settings(trusted_proxies=["127.0.0.1/32"], **limits))) as client:
        spread = in_parallel(client, [login_request(f"user{i}", "whatever-1", f"203.0.113.{i}")
                                      for i in range(10) for _ in range(3)])
        assert [a.status_code for a in spread].count(401) == 30, "each forwarded client has its own bucket"
        # The rightmost address that is not a trusted proxy is the client: a spoofed left part changes nothing.
        same = in_parallel(client, [login_request(f"other{i}", "whatever-1", f"198.51.100.{i}, 192.0.2.7")
                                    for i in range(5)])
        assert sorted(a.status_code for a in same) == [401, 401, 401, 429, 429]


def test_client_address_walks_forwarded_for_from_the_right() -> None:
    trusted = ["10.1.0.0/16", "127.0.0.1"]
    assert auth.client_address("127.0.0.1", "1.2.3.4", []) == "127.0.0.1"  # nothing trusted by default
    assert auth.client_address("8.8.8.8", "1.2.3.4", trusted) == "8.8.8.8"  # an untrusted peer speaks for itself
    assert auth.client_address("127.0.0.1", "1.2.3.4", trusted) == "1.2.3.4"
    assert auth.client_address("127.0.0.1", "6.6.6.6, 1.2.3.4, 10.1.2.3", trusted) == "1.2.3.4"
    assert auth.client_address("127.0.0.1", "10.1.0.9", trusted) == "10.1.0.9"  # all proxies: the leftmost
    assert auth.client_address("127.0.0.1", "", trusted) == "127.0.0.1"
    assert auth.client_address(None, None, trusted) == "unknown"


def test_an_unknown_username_takes_as_long_as_a_known_one(app_client: TestClient) -> None:
    def timed(username: str) -> float:
        started = time.perf_counter()
        assert app_client.post(LOGIN, json={"username": username, "password": "wrong-password"}).status_code == 401
        return time.perf_counter() - started

    known = sorted(timed("admin") for _ in range(3))[1]
    unknown = sorted(timed(f"ghost{i}") for i in range(3))[1]
    assert unknown > known / 3, f"unknown {unknown * 1000:.1f} ms vs known {known * 1000:.1f} ms"


def test_password_hashing_runs_off_the_event_loop(app_client: TestClient) -> None:
    """While 20 logins hash, the loop still answers /health before most of them are done."""
    done: list[tuple[str, float]] = []
    lock = threading.Lock()

    async def scenario() -> None:
        transport = httpx2.ASGITransport(app=app_client.app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as http:
            async def one(kind: str, request: dict[str, Any]) -> None:
                await http.request(**request)
                with lock:
                    done.append((kind, time.perf_counter()))

            logins = [asyncio.create_task(one("login", login_request(f"ghost{i}", "wrong-password")))
                      for i in range(20)]
            await asyncio.sleep(0.05)  # the logins are hashing now
            await one("health", {"method": "GET", "url": "/health"})
            await asyncio.gather(*logins)

    threads_before = {t.name for t in threading.enumerate()}
    app_client.portal.call(scenario)
    order = [kind for kind, _ in done]
    assert order.index("health") < 10, f"/health waited for the hashing: {order}"
    assert any(t.name.startswith("pl-hash") for t in threading.enumerate()) or any(
        name.startswith("pl-hash") for name in threads_before)


@pytest.mark.parametrize("db_backend", ["redis"])  # the shared throttle is the production (Redis) one
def test_the_redis_throttle_is_shared_by_every_api_process(make_settings: Any) -> None:
    settings = make_settings()
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        assert first.post("/api/v1/auth/setup", json=ADMIN).status_code == 201
        assert isinstance(first.app.state.ctx.throttle, auth.RedisLoginThrottle)  # type: ignore[attr-defined]
        for client in (first, second, first, second, first):
            assert client.post(LOGIN, json={"username": "admin", "password": "nope-nope"}).status_code == 401
        assert second.post(LOGIN, json=ADMIN).status_code == 429
        assert first.post(LOGIN, json=ADMIN).status_code == 429


def test_racing_setups_make_exactly_one_admin(make_settings: Any) -> None:
    with TestClient(create_app(make_settings())) as client:
        setups = in_parallel(client, [{"method": "POST", "url": "/api/v1/auth/setup",
                                       "json": {"username": f"admin{i}", "password": "correct-horse-battery"}}
                                      for i in range(20)])
        statuses = sorted(a.status_code for a in setups)
        assert statuses == [201] + [409] * 19, statuses
        assert all(a.json()["code"] == "setup_already_done" for a in setups if a.status_code == 409)
        token = next(a for a in setups if a.status_code == 201).json()["access_token"]
        users = client.get("/api/v1/admin/users", headers={"Authorization": f"Bearer {token}"}).json()
        assert users["total"] == 1


def test_racing_setups_with_one_username_make_one_admin_and_no_500(make_settings: Any) -> None:
    with TestClient(create_app(make_settings())) as client:
        setups = in_parallel(client, [{"method": "POST", "url": "/api/v1/auth/setup", "json": ADMIN}] * 10)
        assert sorted(a.status_code for a in setups) == [201] + [409] * 9
