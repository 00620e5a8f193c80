"""Which runtime a process gets: in-process (SQLite mode) or Celery + Redis (production mode).

The API process and the workers build theirs here so both sides agree on the event transport,
the queue and the Redis coordination.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from promptlooper.context import AppContext
from promptlooper.events.redis_bus import RedisEventBus
from promptlooper.queue.coordination import Coordinator, worker_name
from promptlooper.queue.inprocess import InProcessQueue
from promptlooper.services.runtime import Runtime
from promptlooper.services.strategies import load_strategy_modules
from promptlooper.services.webhook_delivery import Outbox, WebhookSender

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger("promptlooper.production")


def distributed(ctx: AppContext) -> bool:
    """Production mode: runs go to Celery workers (REDIS_URL is set)."""
    return bool(ctx.settings.redis_url)


async def start_api_runtime(ctx: AppContext) -> Runtime:
    """The API process's runtime: in-process queue, or the Celery queue with Redis events."""
    load_strategy_modules(ctx.settings.strategy_modules)
    if not distributed(ctx):
        runtime = Runtime.build(ctx)
        runtime.queue = InProcessQueue(ctx)
    else:
        from promptlooper.queue.celery_queue import CeleryQueue
        from promptlooper.worker import make_celery

        redis_url = ctx.settings.redis_url
        assert redis_url is not None
        coordinator = Coordinator(redis_url, lease_s=ctx.settings.run_lease_s)
        ctx.coordinator = coordinator
        await coordinator.start()
        runtime = Runtime.build(ctx, bus=RedisEventBus(ctx.sessionmaker, redis_url, listen=True))
        runtime.queue = CeleryQueue(make_celery(ctx.settings))
        ctx.health_checks = lambda: _health(coordinator)
    outbox = runtime.bus.outbox = Outbox()  # deliveries are written with the events, in both modes
    ctx.attach_runtime(runtime)
    await runtime.start()
    if not distributed(ctx):  # in production mode the workers send webhooks; this process only writes
        runtime.spawn(WebhookSender(ctx, outbox).run_forever(), name="webhook-sender")
    return runtime


async def start_worker_runtime(ctx: AppContext, app: Celery) -> Runtime:
    """A worker's runtime: publishes events to Redis, heartbeats, and watches for lost workers."""
    from promptlooper.queue.celery_queue import CeleryQueue
    from promptlooper.services.distributed import watchdog_forever

    load_strategy_modules(ctx.settings.strategy_modules)
    redis_url = ctx.settings.redis_url
    assert redis_url is not None
    coordinator = Coordinator(redis_url, lease_s=ctx.settings.run_lease_s)
    ctx.coordinator = coordinator
    await coordinator.start(heartbeat_as=worker_name())
    runtime = Runtime.build(ctx, bus=RedisEventBus(ctx.sessionmaker, redis_url, listen=False))
    queue = CeleryQueue(app)
    runtime.queue = queue
    outbox = runtime.bus.outbox = Outbox()
    ctx.attach_runtime(runtime)
    await runtime.start()
    runtime.spawn(WebhookSender(ctx, outbox).run_forever(), name="webhook-sender")
    runtime.spawn(watchdog_forever(ctx, runtime, queue.enqueue_runs, interval_s=min(1.0, ctx.settings.run_lease_s / 3)),
                  name="watchdog")
    return runtime


async def stop_runtime(ctx: AppContext) -> None:
    """Flush and close everything the runtime and the coordinator hold."""
    watch, ctx.stop_watch = ctx.stop_watch, None
    if watch is not None:
        await watch.aclose()
    if ctx.has_runtime:
        await ctx.runtime.aclose()
    coordinator, ctx.coordinator = ctx.coordinator, None
    if coordinator is not None:
        await coordinator.aclose()
    await ctx.aclose()


async def _health(coordinator: Coordinator) -> tuple[str, str]:
    """(redis, queue) states: the queue is ok when at least one worker heartbeats."""
    try:
        await asyncio.wait_for(coordinator.redis.ping(), timeout=2)
    except Exception as exc:
        return f"error: {type(exc).__name__}", "unknown: redis is down"
    try:
        workers = await asyncio.wait_for(coordinator.live_workers(), timeout=2)
    except Exception as exc:
        return "ok", f"error: {type(exc).__name__}"
    return "ok", ("ok" if workers else "no live worker")
