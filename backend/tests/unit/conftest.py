"""Fixtures of the engine unit tests: a real loopback LLM server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.llm_server import LLMServer


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LLMServer]:
    """One loopback server per test module."""
    with LLMServer(latency_s=0.0, models=["m1", "m2"], hang_s=10.0) as server:
        yield server


@pytest.fixture
def llm(llm_server: LLMServer) -> Iterator[LLMServer]:
    """The module's server with fresh counters, no script and no latency."""
    llm_server.reset()
    llm_server.latency_s = 0.0
    yield llm_server
    llm_server.reset()
