"""Bounded thread pools for CPU-heavy work on user input, so the event loop keeps answering.

- `run_cpu`: expanding parameter spaces, rendering templates for estimates and heavy templates at
  run time. Two threads per process: a burst of requests queues here instead of stalling the loop
  (pure Python holds the GIL, but it hands it back to the loop every few milliseconds).
- `run_render`: a run's templates when they hold statements (`{% ... %}`: loops, macros), on a pool
  of its own so a sweep never queues behind an estimate.
- `run_isolated`: a whole estimate (expand up to MAX_SWEEP_RUNS configs, render samples) in a
  worker process of its own (one per server process, started on first use): pure Python there
  holds no GIL of the server's, so the loop keeps its latency; only the small answer comes back.
- `run_hash`: argon2 password hashing and verification, which releases the GIL, so these threads
  really run in parallel with the loop; bounded so a flood of logins cannot take every core.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

CPU_THREADS = 2
HASH_THREADS = 2
RENDER_THREADS = 2
ISOLATED_PROCESSES = 1  # one core for estimates at most; the rest stays with the API

_cpu = ThreadPoolExecutor(max_workers=CPU_THREADS, thread_name_prefix="pl-cpu")
_hash = ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="pl-hash")
_render = ThreadPoolExecutor(max_workers=RENDER_THREADS, thread_name_prefix="pl-render")


async def _run(pool: ThreadPoolExecutor, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    call = functools.partial(contextvars.copy_context().run, func, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(pool, call)


async def run_cpu(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a CPU-bound function on the bounded CPU pool and await its result."""
    return await _run(_cpu, func, *args, **kwargs)


async def run_render(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a template render on the bounded render pool."""
    return await _run(_render, func, *args, **kwargs)


_process_pool: ProcessPoolExecutor | None = None
_process_lock = threading.Lock()


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(0)
        time.sleep(1.0)


def _die_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this worker within a second of the server that started it dying.

    A server killed with SIGKILL (a crash, `docker kill`, the restart tests) never shuts its pool
    down, and a spawned worker would live on as an orphan, mid-estimate or idle. A daemon thread
    watches the parent pid (re-parenting changes it). Not PR_SET_PDEATHSIG: that fires when the
    *thread* that spawned the worker ends, and the pool spawns from whichever thread submits.
    """
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="pl-parent-watch", daemon=True).start()


def _processes() -> ProcessPoolExecutor:
    global _process_pool
    with _process_lock:
        if _process_pool is None:
            _process_pool = ProcessPoolExecutor(max_workers=ISOLATED_PROCESSES,
                                                mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_die_with_parent, initargs=(os.getpid(),))
        return _process_pool


async def run_isolated(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a picklable top-level function in the worker process; a crashed worker is replaced next time."""
    global _process_pool
    pool = _processes()
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(func, *args, **kwargs))
    except BrokenProcessPool:
        with _process_lock:
            if _process_pool is pool:
                _process_pool = None
        raise


async def run_hash(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a password hash or verification on the bounded hashing pool."""
    return await _run(_hash, func, *args, **kwargs)
