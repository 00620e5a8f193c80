"""Database engine, session factory and the unit-of-work helpers (commit in one place)."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_
from sqlalchemy.util.concurrency import in_greenlet

from promptlooper.config import Settings

ALEMBIC_DIR = Path(__file__).resolve().parents[2] / "alembic"
log = logging.getLogger("promptlooper.db")
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class SQLiteWriteGate:
    """One write transaction at a time per process, queued on the event loop.

    SQLite lets one connection write at a time. Without this gate a second pooled connection that
    tries to write waits in SQLite's busy handler, which sleeps in steps of up to 100 ms: a sweep's
    runs, the event flusher and the cache writer, all writing small transactions at once, spent
    most of a cached re-run asleep (0.8 s against 0.37 s with one connection). With it, a
    connection takes the gate before its first INSERT/UPDATE/DELETE (when pysqlite begins the
    transaction and SQLite takes its write lock) and gives it back right after its commit or
    rollback; writers queue on the loop, readers never wait (WAL).

    The gate only orders writers: SQLite's own lock still guarantees correctness. A writer that
    cannot get the gate within `timeout_s` (a write nested inside another's open transaction)
    goes on without it, as it would have without the gate, and SQLite's busy timeout decides.
    """

    def __init__(self, timeout_s: float = 30.0) -> None:
        self.timeout_s = timeout_s
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
        self._held: dict[int, asyncio.Lock] = {}  # id(DBAPI connection) -> the lock it holds
        self.queued = 0  # writers that found the gate taken and waited on the loop

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def _acquire(self, lock: asyncio.Lock) -> bool:
        try:
            await asyncio.wait_for(lock.acquire(), timeout=self.timeout_s)
        except TimeoutError:
            log.warning("SQLite write gate not free after %.0fs; writing without it", self.timeout_s)
            return False
        return True

    def before_write(self, dbapi_connection: Any, statement: str) -> None:
        """Take the gate before a connection's first write of a transaction (inside SQLAlchemy's greenlet)."""
        key = id(dbapi_connection)
        if key in self._held or not in_greenlet() or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        lock = self._lock()
        if lock.locked():
            self.queued += 1
        if await_(self._acquire(lock)):
            self._held[key] = lock

    def release(self, dbapi_connection: Any) -> None:
        """Give the gate back (after a commit, a rollback or when the connection goes away)."""
        raw = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)  # the pool's proxy, or the raw one
        lock = self._held.pop(id(raw), None)
        if lock is not None and lock.locked():
            lock.release()

    @property
    def idle(self) -> bool:
        """No connection holds the gate."""
        return not self._held and not any(lock.locked() for lock in self._locks.values())

    def install(self, engine: AsyncEngine) -> None:
        """Hook the gate into an aiosqlite engine's statements, commits, rollbacks and pool."""
        sync_engine = engine.sync_engine
        dialect = sync_engine.dialect
        inner_commit, inner_rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_connection: Any) -> None:
            try:
                inner_commit(dbapi_connection)
            finally:
                self.release(dbapi_connection)

        def do_rollback(dbapi_connection: Any) -> None:
            try:
                inner_rollback(dbapi_connection)
            finally:
                self.release(dbapi_connection)

        dialect.do_commit = do_commit  # type: ignore[method-assign]
        dialect.do_rollback = do_rollback  # type: ignore[method-assign]

        @event.listens_for(sync_engine, "before_cursor_execute")
        def _before(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            self.before_write(conn.connection.dbapi_connection, statement)

        for name in ("close", "close_detached", "invalidate"):
            event.listen(sync_engine.pool, name, lambda dbapi_connection, *_: self.release(dbapi_connection))


def create_engine(settings: Settings, write_gate: SQLiteWriteGate | None = None) -> AsyncEngine:
    """Create the async engine; SQLite gets WAL, foreign keys, a busy timeout and a write gate."""
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        (write_gate or SQLiteWriteGate()).install(engine)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory; objects stay usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


AfterCommit = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the unit of work has committed (enqueue work only after its rows exist)."""
    session.info.setdefault("after_commit", []).append(callback)


async def commit_and_run_hooks(session: AsyncSession) -> None:
    """Commit, then run the after-commit callbacks registered on the session."""
    await session.commit()
    for callback in session.info.pop("after_commit", []):
        await callback()


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A unit of work: commit on success, roll back on error (workers and background tasks use this)."""
    async with factory() as session:
        try:
            yield session
        except BaseException:
            session.info.pop("after_commit", None)
            await session.rollback()
            raise
        await commit_and_run_hooks(session)


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    cfg.attributes["connection"] = connection
    return cfg


async def run_migrations(engine: AsyncEngine) -> None:
    """Apply every Alembic migration up to head on the given engine."""
    from alembic import command

    def _upgrade(sync_conn: Any) -> None:
        command.upgrade(_alembic_config(sync_conn), "head")

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def ping(engine: AsyncEngine) -> None:
    """Raise when the database cannot answer."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
