"""A real `promptlooper serve --host 127.0.0.1`: no credential in its log, MCP bound where the API is."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from websockets.sync.client import connect

from tests.support.environment import ADMIN, bearer, subprocess_env
from tests.support.server import free_port


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def test_served_logs_hold_no_token_and_mcp_binds_the_api_host(tmp_path: Path) -> None:
    port, mcp_port = free_port(), free_port()
    env = subprocess_env(HOST="0.0.0.0", DATA_DIR=str(tmp_path), AUTO_MIGRATE="true", MCP_ENABLED="true",
                         MCP_PORT=str(mcp_port), LOG_LEVEL="INFO", DATABASE_URL="", REDIS_URL="")
    env.pop("DATABASE_URL"), env.pop("REDIS_URL")
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "promptlooper.cli", "serve", "--host", "127.0.0.1",
                                 "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                cwd=str(tmp_path))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                if httpx2.get(base + "/health", timeout=2).status_code == 200 and _reachable("127.0.0.1", mcp_port):
                    break
            except httpx2.HTTPError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        # MCP listens on the API's --host, not on every address (127.0.0.2 is loopback too, but not 127.0.0.1).
        assert _reachable("127.0.0.1", mcp_port)
        assert not _reachable("127.0.0.2", mcp_port)
        assert not _reachable("127.0.0.2", port)
        token = httpx2.post(base + "/api/v1/auth/setup", json=ADMIN).json()["access_token"]
        key = httpx2.post(base + "/api/v1/admin/api-keys", json={"name": "ws"}, headers=bearer(token)).json()["key"]
        ws_base = base.replace("http", "ws")
        with connect(f"{ws_base}/ws/dashboard?token={token}", open_timeout=10):
            pass
        with connect(f"{ws_base}/ws/dashboard?api_key=x&token={key}", open_timeout=10):
            pass
        with connect(f"{ws_base}/ws/dashboard", subprotocols=["promptlooper.bearer", token],  # type: ignore[list-item]
                     open_timeout=10) as ws:
            assert ws.subprotocol == "promptlooper.bearer"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    text = log_path.read_text(errors="replace")
    assert "/ws/dashboard" in text, text  # the lines are there ...
    assert token not in text and key not in text and key.removeprefix("pl_") not in text  # ... the secrets are not
    assert "token=***" in text
    assert f"127.0.0.1:{mcp_port}" in text


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX only")
def test_cli_host_reaches_the_settings() -> None:
    from promptlooper.cli import build_parser, serve_settings

    settings = serve_settings(build_parser().parse_args(["serve", "--host", "127.0.0.1", "--port", "8999"]))
    assert (settings.host, settings.port) == ("127.0.0.1", 8999)
