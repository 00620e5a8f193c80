"""The OpenAI-compatible adapter against the real loopback server: answers, retries and clear errors."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from promptlooper.engine.adapters import (
    ADAPTERS,
    AdapterError,
    ChatRequest,
    OpenAICompatAdapter,
    estimate_cost,
    make_adapter,
)
from promptlooper.engine.adapters.openai_compat import parse_retry_after

REQUEST = ChatRequest(model="m1", messages=[{"role": "system", "content": "sys"},
                                            {"role": "user", "content": "tell me about alpha"}],
                      params={"temperature": 0.7, "top_p": 0.9})


def fast(base_url: str, api_key: str | None = None, **kw) -> OpenAICompatAdapter:
    options = {"max_retries": 3, "backoff_base_s": 0.01, "backoff_max_s": 2.0, "timeout_s": 5.0}
    options.update(kw)
    return OpenAICompatAdapter(base_url, api_key, **options)


async def test_chat_answer_tokens_and_body(llm):
    adapter = fast(llm.base_url)
    try:
        response = await adapter.chat(REQUEST)
    finally:
        await adapter.aclose()
    assert response.content.startswith("m1 t=0.7: tell me about alpha")
    assert response.model == "m1" and response.tokens_in > 0 and response.tokens_out > 0
    assert response.estimated_tokens is False and response.latency_ms >= 0
    body = llm.requests[-1]
    assert body == {"model": "m1", "messages": REQUEST.messages, "temperature": 0.7, "top_p": 0.9}


async def test_missing_usage_is_estimated(llm):
    llm.script(["no_usage"])
    adapter = fast(llm.base_url)
    try:
        response = await adapter.chat(REQUEST)
    finally:
        await adapter.aclose()
    assert response.estimated_tokens is True
    assert response.tokens_in == max(1, len("sys" + "tell me about alpha") // 4)
    assert response.tokens_out == max(1, len(response.content) // 4)


async def test_list_models_and_embeddings(llm):
    adapter = fast(llm.base_url)
    try:
        assert await adapter.list_models() == ["m1", "m2"]
        vectors = await adapter.embed("e1", ["alpha beta", "alpha beta", "zeta"])
    finally:
        await adapter.aclose()
    assert len(vectors) == 3 and vectors[0] == vectors[1] != vectors[2]


async def test_429_retry_after_is_honoured(llm):
    llm.script(["429:1"])
    adapter = fast(llm.base_url)
    started = time.monotonic()
    try:
        response = await adapter.chat(REQUEST)
    finally:
        await adapter.aclose()
    assert time.monotonic() - started >= 0.9
    assert response.content and llm.calls == 2


async def test_500_then_success(llm):
    llm.script(["500", "503"])
    adapter = fast(llm.base_url)
    try:
        response = await adapter.chat(REQUEST)
    finally:
        await adapter.aclose()
    assert response.content.startswith("m1") and llm.calls == 3


async def test_persistent_500_gives_up_with_a_sentence(llm):
    llm.script(["500"] * 10)
    adapter = fast(llm.base_url, max_retries=2)
    try:
        with pytest.raises(AdapterError) as info:
            await adapter.chat(REQUEST)
    finally:
        await adapter.aclose()
    assert info.value.status == 500 and info.value.retryable
    assert "Endpoint answered 500 Internal Server Error" in info.value.message and "3 attempts" in info.value.message
    assert llm.calls == 3


@pytest.mark.parametrize(("item", "text"), [("garbage", "not JSON"), ("no_choices", "without `choices`")])
async def test_malformed_bodies_are_clear_and_not_retried(llm, item, text):
    llm.script([item])
    adapter = fast(llm.base_url)
    try:
        with pytest.raises(AdapterError) as info:
            await adapter.chat(REQUEST)
    finally:
        await adapter.aclose()
    assert text in info.value.message and not info.value.retryable
    assert llm.calls == 1


async def test_hang_times_out_retries_then_fails_clearly(llm):
    llm.script(["hang", "hang"])
    adapter = fast(llm.base_url, timeout_s=0.3, max_retries=1)
    try:
        with pytest.raises(AdapterError) as info:
            await adapter.chat(REQUEST)
    finally:
        await adapter.aclose()
    assert "timed out after 0.3s" in info.value.message
    assert llm.calls == 2


async def test_hang_then_success(llm):
    llm.script(["hang"])
    adapter = fast(llm.base_url, timeout_s=0.3, max_retries=1)
    try:
        response = await adapter.chat(REQUEST)
    finally:
        await adapter.aclose()
    assert response.content and llm.calls == 2


async def test_401_is_not_retried(llm):
    llm.script(["401"])
    adapter = fast(llm.base_url)
    try:
        with pytest.raises(AdapterError) as info:
            await adapter.chat(REQUEST)
    finally:
        await adapter.aclose()
    assert info.value.status == 401 and not info.value.retryable
    assert "401 Unauthorized: check its API key" in info.value.message
    assert llm.calls == 1


async def test_api_key_is_sent():
    from tests.support.llm_server import LLMServer

    with LLMServer(required_api_key="sk-good") as server:
        good = fast(server.base_url, api_key="sk-good")
        bad = fast(server.base_url, api_key="sk-bad")
        try:
            assert await good.list_models() == ["m1", "m2"]
            with pytest.raises(AdapterError, match="401"):
                await bad.chat(REQUEST)
        finally:
            await good.aclose()
            await bad.aclose()
        assert server.calls == 1


async def test_refused_connection():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = fast(f"http://127.0.0.1:{port}/v1", max_retries=1)
    try:
        with pytest.raises(AdapterError) as info:
            await adapter.chat(REQUEST)
    finally:
        await adapter.aclose()
    assert f"Endpoint http://127.0.0.1:{port}/v1 refused the connection" in info.value.message


async def test_invalid_url_is_not_retried():
    adapter = fast("ftp://example.invalid/v1")
    try:
        with pytest.raises(AdapterError, match="not a valid http"):
            await adapter.list_models()
    finally:
        await adapter.aclose()


async def test_concurrency_cap_per_endpoint(llm):
    llm.latency_s = 0.05
    adapter = fast(llm.base_url, max_concurrency=3)
    try:
        await asyncio.gather(*(adapter.chat(ChatRequest("m1", [{"role": "user", "content": str(i)}], {}))
                               for i in range(12)))
    finally:
        await adapter.aclose()
    assert llm.calls == 12 and 1 <= llm.peak_in_flight <= 3


def test_retry_after_parsing_and_backoff():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (parse_retry_after(later) or 0) <= 31
    adapter = OpenAICompatAdapter("http://x/v1", backoff_base_s=0.5, backoff_max_s=4)
    assert adapter.backoff_delay(0, 100.0) == 4  # Retry-After capped at backoff_max_s
    delays = [adapter.backoff_delay(10, None) for _ in range(50)]
    assert all(0 <= d <= 4 for d in delays) and len(set(delays)) > 1


def test_estimate_cost_and_registry():
    pricing = {"m1": {"input_per_1m": 0.5, "output_per_1m": 1.5}}
    assert estimate_cost(pricing, "m1", 1_000_000, 2_000_000) == pytest.approx(3.5)
    assert estimate_cost(pricing, "m2", 10, 10) == 0.0
    assert estimate_cost({"m1": "junk"}, "m1", 10, 10) == 0.0
    assert ADAPTERS["openai"] is OpenAICompatAdapter
    assert isinstance(make_adapter("openai", base_url="http://x/v1", api_key=None), OpenAICompatAdapter)
    with pytest.raises(ValueError, match="Unknown adapter kind"):
        make_adapter("nope")
