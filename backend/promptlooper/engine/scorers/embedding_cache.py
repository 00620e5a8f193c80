"""Embedding vectors cached in the response cache's store, one key per (endpoint, model, text), single-flight."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from weakref import WeakKeyDictionary

from ..adapters.base import BaseAdapter, MalformedResponse
from ..cache import CachedChat, CachedResponse, normalize_base_url
from ..space import canonical_json

log = logging.getLogger("promptlooper.scorers.embeddings")

Vector = list[float]

# In-flight embeddings per CachedChat (so per app and per test), keyed like the store.
_INFLIGHT: WeakKeyDictionary[CachedChat, dict[str, asyncio.Future[Vector]]] = WeakKeyDictionary()


def embedding_key(base_url: str, model: str, text: str) -> str:
    """SHA-256 over ("embeddings", base_url, model, text); never equal to a chat cache key's document."""
    document = {"kind": "embeddings", "base_url": normalize_base_url(base_url), "model": model, "text": text}
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def _retrieve(future: asyncio.Future[Vector]) -> None:
    if not future.cancelled():
        future.exception()  # marks an exception retrieved when nobody else waited on it


def _decode(hit: CachedResponse) -> Vector | None:
    try:
        vector = json.loads(hit.content)
    except ValueError:
        return None
    if not isinstance(vector, list) or not all(isinstance(x, int | float) for x in vector):
        return None
    return [float(x) for x in vector]


async def _lookup(chat: CachedChat, key: str) -> Vector | None:
    try:
        hit = await chat.store.get(key)
    except Exception:  # a store failure costs an embedding call, not the score
        log.exception("could not read cached embedding %s", key)
        return None
    return _decode(hit) if hit is not None else None


async def _remember(chat: CachedChat, key: str, model: str, vector: Vector) -> None:
    try:
        await chat.store.put(key, CachedResponse(content=json.dumps(vector), model=model, tokens_in=0,
                                                 tokens_out=0, latency_ms=0))
    except Exception:
        log.exception("could not store embedding %s", key)


async def _fill(chat: CachedChat, adapter: BaseAdapter, model: str,
                mine: dict[str, tuple[str, asyncio.Future[Vector]]]) -> int:
    """Resolve this caller's futures from the store, then one embed call for the misses; answers the misses."""
    missing: list[str] = []
    for key, (_, future) in mine.items():
        vector = await _lookup(chat, key)
        if vector is None:
            missing.append(key)
        else:
            future.set_result(vector)
    if not missing:
        return 0
    vectors = await adapter.embed(model, [mine[key][0] for key in missing])
    if len(vectors) != len(missing):
        raise MalformedResponse("Endpoint answered /embeddings with the wrong number of vectors")
    for key, vector in zip(missing, vectors, strict=True):
        await _remember(chat, key, model, vector)
        mine[key][1].set_result(vector)
    return len(missing)


async def embed_cached(chat: CachedChat, adapter: BaseAdapter, base_url: str, model: str,
                       texts: list[str]) -> tuple[list[Vector], int]:
    """(one vector per text, how many texts needed an embedding call); errors are never cached."""
    keys = [embedding_key(base_url, model, text) for text in texts]
    inflight = _INFLIGHT.setdefault(chat, {})
    joined: dict[str, tuple[str, asyncio.Future[Vector]]] = {}
    mine: dict[str, tuple[str, asyncio.Future[Vector]]] = {}
    for key, text in zip(keys, texts, strict=True):
        if key in joined or key in mine:
            continue
        if key in inflight:
            joined[key] = (text, inflight[key])
            continue
        future: asyncio.Future[Vector] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        inflight[key] = future  # registered before the first await, so concurrent callers join it
        mine[key] = (text, future)
    try:
        fresh = await _fill(chat, adapter, model, mine)
    except BaseException as exc:
        for _, future in mine.values():
            if future.done():
                continue
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
        raise
    finally:
        for key in mine:
            inflight.pop(key, None)
    vectors = {key: future.result() for key, (_, future) in mine.items()}
    for key, (text, shared) in joined.items():
        vectors[key], more = await _join(chat, adapter, base_url, model, text, shared)
        fresh += more
    return [vectors[key] for key in keys], fresh


async def _join(chat: CachedChat, adapter: BaseAdapter, base_url: str, model: str, text: str,
                shared: asyncio.Future[Vector]) -> tuple[Vector, int]:
    """Wait for another caller's embedding; when that caller was cancelled (not us), embed again."""
    try:
        return await asyncio.shield(shared), 0
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if not shared.cancelled() or task is None or task.cancelling():
            raise
    vectors, fresh = await embed_cached(chat, adapter, base_url, model, [text])
    return vectors[0], fresh
