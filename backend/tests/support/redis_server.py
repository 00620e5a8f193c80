"""A `redis-server` of a test's own, on a free port, that the test may kill and restart.

Never kill the shared Redis other tests (and other test sessions) use: outage tests start this one.
It keeps nothing on disk, so a restart comes back empty, like a Redis without persistence: the
broker's queues, leases and semaphores are gone.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis

from tests.support.server import free_port


class RedisServer:
    """One redis-server subprocess; `kill()` and `start()` again on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """redis://127.0.0.1:PORT/0"""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        """Start serving (answers once PING works)."""
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", "/tmp"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
                try:
                    if client.ping():
                        return self
                finally:
                    client.close()
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        """SIGKILL: connections drop, everything in memory is lost."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
