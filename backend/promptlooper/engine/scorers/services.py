"""What scorers may use from the app: endpoints, the cached chat and who the author is.

The app puts an object satisfying `ScorerServices` in `ScoreContext.extras["services"]`.
`LocalScorerServices` is the in-memory implementation used by tests and the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..adapters.base import BaseAdapter
from ..cache import CachedChat, MemoryCacheStore
from .base import ScoreContext

SERVICES_KEY = "services"


class UnknownEndpoint(LookupError):
    """A scorer named an endpoint the app does not know."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@runtime_checkable
class ScorerServices(Protocol):
    """The app's helpers for scorers that call out (llm_judge, embedding_similarity, python)."""

    chat: CachedChat
    """Cached, single-flight chat calls; its `store` also holds cached embeddings."""

    is_admin: bool
    """Whether the experiment's author is an admin (the `python` scorer refuses to run otherwise)."""

    async def endpoint(self, endpoint_id: str | None) -> tuple[BaseAdapter, str]:
        """(adapter, base_url) of an endpoint (None = the default one); raises UnknownEndpoint when unknown."""
        ...


@dataclass
class LocalScorerServices:
    """ScorerServices over a dict of endpoint id -> (adapter, base_url) and an in-memory cache."""

    endpoints: Mapping[str, tuple[BaseAdapter, str]] = field(default_factory=dict)
    chat: CachedChat = field(default_factory=lambda: CachedChat(MemoryCacheStore()))
    is_admin: bool = False
    default_endpoint_id: str | None = None

    async def endpoint(self, endpoint_id: str | None) -> tuple[BaseAdapter, str]:
        """(adapter, base_url) of an endpoint (None = the default one); raises UnknownEndpoint when unknown."""
        wanted = endpoint_id if endpoint_id is not None else self.default_endpoint_id
        if wanted is None:
            if len(self.endpoints) == 1:
                return next(iter(self.endpoints.values()))
            raise UnknownEndpoint("No endpoint_id given and no default endpoint is configured")
        try:
            return self.endpoints[wanted]
        except KeyError:
            raise UnknownEndpoint(f"Unknown endpoint `{wanted}`") from None


def services_of(context: ScoreContext) -> ScorerServices | None:
    """The app's ScorerServices from the context's extras, or None when the app gave none."""
    services = context.extras.get(SERVICES_KEY)
    if services is None or not isinstance(services, ScorerServices):
        return None
    return services


NO_SERVICES = "the app provided no scorer services (endpoints and cache), so this scorer cannot call out"
