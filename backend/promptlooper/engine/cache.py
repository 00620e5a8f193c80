"""The response cache: keys over the full request, a store protocol and single-flight calls."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

from .adapters.base import BaseAdapter, ChatRequest, ChatResponse
from .space import canonical_json

log = logging.getLogger("promptlooper.cache")


def normalize_base_url(base_url: str) -> str:
    """The base URL as keyed: surrounding spaces and trailing slashes removed."""
    return base_url.strip().rstrip("/")


def cache_key(base_url: str, model: str, messages: list[dict[str, Any]], params: Mapping[str, Any],
              repeat_index: int) -> str:
    """SHA-256 over everything that shapes an answer: endpoint, model, messages, every param, repeat index."""
    document = {
        "base_url": normalize_base_url(base_url),
        "model": model,
        "messages": messages,
        "params": dict(params),
        "repeat_index": repeat_index,
    }
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


@dataclass
class CachedResponse:
    """A stored answer."""

    content: str
    model: str
    tokens_in: int
    tokens_out: int
    latency_ms: int


class CacheStore(Protocol):
    """Where cached responses live (memory for tests, the database in the app)."""

    async def get(self, key: str) -> CachedResponse | None:
        """The response stored under key, or None."""
        ...

    async def put(self, key: str, value: CachedResponse) -> None:
        """Store a response under key."""
        ...


class MemoryCacheStore:
    """A CacheStore in a dict."""

    def __init__(self) -> None:
        self.data: dict[str, CachedResponse] = {}

    async def get(self, key: str) -> CachedResponse | None:
        """The response stored under key, or None."""
        return self.data.get(key)

    async def put(self, key: str, value: CachedResponse) -> None:
        """Store a response under key."""
        self.data[key] = value


def _to_response(hit: CachedResponse) -> ChatResponse:
    return ChatResponse(content=hit.content, tokens_in=hit.tokens_in, tokens_out=hit.tokens_out,
                        latency_ms=hit.latency_ms, model=hit.model, estimated_tokens=False)


def _retrieve(future: asyncio.Future[ChatResponse]) -> None:
    if not future.cancelled():
        future.exception()  # marks the exception retrieved when nobody else waited on it


class CachedChat:
    """Chat calls through the cache; identical requests in flight at once share one adapter call.

    Callers that joined an in-flight call get `cached=True` (they did not pay for a call) and
    count as hits. Errors are never cached; they reach every caller of that in-flight call.
    """

    def __init__(self, store: CacheStore) -> None:
        self.store = store
        self.hits = 0
        self.misses = 0
        self.calls = 0
        self._inflight: dict[str, asyncio.Future[ChatResponse]] = {}

    async def call(self, adapter: BaseAdapter, base_url: str, request: ChatRequest, repeat_index: int = 0,
                   limiter: asyncio.Semaphore | None = None) -> tuple[ChatResponse, bool, str]:
        """(response, cached, key); `limiter` is held only around a real adapter call."""
        key = cache_key(base_url, request.model, request.messages, request.params, repeat_index)
        while True:
            shared = self._inflight.get(key)
            if shared is None:
                break
            try:
                response = await asyncio.shield(shared)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if shared.cancelled() and task is not None and not task.cancelling():
                    continue  # the caller that owned the call was cancelled, not us: try again
                raise
            self.hits += 1
            return response, True, key
        return await self._lead(adapter, request, key, limiter)

    async def _lead(self, adapter: BaseAdapter, request: ChatRequest, key: str,
                    limiter: asyncio.Semaphore | None) -> tuple[ChatResponse, bool, str]:
        future: asyncio.Future[ChatResponse] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        self._inflight[key] = future
        try:
            hit = await self.store.get(key)
            if hit is not None:
                self.hits += 1
                response, cached = _to_response(hit), True
            else:
                self.misses += 1
                guard: AbstractAsyncContextManager[Any] = limiter if limiter is not None else nullcontext()
                async with guard:
                    self.calls += 1
                    response = await adapter.chat(request)
                cached = False
                await self._remember(key, response)
            future.set_result(response)
            return response, cached, key
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            self._inflight.pop(key, None)

    async def _remember(self, key: str, response: ChatResponse) -> None:
        value = CachedResponse(content=response.content, model=response.model, tokens_in=response.tokens_in,
                               tokens_out=response.tokens_out, latency_ms=response.latency_ms)
        try:
            await self.store.put(key, value)
        except Exception:  # a store failure loses a cache entry, not the answer
            log.exception("could not store cache entry %s", key)
