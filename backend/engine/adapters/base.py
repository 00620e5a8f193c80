"""What every LLM adapter speaks: requests, responses, errors and the BaseAdapter protocol."""

from __future__ import annotations

from collections.abc import Mapping
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
