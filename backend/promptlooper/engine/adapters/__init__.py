"""LLM adapters: the BaseAdapter protocol, the OpenAI-compatible implementation and a registry by kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import (
    AdapterError,
    BaseAdapter,
    ChatRequest,
    ChatResponse,
    EndpointStatusError,
    EndpointUnreachable,
    MalformedResponse,
    estimate_cost,
)
from .openai_compat import OpenAICompatAdapter

ADAPTERS: dict[str, Callable[..., BaseAdapter]] = {"openai": OpenAICompatAdapter}


def make_adapter(kind: str, **kwargs: Any) -> BaseAdapter:
    """An adapter of a registered kind, built with its keyword arguments."""
    try:
        factory = ADAPTERS[kind]
    except KeyError:
        raise ValueError(f"Unknown adapter kind {kind!r}; known: {', '.join(sorted(ADAPTERS))}") from None
    return factory(**kwargs)


__all__ = [
    "ADAPTERS",
    "AdapterError",
    "BaseAdapter",
    "ChatRequest",
    "ChatResponse",
    "EndpointStatusError",
    "EndpointUnreachable",
    "MalformedResponse",
    "OpenAICompatAdapter",
    "estimate_cost",
    "make_adapter",
]
