"""The response cache on the database: batched look-ups, batched durable writes, invalidation.

Look-ups issued in the same event-loop tick become one `IN` query; writes are collected for a
few milliseconds and committed together, so a sweep of thousands of calls makes few round trips
while a crash loses at most the responses of the last flush window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from promptlooper.engine.cache import CachedResponse
from promptlooper.models import ResponseCache, Run, StageResult

log = logging.getLogger("promptlooper.cache")


class DatabaseCacheStore:
    """A CacheStore backed by the response_cache table."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        dialect: str,
        flush_interval_s: float = 0.02,
        max_batch: int = 500,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.dialect = dialect
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self._memory: dict[str, CachedResponse] = {}
        self._pending_writes: dict[str, CachedResponse] = {}
        self._pending_reads: dict[str, list[asyncio.Future[CachedResponse | None]]] = {}
        self._read_scheduled = False
        self._writer: asyncio.Task[None] | None = None
        self._write_wake = asyncio.Event()
        self._write_lock = asyncio.Lock()

    async def get(self, key: str) -> CachedResponse | None:
        """The cached response for a key, or None."""
        if key in self._memory:
            return self._memory[key]
        future: asyncio.Future[CachedResponse | None] = asyncio.get_running_loop().create_future()
        self._pending_reads.setdefault(key, []).append(future)
        if not self._read_scheduled:
            self._read_scheduled = True
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._load_batch()))
        return await future

    async def _load_batch(self) -> None:
        self._read_scheduled = False
        waiting, self._pending_reads = self._pending_reads, {}
        try:
            found: dict[str, CachedResponse] = {}
            keys = list(waiting)
            async with self.sessionmaker() as session:
                for start in range(0, len(keys), 900):
                    chunk = keys[start : start + 900]
                    rows = await session.scalars(select(ResponseCache).where(ResponseCache.config_hash.in_(chunk)))
                    for row in rows:
                        found[row.config_hash] = CachedResponse(
                            content=row.response,
                            model=row.model,
                            tokens_in=row.tokens_in,
                            tokens_out=row.tokens_out,
                            latency_ms=row.latency_ms,
                        )
            self._memory.update(found)
            for key, futures in waiting.items():
                for future in futures:
                    if not future.done():
                        future.set_result(found.get(key))
        except BaseException as exc:
            for futures in waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise

    async def put(self, key: str, value: CachedResponse) -> None:
        """Remember a response now; it is written to the database within the flush window."""
        self._memory[key] = value
        self._pending_writes[key] = value
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_loop(), name="cache-writer")
        if len(self._pending_writes) >= self.max_batch:
            self._write_wake.set()

    async def _write_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._write_wake.wait(), timeout=self.flush_interval_s)
            self._write_wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("cache flush failed; will retry")
                await asyncio.sleep(0.2)

    async def flush(self) -> None:
        """Write every pending response (idempotent: an existing key is left as it is)."""
        async with self._write_lock:
            if not self._pending_writes:
                return
            batch, self._pending_writes = self._pending_writes, {}
            rows: list[dict[str, Any]] = [
                {
                    "config_hash": k,
                    "response": v.content,
                    "model": v.model,
                    "tokens_in": v.tokens_in,
                    "tokens_out": v.tokens_out,
                    "latency_ms": v.latency_ms,
                }
                for k, v in batch.items()
            ]
            insert_fn = pg_insert if self.dialect == "postgresql" else sqlite_insert
            # executemany with one compiled statement (SQLAlchemy batches it into multi-row INSERTs);
            # `.values(rows)` compiled a new statement for every flush.
            stmt = insert_fn(ResponseCache).on_conflict_do_nothing(index_elements=["config_hash"])
            try:
                async with self.sessionmaker() as session:
                    await session.execute(stmt, rows)
                    await session.commit()
            except BaseException:
                self._pending_writes = batch | self._pending_writes
                raise

    async def aclose(self) -> None:
        """Flush and stop the writer."""
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        await self.flush()

    def forget(self, keys: list[str] | None = None) -> None:
        """Drop keys (all when None) from the in-memory layer."""
        if keys is None:
            self._memory.clear()
        else:
            for key in keys:
                self._memory.pop(key, None)


async def invalidate(
    session: AsyncSession,
    store: DatabaseCacheStore | None,
    *,
    experiment_id: uuid.UUID | None = None,
    run_id: uuid.UUID | None = None,
) -> int:
    """Delete the cached responses used by a run or by every run of an experiment; answers how many."""
    if store is not None:
        await store.flush()  # a response still in the write buffer would come back after the delete
    stmt = select(StageResult.cache_key).where(StageResult.cache_key.is_not(None)).distinct()
    if run_id is not None:
        stmt = stmt.where(StageResult.run_id == run_id)
    if experiment_id is not None:
        stmt = stmt.join(Run, Run.id == StageResult.run_id).where(Run.experiment_id == experiment_id)
    keys = [k for k in (await session.scalars(stmt)).all() if k]
    deleted = 0
    for start in range(0, len(keys), 900):
        chunk = keys[start : start + 900]
        result = await session.execute(delete(ResponseCache).where(ResponseCache.config_hash.in_(chunk)))
        deleted += int(getattr(result, "rowcount", 0) or 0)
    if store is not None:
        store.forget(keys)
    return deleted
