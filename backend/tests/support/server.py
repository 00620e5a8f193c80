"""Start a real `promptlooper serve` subprocess for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A running server: its URL, process and log."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
        self.proc = proc
        self.url = url
        self.log_path = log_path

    def log(self) -> str:
        """What the server printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server with the given signal and wait for it."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(env: dict[str, str], log_path: Path, timeout_s: float = 60.0,
                 expect_status: int = 200) -> ServerProcess:
    """Start `promptlooper serve` on a free port and wait until /health answers `expect_status`."""
    port = free_port()
    full_env = os.environ.copy() | {"HOST": "127.0.0.1", "PORT": str(port), "MCP_ENABLED": "false"} | env
    with log_path.open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "promptlooper.cli", "serve"], env=full_env,
                                stdout=log, stderr=subprocess.STDOUT, cwd=str(log_path.parent))
    server = ServerProcess(proc, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log()}")
        try:
            if httpx2.get(server.url + "/health", timeout=3).status_code == expect_status:
                return server
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server did not become healthy in {timeout_s}s:\n{server.log()}")


@contextmanager
def running_server(env: dict[str, str], log_path: Path) -> Iterator[ServerProcess]:
    """A server for the duration of a with-block."""
    server = start_server(env, log_path)
    try:
        yield server
    finally:
        server.stop()


def crash_env(db_backend: str, tmp_path: Path, request: Any) -> dict[str, str]:
    """The environment of a served app for the kill-and-restart tests, on SQLite or the shared Postgres."""
    from tests.support.environment import TEST_FERNET_KEY

    env = {"DATA_DIR": str(tmp_path / "data"), "AUTO_MIGRATE": "true", "DATABASE_URL": ""}
    if db_backend == "postgres":
        request.getfixturevalue("settings")
        env |= {"DATABASE_URL": request.getfixturevalue("postgres_url"), "JWT_SECRET": "crash-secret",
                "ENCRYPTION_KEY": TEST_FERNET_KEY}
    return env


def served_project(url: str, llm_base_url: str) -> tuple[dict[str, str], str, str]:
    """Set up a served app's admin, a loopback endpoint and a project: (auth headers, endpoint id, project id)."""
    from tests.support.environment import ADMIN, bearer

    headers = bearer(httpx2.post(url + "/api/v1/auth/setup", json=ADMIN).json()["access_token"])
    endpoint = httpx2.post(url + "/api/v1/endpoints", headers=headers,
                           json={"label": "mock", "url": llm_base_url}).json()["id"]
    project = httpx2.post(url + "/api/v1/projects", headers=headers, json={"name": "p"}).json()["id"]
    return headers, str(endpoint), str(project)


def wait_completed(url: str, headers: dict[str, str], experiment: str, log: str) -> list[dict[str, Any]]:
    """Poll a served experiment until it is completed (60 s at most); answer its runs (up to 100)."""
    deadline = time.monotonic() + 60
    status = ""
    while time.monotonic() < deadline:
        status = httpx2.get(url + f"/api/v1/experiments/{experiment}", headers=headers).json()["status"]
        if status == "completed":
            break
        time.sleep(0.1)
    assert status == "completed", log
    return list(httpx2.get(url + f"/api/v1/experiments/{experiment}/runs", headers=headers,
                          params={"limit": 100}).json()["items"])
