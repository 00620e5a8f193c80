"""Real `promptlooper worker` subprocesses (Celery on Redis) for production-mode tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import redis

from tests.support.environment import FAST_WEBHOOKS
from tests.support.strategies import strategy_env


class WorkerProcess:
    """One worker: its process and log."""

    def __init__(self, proc: subprocess.Popen[bytes], log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path

    def log(self) -> str:
        """What the worker printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def name(self) -> str:
        """Its heartbeat name prefix (host:pid)."""
        return f":{self.proc.pid}"

    def kill(self) -> None:
        """SIGKILL: no cleanup, no acknowledgement, as in a crash or an OOM kill."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL if it lingers."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def production_env(database_url: str, redis_url: str, fernet_key: str, **extra: str) -> dict[str, str]:
    """The environment of a production-mode process in tests."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "JWT_SECRET": "test-jwt-secret-that-is-long-enough-for-hs256",
        "ENCRYPTION_KEY": fernet_key,
        "AUTO_MIGRATE": "false",
        "MCP_ENABLED": "false",
        "LLM_TIMEOUT_S": "10",
        "LLM_MAX_RETRIES": "2",
        "RUN_LEASE_S": "2",
        "LOG_LEVEL": "INFO",
    } | strategy_env() | {k.upper(): str(v) for k, v in FAST_WEBHOOKS.items()} | extra


def start_worker(env: dict[str, str], log_path: Path, concurrency: int = 8, timeout_s: float = 90.0) -> WorkerProcess:
    """Start a worker and wait until it heartbeats in Redis."""
    full_env = os.environ.copy() | env
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "promptlooper.cli", "worker", "--concurrency", str(concurrency)],
            env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=str(log_path.parent),
        )
    worker = WorkerProcess(proc, log_path)
    client = redis.Redis.from_url(env["REDIS_URL"], decode_responses=True)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}:\n{worker.log()}")
            if any(name.endswith(worker.name) for name in client.zrange("promptlooper:workers", 0, -1)):
                return worker
            time.sleep(0.1)
    finally:
        client.close()
    worker.kill()
    raise RuntimeError(f"worker did not heartbeat in {timeout_s}s:\n{worker.log()}")


def start_workers(env: dict[str, str], directory: Path, count: int, concurrency: int = 8) -> list[WorkerProcess]:
    """Start workers side by side (each takes a few seconds to boot)."""
    workers: list[WorkerProcess | BaseException] = [RuntimeError("not started")] * count

    def boot(index: int) -> None:
        try:
            workers[index] = start_worker(env, directory / f"worker-{index}-{uuid.uuid4().hex[:4]}.log", concurrency)
        except BaseException as exc:
            workers[index] = exc

    threads = [threading.Thread(target=boot, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for item in workers:
        if isinstance(item, BaseException):
            raise item
    return workers  # type: ignore[return-value]
