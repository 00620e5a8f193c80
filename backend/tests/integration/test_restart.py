"""Data, the admin's login and API keys survive stopping and starting the server."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx2
import pytest

from tests.support.environment import ADMIN, TEST_FERNET_KEY, bearer
from tests.support.server import running_server, start_server


def _env(db_backend: str, data_dir: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    env = {"DATA_DIR": str(data_dir), "AUTO_MIGRATE": "true"}
    if db_backend == "postgres":
        env |= {"DATABASE_URL": request.getfixturevalue("postgres_url"), "JWT_SECRET": "restart-test-secret",
                "ENCRYPTION_KEY": TEST_FERNET_KEY}
        request.getfixturevalue("settings")  # truncates the shared test database
    else:
        env |= {"DATABASE_URL": ""}
    return env


def test_data_login_and_keys_survive_restart(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    env = _env(db_backend, tmp_path / "data", request)
    server = start_server(env, tmp_path / "first.log")
    try:
        token = httpx2.post(server.url + "/api/v1/auth/setup", json=ADMIN).json()["access_token"]
        key = httpx2.post(server.url + "/api/v1/admin/api-keys", json={"name": "ci"}, headers=bearer(token)).json()["key"]
        project = httpx2.post(server.url + "/api/v1/projects", json={"name": "kept"}, headers=bearer(key)).json()
        endpoint = httpx2.post(server.url + "/api/v1/endpoints", headers=bearer(key),
                              json={"label": "e", "url": "http://127.0.0.1:9/v1", "api_key": "sk-kept"}).json()
    finally:
        server.stop(signal.SIGKILL)  # no graceful shutdown: committed data must already be on disk

    if db_backend == "sqlite":
        secrets = sorted(p.name for p in (tmp_path / "data").iterdir() if p.name.startswith("."))
        assert secrets == [".encryption_key", ".jwt_secret"]
        assert oct((tmp_path / "data" / ".jwt_secret").stat().st_mode & 0o777) == "0o600"

    with running_server(env, tmp_path / "second.log") as again:
        assert httpx2.get(again.url + "/api/v1/auth/me", headers=bearer(token)).status_code == 200
        login = httpx2.post(again.url + "/api/v1/auth/login", json=ADMIN)
        assert login.status_code == 200
        projects = httpx2.get(again.url + "/api/v1/projects", headers=bearer(key)).json()
        assert [p["id"] for p in projects["items"]] == [project["id"]]
        kept = httpx2.get(again.url + f"/api/v1/endpoints/{endpoint['id']}", headers=bearer(key)).json()
        assert kept["has_api_key"] is True
        assert httpx2.post(again.url + "/api/v1/auth/setup", json=ADMIN).status_code == 409


def test_production_refuses_default_secret(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("postgres_url")
    env = {"DATA_DIR": str(tmp_path), "DATABASE_URL": url, "JWT_SECRET": "change-me", "ENCRYPTION_KEY": TEST_FERNET_KEY}
    with pytest.raises(RuntimeError) as excinfo:
        start_server(env, tmp_path / "refused.log", timeout_s=30)
    assert "JWT_SECRET must be set to a strong secret" in str(excinfo.value)
