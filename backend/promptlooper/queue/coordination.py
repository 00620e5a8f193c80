"""Redis-backed coordination between worker processes on any number of hosts.

- `RedisSemaphore`: a counting semaphore with leased slots (a dead holder's slot frees itself),
  used for a sweep's concurrency and an endpoint's `max_concurrency` across all workers.
- `RedisGate`: an endpoint's CallGate: its semaphore plus a shared slow-down after a 429.
- Run leases: a worker holds a lease on each run it executes and renews it; a run whose lease
  lapsed (its worker died) is handed to another worker by the watchdog.
- Worker heartbeats, which `/health` reads.

Every key lives under `promptlooper:`; times come from the Redis server's clock, not the hosts'.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("promptlooper.coordination")

PREFIX = "promptlooper:"
WORKERS_KEY = f"{PREFIX}workers"
HEARTBEAT_S = 2.0
WORKER_TTL_S = 10.0

# Take a slot when fewer than ARGV[2] unexpired holders exist. KEYS[1]: zset holder -> expiry (ms).
_ACQUIRE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
  return 1
end
return 0
"""

# Extend the leases of the holders in ARGV[2..] that still hold a slot. KEYS[1]: the zset.
_RENEW = """
local t = redis.call('TIME')
local expiry = t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return 1
"""

# Push an endpoint's 'not before' time out to now + ARGV[1] ms (never pull it in). KEYS[1]: the key.
_SLOW_DOWN = """
local t = redis.call('TIME')
local until_ms = t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > current then
  redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]) + 1000)
end
return 1
"""

# Milliseconds until the 'not before' time in KEYS[1] (0 when none).
_WAIT_MS = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local until_ms = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > now then return until_ms - now end
return 0
"""


# Lease a run (KEYS[1], value ARGV[1], ARGV[2] ms) and record it as picked by its sweep (KEYS[2]), atomically.
_LEASE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', tonumber(ARGV[2])) then
  redis.call('SADD', KEYS[2], ARGV[3])
  return 1
end
return 0
"""


# Re-take a lease this process still holds after Redis lost it (restarted empty): only when nobody
# else took it meanwhile. KEYS[1]: the lease, KEYS[2]: the sweep's picked set. ARGV: holder, ms, run id.
_REASSERT = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
redis.call('SADD', KEYS[2], ARGV[3])
return 1
"""

# Milliseconds since this Redis store was first seen by a watchdog; -1 when the marker is missing
# (Redis restarted empty, was flushed, or this is its first use), and then the marker is set.
_EPOCH = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local created = redis.call('GET', KEYS[1])
if not created then
  if ARGV[1] == '1' then redis.call('SET', KEYS[1], now) end
  return -1
end
return now - tonumber(created)
"""

REDIS_MAX_CONNECTIONS = 64
REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
OUTAGE_WAIT_S = 600.0  # how long a run waits for Redis to come back before it gives up (and fails)
T = TypeVar("T")


async def through_outage(operation: Callable[[], Awaitable[T]], what: str) -> T:
    """Run a Redis operation; while Redis is unreachable, wait for it (reconnecting) instead of failing.

    A run in flight when Redis goes away must not fail for good (issue 11 §3): its semaphore and gate
    calls wait here, with backoff, for up to OUTAGE_WAIT_S, and the run carries on when Redis is back.
    """
    delay, deadline = 0.05, 0.0
    while True:
        try:
            return await operation()
        except REDIS_ERRORS as exc:
            now = time.monotonic()
            if not deadline:
                deadline = now + OUTAGE_WAIT_S
                log.warning("Redis unreachable during %s (%s): waiting for it to come back", what, exc)
            elif now >= deadline:
                raise
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)
FAST_ATTEMPTS = 4  # per process and semaphore: callers trying Redis at once before queueing locally


COMMAND_TIMEOUT_S = 10.0  # coordination commands are short scripts; a silent Redis must not hang a caller


def redis_client(redis_url: str, command_timeout_s: float | None = None) -> Redis:
    """An asyncio Redis client whose callers wait for a free connection instead of failing.

    redis-py's default pool raises `MaxConnectionsError` past 100 connections in flight, which a
    worker running thousands of calls at once reached. `command_timeout_s` bounds each reply: a
    connection that stops answering raises a timeout (retried, then `through_outage`) instead of
    waiting forever. Leave it None for a pub/sub listener, which is idle between messages.
    """
    # A few quick retries ride out a blip; a real outage surfaces fast (see `through_outage`), and a
    # connection broken by a Redis restart is replaced on the next command.
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=REDIS_MAX_CONNECTIONS, timeout=30,
                                           decode_responses=True, health_check_interval=30,
                                           socket_connect_timeout=2, socket_timeout=command_timeout_s,
                                           socket_keepalive=True,
                                           retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
                                           retry_on_error=[RedisConnectionError, RedisTimeoutError])
    return Redis.from_pool(pool)


class _LocalWaiters:
    """This process's waiters for one Redis semaphore: one of them polls Redis, the rest queue here."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()  # FIFO: the coroutine holding it is the one polling
        self.freed = asyncio.Event()  # set when this process frees a slot: poll again at once
        self.trying = 0  # direct attempts in flight (bounded, so a burst of callers opens few connections)


def worker_name() -> str:
    """This process as a worker: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Coordinator:
    """One Redis connection pool and the leases this process holds (renewed in the background)."""

    def __init__(self, redis_url: str, *, lease_s: float = 15.0) -> None:
        self.redis: Redis = redis_client(redis_url, command_timeout_s=COMMAND_TIMEOUT_S)
        self.lease_ms = int(lease_s * 1000)
        self.slot_lease_ms = 10_000
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._renew = self.redis.register_script(_RENEW)
        self._slow_down = self.redis.register_script(_SLOW_DOWN)
        self._wait_ms = self.redis.register_script(_WAIT_MS)
        self._lease = self.redis.register_script(_LEASE)
        self._reassert = self.redis.register_script(_REASSERT)
        self._epoch = self.redis.register_script(_EPOCH)
        self._held_slots: dict[str, set[str]] = {}
        self._waiters: dict[str, _LocalWaiters] = {}
        self._held_runs: dict[str, str] = {}  # lease key -> sweep id
        self._renewer: asyncio.Task[None] | None = None
        self._heartbeat_name: str | None = None

    async def start(self, heartbeat_as: str | None = None) -> None:
        """Start renewing leases (and heartbeating as a worker when named)."""
        self._heartbeat_name = heartbeat_as
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_forever(), name="coordination-renewer")

    async def aclose(self) -> None:
        """Stop renewing; drop this worker's heartbeat; close the pool."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        with contextlib.suppress(Exception):
            if self._heartbeat_name:
                await self.redis.zrem(WORKERS_KEY, self._heartbeat_name)
        await self.redis.aclose()

    # --- semaphores -------------------------------------------------------------------------

    def semaphore(self, name: str, limit: int) -> RedisSemaphore:
        """A counting semaphore shared by every process using the same name."""
        return RedisSemaphore(self, f"{PREFIX}sem:{name}", limit)

    async def reachable(self, timeout_s: float = 2.0) -> bool:
        """Whether Redis answers a PING now."""
        try:
            return bool(await asyncio.wait_for(self.redis.ping(), timeout=timeout_s))
        except Exception:
            return False

    async def _try_acquire(self, key: str, limit: int, token: str) -> bool:
        taken = await through_outage(
            lambda: self._acquire(keys=[key], args=[self.slot_lease_ms, limit, token]), "a semaphore acquire")
        if taken:
            self._held_slots.setdefault(key, set()).add(token)
        return bool(taken)

    async def _release(self, key: str, token: str) -> None:
        held = self._held_slots.get(key)
        if held is not None:
            held.discard(token)
            if not held:
                self._held_slots.pop(key, None)
        try:
            await self.redis.zrem(key, token)
        except REDIS_ERRORS as exc:  # Redis is away: the slot's lease lapses on its own (slot_lease_ms)
            log.warning("could not free a slot of %s (%s); its lease will lapse", key, exc)
        waiters = self._waiters.get(key)
        if waiters is not None:
            waiters.freed.set()
            if not waiters.lock.locked() and not waiters.trying:
                del self._waiters[key]  # nobody waits: a finished sweep's semaphore leaves nothing behind

    def _local_waiters(self, key: str) -> _LocalWaiters:
        waiters = self._waiters.get(key)
        if waiters is None:
            waiters = self._waiters[key] = _LocalWaiters()
        return waiters

    # --- endpoint slow-down -----------------------------------------------------------------

    async def slow_down(self, name: str, seconds: float) -> None:
        """Every worker waits `seconds` before its next call to this endpoint."""
        try:
            await self._slow_down(keys=[f"{PREFIX}slow:{name}"], args=[max(1, int(seconds * 1000))])
        except REDIS_ERRORS as exc:  # this worker still backs off (the adapter sleeps); others may not know
            log.warning("could not share a slow-down of %s (%s)", name, exc)

    async def wait_ms(self, name: str) -> int:
        """Milliseconds left of an endpoint's slow-down."""
        return int(await through_outage(lambda: self._wait_ms(keys=[f"{PREFIX}slow:{name}"]), "a slow-down check"))

    # --- run leases -------------------------------------------------------------------------

    async def lease_run(self, run_id: uuid.UUID, sweep_id: uuid.UUID) -> bool:
        """Claim a run for this process; False when another live worker holds it.

        The run is also recorded as picked up by its sweep, so if this process dies while it waits
        for a slot or runs, the watchdog finds the run without a lease and hands it to another worker.
        """
        key = f"{PREFIX}run:{run_id}"
        taken = await through_outage(lambda: self._lease(keys=[key, f"{PREFIX}picked:{sweep_id}"],
                                                         args=[worker_name(), self.lease_ms, str(run_id)]),
                                     "a run lease")
        if taken:
            self._held_runs[key] = str(sweep_id)
        return bool(taken)

    async def release_run(self, run_id: uuid.UUID, sweep_id: uuid.UUID) -> None:
        """Give a run's lease back (its result is committed, or it goes back to the queue)."""
        key = f"{PREFIX}run:{run_id}"
        self._held_runs.pop(key, None)
        try:
            # the picked entry before the lease: never "lost" by mistake
            await self.redis.srem(f"{PREFIX}picked:{sweep_id}", str(run_id))
            await self.redis.delete(key)
        except REDIS_ERRORS as exc:  # Redis is away: the lease lapses on its own; the run's result is committed
            log.warning("could not release the lease of run %s (%s); it will lapse", run_id, exc)

    async def picked_runs(self, sweep_id: uuid.UUID) -> set[uuid.UUID]:
        """Runs of a sweep that some worker picked up and has not released."""
        return {uuid.UUID(str(m)) for m in await self.redis.smembers(f"{PREFIX}picked:{sweep_id}")}

    async def forget_picked(self, sweep_id: uuid.UUID, run_ids: Iterable[uuid.UUID]) -> None:
        """Drop runs from a sweep's picked set (the watchdog re-enqueues them)."""
        ids = [str(run_id) for run_id in run_ids]
        if ids:
            await self.redis.srem(f"{PREFIX}picked:{sweep_id}", *ids)

    async def leased_runs(self, run_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these runs some live worker holds."""
        ids = list(run_ids)
        if not ids:
            return set()
        values = await self.redis.mget([f"{PREFIX}run:{run_id}" for run_id in ids])
        return {run_id for run_id, value in zip(ids, values, strict=True) if value is not None}

    async def store_age_ms(self, *, mark: bool = False) -> int:
        """Milliseconds since this Redis store was first marked; -1 when it has no mark (it restarted
        empty or was flushed). With `mark`, a missing mark is set (the watchdog does it, once)."""
        return int(await self._epoch(keys=[f"{PREFIX}epoch"], args=["1" if mark else "0"]))

    async def leases_trustworthy(self) -> bool:
        """Whether a missing lease means a lost worker.

        Right after Redis came back empty every lease is missing, though their holders live: they
        re-take them at their next renewal (within a third of a lease). Until a lease and a half has
        passed since the store was marked, no run is taken for a lost worker's.
        """
        age = await self.store_age_ms()
        return age >= self.lease_ms * 1.5

    # --- singletons and workers -------------------------------------------------------------

    async def try_lock(self, name: str, ttl_s: float) -> bool:
        """A lock that expires on its own: one process does periodic work at a time."""
        return bool(await self.redis.set(f"{PREFIX}lock:{name}", worker_name(), nx=True, px=int(ttl_s * 1000)))

    async def live_workers(self) -> list[str]:
        """Workers that heartbeated within WORKER_TTL_S."""
        now = await self._server_time()
        await self.redis.zremrangebyscore(WORKERS_KEY, "-inf", now - WORKER_TTL_S)
        return [str(name) for name in await self.redis.zrangebyscore(WORKERS_KEY, now - WORKER_TTL_S, "+inf")]

    async def _server_time(self) -> float:
        seconds, micros = await self.redis.time()
        return float(seconds) + micros / 1_000_000

    async def _renew_forever(self) -> None:
        interval = min(HEARTBEAT_S, self.lease_ms / 3000, self.slot_lease_ms / 3000)
        while True:
            try:
                await self._renew_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis blipped: keep trying; leases are generous
                log.warning("lease renewal failed: %s", exc)
            await asyncio.sleep(interval)

    async def _renew_once(self) -> None:
        pipe = self.redis.pipeline(transaction=False)
        slot_calls = 0
        for key, tokens in list(self._held_slots.items()):
            if tokens:
                await self._renew(keys=[key], args=[self.slot_lease_ms, *tokens], client=pipe)
                slot_calls += 1
        holder = worker_name()
        held_runs = list(self._held_runs.items())
        for key, sweep_id in held_runs:
            # Not a bare PEXPIRE: after Redis restarted empty the lease (and the picked entry) must come back.
            await self._reassert(keys=[key, f"{PREFIX}picked:{sweep_id}"],
                                 args=[holder, self.lease_ms, key.removeprefix(f"{PREFIX}run:")], client=pipe)
        if self._heartbeat_name:
            pipe.zadd(WORKERS_KEY, {self._heartbeat_name: await self._server_time()})
        if not len(pipe):
            return
        results = await pipe.execute()
        for (key, _), kept in zip(held_runs, results[slot_calls:slot_calls + len(held_runs)], strict=True):
            if not kept and key in self._held_runs:  # another worker took it while Redis had lost ours
                log.warning("lease %s is held by another worker now", key)
                self._held_runs.pop(key, None)


class RedisSemaphore:
    """`async with sem:` holds one of `limit` slots shared across processes."""

    def __init__(self, coordinator: Coordinator, key: str, limit: int) -> None:
        self.coordinator = coordinator
        self.key = key
        self.limit = max(1, limit)
        self._tokens: list[str] = []

    async def acquire(self) -> str:
        """Wait for a slot; answer its token.

        However many coroutines of this process wait, only one polls Redis (the others queue on a
        local FIFO lock), and a slot freed by this process wakes it at once; slots freed by other
        processes are seen within the poll delay (at most 20 ms).
        """
        token = uuid.uuid4().hex
        waiters = self.coordinator._local_waiters(self.key)
        if not waiters.lock.locked() and waiters.trying < FAST_ATTEMPTS:
            waiters.trying += 1
            try:
                if await self.coordinator._try_acquire(self.key, self.limit, token):
                    return token
            finally:
                waiters.trying -= 1
        async with waiters.lock:
            delay = 0.002
            while True:
                waiters.freed.clear()
                if await self.coordinator._try_acquire(self.key, self.limit, token):
                    return token
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiters.freed.wait(), delay * (0.5 + random.random()))
                delay = min(delay * 1.5, 0.02)

    async def try_acquire(self) -> str | None:
        """A slot's token if one is free now, else None."""
        token = uuid.uuid4().hex
        return token if await self.coordinator._try_acquire(self.key, self.limit, token) else None

    async def release(self, token: str) -> None:
        """Free a slot."""
        await self.coordinator._release(self.key, token)

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Hold a slot for the block."""
        token = await self.acquire()
        try:
            yield
        finally:
            await asyncio.shield(self.release(token))

    async def __aenter__(self) -> None:
        self._tokens.append(await self.acquire())

    async def __aexit__(self, *exc: Any) -> None:
        # Each `async with` in a task pairs with its own token: release the most recent of this task.
        token = self._tokens.pop()
        await asyncio.shield(self.release(token))


class RedisGate:
    """An endpoint's CallGate across workers: a shared semaphore and a shared 429 slow-down."""

    def __init__(self, coordinator: Coordinator, endpoint_id: str, max_concurrency: int) -> None:
        self.coordinator = coordinator
        self.name = f"endpoint:{endpoint_id}"
        self._semaphore = coordinator.semaphore(self.name, max_concurrency)

    def slot(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold one of the endpoint's slots, counted across every worker."""
        return self._semaphore.hold()

    async def wait_turn(self) -> None:
        """Sleep while any worker's 429 slow-down lasts."""
        for _ in range(1000):  # a slow-down may be extended while we wait: re-read it after each sleep
            wait = await self.coordinator.wait_ms(self.name)
            if wait <= 0:
                return
            await asyncio.sleep(wait / 1000)

    async def slow_down(self, seconds: float) -> None:
        """Make every worker hold off this endpoint."""
        await self.coordinator.slow_down(self.name, seconds)
