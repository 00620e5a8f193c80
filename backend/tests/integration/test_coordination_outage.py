"""Coordination through a Redis outage, against a redis-server of the test's own (killed and restarted empty)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import redis

from promptlooper.queue.coordination import Coordinator
from tests.support.environment import base_settings
from tests.support.redis_server import RedisServer


async def test_a_semaphore_waits_out_an_outage_instead_of_failing() -> None:
    with RedisServer() as server:
        coordinator = Coordinator(server.url, lease_s=2.0)
        await coordinator.start()
        semaphore = coordinator.semaphore(f"t-{uuid.uuid4().hex}", 1)
        server.kill()
        waiting = asyncio.create_task(semaphore.acquire())
        await asyncio.sleep(1.0)
        assert not waiting.done(), "while Redis is down the caller waits (before the fix it raised at once)"
        await asyncio.to_thread(server.start)
        token = await asyncio.wait_for(waiting, timeout=15)
        server.kill()
        await semaphore.release(token)  # best-effort while Redis is down: the slot's lease lapses on its own
        await coordinator.aclose()


async def test_the_renewer_retakes_leases_an_empty_redis_lost_but_never_another_workers() -> None:
    with RedisServer() as server:
        coordinator = Coordinator(server.url, lease_s=6.0)  # renewed every 2 s: room for a loaded machine
        await coordinator.start()
        sweep_id, mine, taken = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        assert await coordinator.lease_run(mine, sweep_id)
        assert await coordinator.lease_run(taken, sweep_id)
        assert await coordinator.store_age_ms(mark=True) == -1, "a fresh store has no mark"
        assert not await coordinator.leases_trustworthy(), "right after the mark, missing leases prove nothing"

        sync = redis.Redis.from_url(server.url, decode_responses=True)
        sync.flushdb()  # as a restart without persistence leaves it
        sync.set(f"promptlooper:run:{taken}", "other-host:1", px=10_000)  # another worker took this one meanwhile
        for _ in range(200):  # within a renewal interval (a third of the lease), more on a loaded machine
            if sync.get(f"promptlooper:run:{mine}") is not None:
                break
            await asyncio.sleep(0.05)
        assert sync.get(f"promptlooper:run:{mine}") is not None, "the lease this process holds came back"
        assert sync.sismember(f"promptlooper:picked:{sweep_id}", str(mine)), "and its picked entry"
        assert sync.get(f"promptlooper:run:{taken}") == "other-host:1", "another worker's lease is never taken"
        assert await coordinator.leased_runs([mine, taken]) == {mine, taken}
        assert await coordinator.store_age_ms() == -1, "the flush removed the mark: the watchdog redispatches"
        sync.close()
        await coordinator.aclose()


class _Runtime:
    """Just what `enqueue_reliably` uses of a Runtime: its queue and background tasks."""

    def __init__(self, queue: object) -> None:
        self.queue = queue
        self.tasks: list[asyncio.Task[object]] = []

    def queue_for(self) -> object:
        return self.queue

    def spawn(self, work: Coroutine[Any, Any, object], name: str) -> asyncio.Task[object]:
        task = asyncio.create_task(work, name=name)
        self.tasks.append(task)
        return task


async def test_a_hand_over_refused_after_commit_is_sent_once_redis_is_back(tmp_path: Path) -> None:
    from promptlooper.queue.celery_queue import CeleryQueue
    from promptlooper.services.sweeps import enqueue_reliably
    from promptlooper.worker import QUEUE_NAME, make_celery

    with RedisServer() as server:
        queue = CeleryQueue(make_celery(base_settings(tmp_path, redis_url=server.url)))
        runtime = _Runtime(queue)
        server.kill()  # Redis goes away between the 503 check and the hand-over after commit
        sweep_id = uuid.uuid4()
        await enqueue_reliably(runtime, sweep_id)  # no exception: the request that committed answers 2xx
        assert runtime.tasks and not runtime.tasks[0].done(), "the hand-over is retried in the background"
        await asyncio.to_thread(server.start)
        await asyncio.wait_for(runtime.tasks[0], timeout=30)
        sync = redis.Redis.from_url(server.url, decode_responses=True)
        messages = sync.lrange(QUEUE_NAME, 0, -1)
        sync.close()
        assert len(messages) == 1 and str(sweep_id) in messages[0], "the dispatch task reached the queue once"
