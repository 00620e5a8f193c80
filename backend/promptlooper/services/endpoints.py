"""LLM endpoints: CRUD with the API key encrypted at rest, and a connectivity test."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import httpx2
from cryptography.fernet import InvalidToken
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.config import ConfigError
from promptlooper.context import AppContext
from promptlooper.engine.adapters import AdapterError, OpenAICompatAdapter
from promptlooper.engine.adapters.base import EndpointStatusError
from promptlooper.engine.adapters.openai_compat import status_sentence
from promptlooper.errors import Conflict
from promptlooper.logsafety import redact
from promptlooper.models import AppSetting, Experiment, LLMEndpoint
from promptlooper.schemas import EndpointCreate, EndpointOut, EndpointTestOut, EndpointUpdate, Page, refuse_unsafe_url
from promptlooper.services.common import get_or_404, paginate


def endpoint_out(endpoint: LLMEndpoint) -> EndpointOut:
    """An endpoint on the wire, never with its key."""
    return EndpointOut(
        id=endpoint.id,
        label=endpoint.label,
        url=redact(endpoint.url),  # an endpoint saved before URL credentials were refused never shows them
        has_api_key=bool(endpoint.api_key_encrypted),
        max_concurrency=endpoint.max_concurrency,
        pricing=endpoint.pricing,
        created_at=endpoint.created_at,
    )


def encrypt_key(ctx: AppContext, key: str | None) -> str | None:
    """Encrypt an API key for storage (None or empty means no key)."""
    return ctx.settings.secrets.fernet.encrypt(key.encode()).decode() if key else None


def decrypt_key(ctx: AppContext, endpoint: LLMEndpoint) -> str | None:
    """The endpoint's API key in clear, for outgoing calls only."""
    if not endpoint.api_key_encrypted:
        return None
    try:
        return ctx.settings.secrets.fernet.decrypt(endpoint.api_key_encrypted.encode()).decode()
    except InvalidToken:
        return None


def _normalise_url(url: str) -> str:
    return url.rstrip("/")


async def create_endpoint(session: AsyncSession, ctx: AppContext, body: EndpointCreate) -> EndpointOut:
    """Add an endpoint."""
    endpoint = LLMEndpoint(
        label=body.label,
        url=_normalise_url(body.url),
        api_key_encrypted=encrypt_key(ctx, body.api_key),
        max_concurrency=body.max_concurrency,
        pricing={k: v.model_dump() for k, v in body.pricing.items()},
    )
    session.add(endpoint)
    await session.flush()
    await _default_if_none(session, endpoint)
    return endpoint_out(endpoint)


async def _default_if_none(session: AsyncSession, endpoint: LLMEndpoint) -> None:
    """The first endpoint added while no default is set becomes the default."""
    setting = await session.get(AppSetting, "default_endpoint_id")
    current = None if setting is None else setting.value
    if current:
        try:
            if await session.get(LLMEndpoint, uuid.UUID(str(current))) is not None:
                return
        except ValueError:
            pass
    from promptlooper.services.settings import set_value

    await set_value(session, "default_endpoint_id", str(endpoint.id))


async def list_endpoints(session: AsyncSession, limit: int, offset: int) -> Page[EndpointOut]:
    """Endpoints in creation order."""
    rows, total = await paginate(session, select(LLMEndpoint).order_by(LLMEndpoint.created_at), limit, offset)
    return Page(items=[endpoint_out(e) for e in rows], total=total, limit=limit, offset=offset)


async def get_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> EndpointOut:
    """One endpoint."""
    return endpoint_out(await get_or_404(session, LLMEndpoint, endpoint_id, "Endpoint"))


async def update_endpoint(
    session: AsyncSession, ctx: AppContext, endpoint_id: uuid.UUID, body: EndpointUpdate
) -> EndpointOut:
    """Change an endpoint; `api_key: ""` removes its key, an absent api_key keeps it."""
    endpoint = await get_or_404(session, LLMEndpoint, endpoint_id, "Endpoint")
    changes = body.model_dump(exclude_unset=True)
    if "api_key" in changes:
        endpoint.api_key_encrypted = encrypt_key(ctx, changes.pop("api_key"))
    for key, value in changes.items():
        if value is None:
            continue
        if key == "url":
            value = _normalise_url(value)
        setattr(endpoint, key, value)
    endpoint.updated_at = datetime.now(UTC)
    await session.flush()
    return endpoint_out(endpoint)


async def delete_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    """Remove an endpoint that no experiment stage names."""
    endpoint = await get_or_404(session, LLMEndpoint, endpoint_id, "Endpoint")
    needle = str(endpoint_id)
    for experiment in (await session.scalars(select(Experiment))).all():
        if needle in str(experiment.pipeline_stages) or needle in str(experiment.parameter_space):
            raise Conflict(
                f"Experiment {experiment.name!r} uses this endpoint; change it first.", code="endpoint_in_use"
            )
    default = await session.get(AppSetting, "default_endpoint_id")
    if default is not None and default.value == needle:
        default.value = None
    await session.delete(endpoint)
    await session.flush()


def make_adapter(
    ctx: AppContext, endpoint: LLMEndpoint, *, max_retries: int | None = None, timeout_s: float | None = None
) -> OpenAICompatAdapter:
    """An adapter for this endpoint with the process's timeouts and retries.

    In production its concurrency cap and 429 slow-down are shared with every worker (Redis).
    """
    coordinator = ctx.coordinator
    gate = None
    if coordinator is not None:
        from promptlooper.queue.coordination import RedisGate

        gate = RedisGate(coordinator, str(endpoint.id), endpoint.max_concurrency)
    return OpenAICompatAdapter(
        endpoint.url,
        decrypt_key(ctx, endpoint),
        max_concurrency=endpoint.max_concurrency,
        timeout_s=timeout_s if timeout_s is not None else ctx.settings.llm_timeout_s,
        max_retries=max_retries if max_retries is not None else ctx.settings.llm_max_retries,
        gate=gate,
    )


async def test_endpoint(session: AsyncSession, ctx: AppContext, endpoint_id: uuid.UUID) -> EndpointTestOut:
    """Call the endpoint's /models once and say whether it works, in words."""
    endpoint = await get_or_404(session, LLMEndpoint, endpoint_id, "Endpoint")
    adapter = make_adapter(ctx, endpoint, max_retries=0, timeout_s=10.0)
    started = time.perf_counter()
    try:
        models = await adapter.list_models()
    except EndpointStatusError as exc:  # never echo the body: the URL may be any server, not an LLM
        return EndpointTestOut(ok=False, error=f"{status_sentence(exc.status or 0)} to GET /models (an "
                               "OpenAI-compatible server answers 200 with a model list).")
    except AdapterError as exc:
        return EndpointTestOut(ok=False, error=exc.message)
    finally:
        await adapter.aclose()
    return EndpointTestOut(ok=True, models=[m[:200] for m in models[:1000]],
                           latency_ms=int((time.perf_counter() - started) * 1000))


async def ensure_default_endpoint(session: AsyncSession, ctx: AppContext) -> None:
    """Create the endpoint named by DEFAULT_ENDPOINT_URL once, and make it the default."""
    url = ctx.settings.default_endpoint_url
    if not url:
        return
    url = _normalise_url(url)
    try:
        refuse_unsafe_url(httpx2.URL(url))
    except ValueError as exc:
        raise ConfigError(f"DEFAULT_ENDPOINT_URL {exc}") from None
    endpoint = await session.scalar(select(LLMEndpoint).where(LLMEndpoint.url == url))
    if endpoint is None:
        key = ctx.settings.default_endpoint_key
        endpoint = LLMEndpoint(
            label="default", url=url, api_key_encrypted=encrypt_key(ctx, key.get_secret_value() if key else None)
        )
        session.add(endpoint)
        await session.flush()
    setting = await session.get(AppSetting, "default_endpoint_id")
    if setting is None or setting.value is None:
        from promptlooper.services.settings import set_value

        await set_value(session, "default_endpoint_id", str(endpoint.id))
