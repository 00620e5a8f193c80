"""The Celery app and a worker process's runtime: one event-loop thread hosts the async engine.

Tasks run on Celery's pool (threads by default) and hand their coroutine to that loop, so every
run of the process shares one database pool, one HTTP client per endpoint, one cache writer and
one event publisher. `promptlooper worker` starts it; see `run_worker`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown, worker_ready, worker_shutdown

from promptlooper.config import Settings
from promptlooper.context import AppContext

log = logging.getLogger("promptlooper.worker")
T = TypeVar("T")
QUEUE_NAME = "promptlooper"


def make_celery(settings: Settings) -> Celery:
    """A Celery app on the settings' Redis, with the delivery guarantees runs rely on."""
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set: production mode needs Redis for Celery")
    app = Celery("promptlooper", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_default_queue=QUEUE_NAME,
        task_acks_late=True,  # a task is acknowledged after it ran, so a lost worker's tasks come back
        task_reject_on_worker_lost=True,
        task_ignore_result=True,  # results live in the database
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,  # a worker reserves only what it is running
        worker_hijack_root_logger=False,
        # Redis going away must never end a worker (issue 11 §3): reconnect at start and after a loss,
        # forever (Celery's default gives up after 100 attempts), channel errors included. Runs in
        # flight keep running meanwhile; their acknowledgements die with the old connection, which
        # is harmless: a redelivered copy finds its run leased or done.
        broker_connection_retry_on_startup=True,
        broker_connection_retry=True,
        broker_connection_max_retries=None,
        broker_channel_error_retry=True,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # A task a worker took but never acknowledged (it died before it could even lease its run)
        # is delivered again after this long. A run still executing when its task is redelivered is
        # safe: the copy finds the run leased and does nothing.
        broker_transport_options={"visibility_timeout": max(10.0, settings.run_lease_s * 5),
                                  "socket_keepalive": True, "retry_on_timeout": True,
                                  "health_check_interval": 10},
        worker_send_task_events=False,
    )
    return app


class WorkerRuntime:
    """The engine of one worker process, running on its own event-loop thread."""

    def __init__(self, settings: Settings, app: Celery) -> None:
        self.settings = settings
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.ctx: AppContext | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._boot_error: BaseException | None = None

    def start(self) -> None:
        """Start the loop thread and the runtime on it (idempotent)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._serve, name="promptlooper-engine", daemon=True)
        self._thread.start()
        self._started.wait(timeout=60)
        if self._boot_error is not None:
            raise RuntimeError(f"worker runtime failed to start: {self._boot_error}") from self._boot_error

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._boot())
        except BaseException as exc:
            self._boot_error = exc
            self._started.set()
            return
        self._started.set()
        self.loop.run_forever()

    async def _boot(self) -> None:
        from promptlooper.services.production import start_worker_runtime

        self.ctx = AppContext.build(self.settings)
        await start_worker_runtime(self.ctx, self.app)

    def call(self, make: Callable[[AppContext], Coroutine[Any, Any, T]], timeout: float | None = None) -> T:
        """Run a coroutine on the engine loop from a task thread and wait for its result."""
        self.start()
        assert self.ctx is not None
        future = asyncio.run_coroutine_threadsafe(make(self.ctx), self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        """Flush events and the cache, close connections, stop the loop."""
        if self._thread is None or self.ctx is None:
            return
        from promptlooper.services.production import stop_runtime

        try:
            asyncio.run_coroutine_threadsafe(stop_runtime(self.ctx), self.loop).result(timeout=30)
        except Exception:
            log.exception("worker runtime did not stop cleanly")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self._thread = None


_runtime: WorkerRuntime | None = None


def current_runtime() -> WorkerRuntime:
    """This process's worker runtime (started on first use)."""
    if _runtime is None:
        raise RuntimeError("not a PromptLooper worker process")
    _runtime.start()
    return _runtime


def build_worker_app(settings: Settings) -> Celery:
    """The Celery app of a worker: its tasks registered and its runtime wired to the worker's signals."""
    global _runtime
    from promptlooper.tasks import register_tasks

    app = make_celery(settings)
    register_tasks(app, settings)
    _runtime = WorkerRuntime(settings, app)
    pool = settings.worker_pool

    def _on_ready(**_: Any) -> None:
        if pool != "prefork":  # prefork children start their own runtime after the fork
            current_runtime()
            log.info("worker ready: %s pool, concurrency %s", pool, settings.worker_concurrency)

    def _on_child_init(**_: Any) -> None:
        current_runtime()

    def _on_shutdown(**_: Any) -> None:
        if _runtime is not None:
            _runtime.stop()

    worker_ready.connect(_on_ready, weak=False)
    worker_process_init.connect(_on_child_init, weak=False)
    worker_shutdown.connect(_on_shutdown, weak=False)
    worker_process_shutdown.connect(_on_shutdown, weak=False)
    return app


def run_worker(settings: Settings, *, concurrency: int | None = None, pool: str | None = None,
               loglevel: str | None = None) -> int:
    """`promptlooper worker`: consume runs until stopped (SIGTERM finishes in-flight runs first)."""
    if concurrency:
        settings.worker_concurrency = concurrency
    if pool:
        settings.worker_pool = pool  # type: ignore[assignment]
    app = build_worker_app(settings)
    name = f"promptlooper-{os.getpid()}@{socket.gethostname()}"
    argv = [
        "worker",
        f"--pool={settings.worker_pool}",
        f"--concurrency={settings.worker_concurrency}",
        f"--loglevel={(loglevel or settings.log_level).upper()}",
        f"--queues={QUEUE_NAME}",
        f"--hostname={name}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    app.worker_main(argv)
    return 0
