"""Redis coordination primitives against the real Redis: semaphores, leases, slow-downs, heartbeats."""

from __future__ import annotations

import asyncio
import time
import uuid

from promptlooper.queue.coordination import Coordinator, RedisGate


async def _coordinator(redis_url: str) -> Coordinator:
    return Coordinator(redis_url, lease_s=2.0)


async def test_semaphore_caps_holders_across_coordinators(redis_url: str) -> None:
    first, second = await _coordinator(redis_url), await _coordinator(redis_url)
    await first.start()
    await second.start()
    name = f"t-{uuid.uuid4().hex}"
    current = peak = 0

    async def hold(coordinator: Coordinator) -> None:
        nonlocal current, peak
        async with coordinator.semaphore(name, 3).hold():
            current += 1
            peak = max(peak, current)
            await asyncio.sleep(0.02)
            current -= 1

    await asyncio.gather(*(hold(first if i % 2 else second) for i in range(24)))
    assert peak == 3, "two processes' worth of holders never exceed the limit, and reach it"
    await first.aclose()
    await second.aclose()


async def test_thousands_of_waiters_share_a_few_connections(redis_url: str) -> None:
    """A worker's thousands of concurrent calls: one poller per process, no 'Too many connections'."""
    coordinator = await _coordinator(redis_url)
    await coordinator.start()
    name = f"t-{uuid.uuid4().hex}"
    current = peak = done = 0

    async def call() -> None:
        nonlocal current, peak, done
        async with coordinator.semaphore(name, 8).hold():
            current += 1
            peak = max(peak, current)
            await asyncio.sleep(0.005)
            current -= 1
            done += 1

    await asyncio.gather(*(call() for _ in range(2000)))
    assert done == 2000 and peak == 8
    pool = coordinator.redis.connection_pool
    opened = len(pool._available_connections) + len(pool._in_use_connections)  # type: ignore[attr-defined]
    assert opened <= 16, f"one coroutine polls, the rest wait in the process: {opened} connections"
    await coordinator.aclose()


async def test_a_dead_holders_slot_frees_itself_and_live_ones_are_renewed(redis_url: str) -> None:
    live, dead = await _coordinator(redis_url), await _coordinator(redis_url)
    live.slot_lease_ms = dead.slot_lease_ms = 600
    await live.start()  # renews its slots; `dead` never renews, like a SIGKILLed worker
    name = f"t-{uuid.uuid4().hex}"
    held = await live.semaphore(name, 2).acquire()
    assert await dead.semaphore(name, 2).try_acquire() is not None
    assert await live.semaphore(name, 2).try_acquire() is None, "both slots are taken"
    await asyncio.sleep(1.0)
    assert await live.semaphore(name, 2).try_acquire() is not None, "the dead holder's slot lapsed"
    assert await dead.semaphore(name, 2).try_acquire() is None, "the live holder kept its slot by renewing"
    await live.semaphore(name, 2).release(held)
    await live.aclose()
    await dead.aclose()


async def test_run_leases_are_exclusive_and_tracked_per_sweep(redis_url: str) -> None:
    worker = await _coordinator(redis_url)
    run_id, sweep_id = uuid.uuid4(), uuid.uuid4()
    assert await worker.lease_run(run_id, sweep_id)
    assert not await worker.lease_run(run_id, sweep_id), "a second task for the same run backs off"
    assert await worker.picked_runs(sweep_id) == {run_id}
    assert await worker.leased_runs([run_id, uuid.uuid4()]) == {run_id}
    await worker.release_run(run_id, sweep_id)
    assert await worker.picked_runs(sweep_id) == set() and await worker.leased_runs([run_id]) == set()
    await worker.aclose()


async def test_a_slow_down_holds_every_gate_of_the_endpoint(redis_url: str) -> None:
    one, two = await _coordinator(redis_url), await _coordinator(redis_url)
    endpoint = uuid.uuid4().hex
    await RedisGate(one, endpoint, 4).slow_down(0.4)
    started = time.monotonic()
    await RedisGate(two, endpoint, 4).wait_turn()
    assert 0.3 < time.monotonic() - started < 1.0
    await RedisGate(two, uuid.uuid4().hex, 4).wait_turn()  # another endpoint is not slowed
    await one.aclose()
    await two.aclose()


async def test_heartbeats_list_live_workers(redis_url: str) -> None:
    worker = await _coordinator(redis_url)
    name = f"test-{uuid.uuid4().hex[:6]}"
    await worker.start(heartbeat_as=name)
    await asyncio.sleep(0.1)
    assert name in await worker.live_workers()
    await worker.aclose()
    observer = await _coordinator(redis_url)
    assert name not in await observer.live_workers(), "a stopped worker leaves the list"
    await observer.aclose()


async def test_a_redis_that_stops_answering_times_out_instead_of_hanging() -> None:
    """A connection whose replies never come raises a timeout (then `through_outage` decides), never hangs."""
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from promptlooper.queue.coordination import redis_client

    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, never replies
    port = silent.sockets[0].getsockname()[1]
    client = redis_client(f"redis://127.0.0.1:{port}/0", command_timeout_s=0.3)
    started = time.monotonic()
    try:
        try:
            await asyncio.wait_for(client.ping(), timeout=10)
        except RedisTimeoutError:
            pass
        else:
            raise AssertionError("a silent server answered")
        assert time.monotonic() - started < 5, "bounded by the command timeout (and its two quick retries)"
    finally:
        await client.aclose()
        silent.close()
    coordinator = Coordinator("redis://127.0.0.1:6379/15")
    assert coordinator.redis.connection_pool.connection_kwargs["socket_timeout"] == 10.0
    await coordinator.aclose()
