"""What every LLM adapter speaks: requests, responses, errors and the BaseAdapter protocol."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class ChatRequest:
    """One chat completion request: model, messages and every request parameter."""

    model: str
    messages: list[dict[str, str]]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChatResponse:
    """A chat completion's text, token counts and timing."""

    content: str
    tokens_in: int
    tokens_out: int
    latency_ms: int
    model: str
    estimated_tokens: bool = False


class AdapterError(Exception):
    """An endpoint call that failed, with a sentence a user understands."""

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.retry_after_s = retry_after_s


class EndpointUnreachable(AdapterError):
    """The endpoint could not be connected to, or did not answer in time."""


class EndpointStatusError(AdapterError):
    """The endpoint answered with an HTTP error status."""


class MalformedResponse(AdapterError):
    """The endpoint answered something that is not an OpenAI-shaped body."""


class BaseAdapter(Protocol):
    """An LLM endpoint: chat, list models, embed, close."""

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """One chat completion."""
        ...

    async def list_models(self) -> list[str]:
        """The model ids the endpoint serves."""
        ...

    async def embed(self, model: str, inputs: list[str]) -> list[list[float]]:
        """One embedding vector per input."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class CallGate(Protocol):
    """Who may call an endpoint now: its concurrency slots and a shared slow-down after a 429.

    In one process a LocalGate does; in production a Redis-backed gate makes both hold across
    every worker that calls the endpoint.
    """

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Hold one of the endpoint's concurrency slots for the duration of a request."""
        ...

    async def wait_turn(self) -> None:
        """Wait out a slow-down that any caller of this endpoint reported."""
        ...

    async def slow_down(self, seconds: float) -> None:
        """Tell every caller of this endpoint to hold off for this long (it answered 429)."""
        ...


class LocalGate:
    """An asyncio semaphore and a process-wide 'not before' time."""

    def __init__(self, max_concurrency: int) -> None:
        self._semaphore = asyncio.Semaphore(max(1, max_concurrency))
        self._not_before = 0.0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot."""
        async with self._semaphore:
            yield

    async def wait_turn(self) -> None:
        """Sleep until the slow-down ends."""
        delay = self._not_before - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def slow_down(self, seconds: float) -> None:
        """Push the 'not before' time out."""
        self._not_before = max(self._not_before, time.monotonic() + seconds)


def estimate_cost(pricing: Mapping[str, Any], model: str, tokens_in: int, tokens_out: int) -> float:
    """Dollars for the tokens at `{"model": {"input_per_1m": x, "output_per_1m": y}}`; 0 when unpriced."""
    price = pricing.get(model) if isinstance(pricing, Mapping) else None
    if not isinstance(price, Mapping):
        return 0.0
    try:
        per_in = float(price.get("input_per_1m") or 0.0)
        per_out = float(price.get("output_per_1m") or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return (tokens_in * per_in + tokens_out * per_out) / 1_000_000
