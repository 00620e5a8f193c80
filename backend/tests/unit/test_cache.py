"""Cache keys over the full request, the memory store, and single-flight calls against the loopback server."""

from __future__ import annotations

import asyncio
import copy
import json

import pytest

from promptlooper.engine.adapters import AdapterError, ChatRequest, OpenAICompatAdapter
from promptlooper.engine.cache import CachedChat, CachedResponse, MemoryCacheStore, cache_key

BASE = "http://127.0.0.1:8000/v1"
MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
PARAMS = {"temperature": 0.2, "top_p": 1.0, "max_tokens": 256, "stop": ["\n"], "response_format": {"type": "text"}}


def key(**over):
    args = {"base_url": BASE, "model": "m1", "messages": MESSAGES, "params": PARAMS, "repeat_index": 0}
    args.update(over)
    return cache_key(**args)


def test_key_is_sha256_hex():
    assert len(key()) == 64 and int(key(), 16) >= 0


@pytest.mark.parametrize("param", list(PARAMS))
def test_changing_any_param_changes_the_key(param):
    params = copy.deepcopy(PARAMS)
    params[param] = "changed"
    assert key(params=params) != key()


def test_adding_or_removing_a_param_changes_the_key():
    assert key(params={**PARAMS, "seed": 1}) != key()
    assert key(params={k: v for k, v in PARAMS.items() if k != "top_p"}) != key()


def test_every_other_input_changes_the_key():
    other_messages = [MESSAGES[0], {"role": "user", "content": "hello!"}]
    assert key(messages=other_messages) != key()
    assert key(messages=MESSAGES[1:]) != key()  # no system prompt
    assert key(messages=[{"role": "user", "content": "be brief"}, MESSAGES[1]]) != key()  # role matters
    assert key(model="m2") != key()
    assert key(base_url="http://127.0.0.1:8001/v1") != key()
    assert key(repeat_index=1) != key()


def test_key_order_and_cosmetics_do_not_matter():
    reordered = json.loads(json.dumps(dict(reversed(list(PARAMS.items())))))
    reordered["response_format"] = {"type": "text"}
    assert key(params=reordered) == key()
    assert key(base_url=BASE + "/") == key()
    assert key(params={**PARAMS, "temperature": 0.20}) == key()
    assert key(params={**PARAMS, "temperature": 0.1 + 0.1}) == key()


async def test_memory_store_round_trip():
    store = MemoryCacheStore()
    assert await store.get("k") is None
    value = CachedResponse(content="c", model="m", tokens_in=1, tokens_out=2, latency_ms=3)
    await store.put("k", value)
    assert await store.get("k") == value


async def test_single_flight_makes_one_call(llm):
    llm.latency_s = 0.2
    chat = CachedChat(MemoryCacheStore())
    adapter = OpenAICompatAdapter(llm.base_url, None)
    request = ChatRequest(model="m1", messages=[{"role": "user", "content": "same"}], params={"temperature": 0.3})
    try:
        results = await asyncio.gather(*(chat.call(adapter, llm.base_url, request, 0) for _ in range(10)))
    finally:
        await adapter.aclose()
    assert llm.calls == 1
    assert len({r[0].content for r in results}) == 1 and len({r[2] for r in results}) == 1
    assert sorted(r[1] for r in results) == [False] + [True] * 9
    assert (chat.calls, chat.misses, chat.hits) == (1, 1, 9)


async def test_second_call_is_a_hit_and_other_repeat_is_a_miss(llm):
    chat = CachedChat(MemoryCacheStore())
    adapter = OpenAICompatAdapter(llm.base_url, None)
    request = ChatRequest(model="m1", messages=[{"role": "user", "content": "x"}], params={})
    try:
        first, cached1, key1 = await chat.call(adapter, llm.base_url, request, 0)
        second, cached2, key2 = await chat.call(adapter, llm.base_url, request, 0)
        _, cached3, key3 = await chat.call(adapter, llm.base_url, request, 1)
    finally:
        await adapter.aclose()
    assert (cached1, cached2, cached3) == (False, True, False)
    assert key1 == key2 != key3
    assert second.content == first.content and second.tokens_out == first.tokens_out
    assert llm.calls == 2


async def test_errors_reach_every_waiter_and_are_not_cached(llm):
    llm.latency_s = 0.1
    llm.script(["401"])
    store = MemoryCacheStore()
    chat = CachedChat(store)
    adapter = OpenAICompatAdapter(llm.base_url, None, max_retries=0)
    request = ChatRequest(model="m1", messages=[{"role": "user", "content": "boom"}], params={})
    try:
        results = await asyncio.gather(*(chat.call(adapter, llm.base_url, request, 0) for _ in range(4)),
                                       return_exceptions=True)
        assert all(isinstance(r, AdapterError) and r.status == 401 for r in results)
        assert llm.calls == 1 and store.data == {}
        response, cached, _ = await chat.call(adapter, llm.base_url, request, 0)  # the error was not cached
    finally:
        await adapter.aclose()
    assert cached is False and response.content and llm.calls == 2


async def test_limiter_is_held_only_for_real_calls(llm):
    chat = CachedChat(MemoryCacheStore())
    adapter = OpenAICompatAdapter(llm.base_url, None)
    request = ChatRequest(model="m1", messages=[{"role": "user", "content": "warm"}], params={})
    limiter = asyncio.Semaphore(1)
    try:
        await chat.call(adapter, llm.base_url, request, 0, limiter=limiter)
        async with limiter:  # the only slot is taken, yet a cache hit still answers
            _, cached, _ = await asyncio.wait_for(chat.call(adapter, llm.base_url, request, 0, limiter=limiter), 2)
    finally:
        await adapter.aclose()
    assert cached is True


async def test_cancelled_leader_does_not_break_waiters(llm):
    llm.latency_s = 0.3
    chat = CachedChat(MemoryCacheStore())
    adapter = OpenAICompatAdapter(llm.base_url, None)
    request = ChatRequest(model="m1", messages=[{"role": "user", "content": "cancel me"}], params={})
    try:
        leader = asyncio.create_task(chat.call(adapter, llm.base_url, request, 0))
        await asyncio.sleep(0.05)
        waiter = asyncio.create_task(chat.call(adapter, llm.base_url, request, 0))
        await asyncio.sleep(0.05)
        leader.cancel()
        response, _, _ = await asyncio.wait_for(waiter, 5)
    finally:
        await adapter.aclose()
    assert leader.cancelled() and response.content.startswith("m1")
