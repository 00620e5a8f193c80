"""Keep the garbage collector's full passes short in long-running processes (server and workers)."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect once, then move every object alive after startup out of the collector's view.

    Modules, ORM mappers, pydantic and Jinja structures live for the whole process; without this,
    each full (generation 2) collection re-scans them all. On the bench a single full collection
    stopped the event loop for up to 186 ms in the middle of a sweep, delaying every call in flight
    (0.72 s of pauses over one 500-call sweep). Frozen objects are never freed, which is what they
    would be anyway. Call it once startup is done (app lifespan, worker process init).
    """
    gc.collect()
    gc.freeze()
