"""The application context: long-lived objects built once per process and shared by every entry point."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from promptlooper.auth import LoginThrottle, build_throttle
from promptlooper.config import Settings

if TYPE_CHECKING:
    from promptlooper.queue.coordination import Coordinator
    from promptlooper.services.runtime import Runtime
    from promptlooper.services.stopping import StopWatch

HealthCheck = Callable[[], Awaitable[tuple[str, str]]]  # answers (redis state, queue state)


@dataclass
class AppContext:
    """Settings, database and shared services for one process."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    throttle: LoginThrottle
    coordinator: Coordinator | None = None  # production mode: Redis leases, semaphores, endpoint gates
    health_checks: HealthCheck | None = None  # production mode: Redis and the workers, for /health
    stop_watch: StopWatch | None = None  # production workers: services.stopping.StopWatch, made on first use
    _runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        """The execution runtime (adapters, cache, events, queue) started in the lifespan."""
        if self._runtime is None:
            raise RuntimeError("the runtime is not started")
        return self._runtime

    @property
    def has_runtime(self) -> bool:
        """Whether a runtime is attached."""
        return self._runtime is not None

    def attach_runtime(self, runtime: Runtime) -> None:
        """Install the runtime built for this context."""
        self._runtime = runtime

    @classmethod
    def build(cls, settings: Settings) -> AppContext:
        """Create the engine and helpers for these settings."""
        from promptlooper.db import create_engine, make_sessionmaker

        engine = create_engine(settings)
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=make_sessionmaker(engine),
            throttle=build_throttle(settings),
        )

    async def aclose(self) -> None:
        """Release connections."""
        await self.throttle.aclose()
        await self.engine.dispose()
