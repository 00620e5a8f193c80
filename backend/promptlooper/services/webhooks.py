"""Outgoing webhook configurations (admin-only to read: URLs and headers often hold tokens): create
(with a signing secret shown once), rotate, test, log."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.db import session_scope
from promptlooper.models import WebhookConfig, WebhookDelivery
from promptlooper.schemas import Page, WebhookCreate, WebhookDeliveryOut, WebhookOut, WebhookWithSecret
from promptlooper.services import webhook_delivery as delivery
from promptlooper.services.common import get_or_404, paginate
from promptlooper.services.secrets import seal_headers


def webhook_out(hook: WebhookConfig) -> WebhookOut:
    """A webhook on the wire (header names only)."""
    return WebhookOut(
        id=hook.id,
        event_type=hook.event_type,
        url=hook.url,
        header_names=sorted(hook.headers),
        is_active=hook.is_active,
        created_at=hook.created_at,
        has_secret=bool(hook.secret_encrypted),
    )


def _with_secret(hook: WebhookConfig, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret(**webhook_out(hook).model_dump(), secret=secret)


async def create_webhook(session: AsyncSession, ctx: AppContext, body: WebhookCreate) -> WebhookWithSecret:
    """Add a webhook with a new signing secret (answered once, stored encrypted)."""
    secret = delivery.new_secret()
    hook = WebhookConfig(event_type=body.event_type, url=body.url, headers=seal_headers(ctx, body.headers),
                         is_active=body.is_active,
                         secret_encrypted=delivery.encrypt_secret(ctx, secret))
    session.add(hook)
    await session.flush()
    return _with_secret(hook, secret)


async def rotate_secret(session: AsyncSession, ctx: AppContext, webhook_id: uuid.UUID) -> WebhookWithSecret:
    """Replace a webhook's signing secret; deliveries from now on (retries included) use the new one."""
    hook = await get_or_404(session, WebhookConfig, webhook_id, "Webhook")
    secret = delivery.new_secret()
    hook.secret_encrypted = delivery.encrypt_secret(ctx, secret)
    await session.flush()
    return _with_secret(hook, secret)


async def list_webhooks(session: AsyncSession, limit: int, offset: int) -> Page[WebhookOut]:
    """Webhooks in creation order."""
    rows, total = await paginate(session, select(WebhookConfig).order_by(WebhookConfig.created_at), limit, offset)
    return Page(items=[webhook_out(h) for h in rows], total=total, limit=limit, offset=offset)


async def delete_webhook(session: AsyncSession, webhook_id: uuid.UUID) -> None:
    """Remove a webhook (its delivery log goes with it)."""
    await session.delete(await get_or_404(session, WebhookConfig, webhook_id, "Webhook"))


async def list_deliveries(session: AsyncSession, webhook_id: uuid.UUID, limit: int, offset: int,
                          ) -> Page[WebhookDeliveryOut]:
    """A webhook's deliveries, newest first, each with its attempts."""
    await get_or_404(session, WebhookConfig, webhook_id, "Webhook")
    stmt = (select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id))
    rows, total = await paginate(session, stmt, limit, offset)
    return Page(items=[WebhookDeliveryOut.model_validate(r) for r in rows], total=total, limit=limit, offset=offset)


async def send_test(ctx: AppContext, webhook_id: uuid.UUID) -> WebhookDeliveryOut:
    """Send a `ping` now through the outbox (a failed ping is retried like any delivery)."""
    async with session_scope(ctx.sessionmaker) as session:
        hook = await get_or_404(session, WebhookConfig, webhook_id, "Webhook")
        row = delivery.ping_delivery(ctx, hook)
        session.add(row)
        await session.flush()
        delivery_id = row.id
    await delivery.deliver_now(ctx, delivery_id)
    async with session_scope(ctx.sessionmaker) as session:
        return WebhookDeliveryOut.model_validate(await get_or_404(session, WebhookDelivery, delivery_id, "Delivery"))
