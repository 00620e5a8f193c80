"""Outgoing webhook configurations (admin-only: URLs and headers often hold tokens)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.models import WebhookConfig
from promptlooper.schemas import Page, WebhookCreate, WebhookOut
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
    )


async def create_webhook(session: AsyncSession, ctx: AppContext, body: WebhookCreate) -> WebhookOut:
    """Add a webhook; its header values are stored encrypted (they usually hold credentials)."""
    hook = WebhookConfig(event_type=body.event_type, url=body.url, headers=seal_headers(ctx, body.headers),
                         is_active=body.is_active)
    session.add(hook)
    await session.flush()
    return webhook_out(hook)


async def list_webhooks(session: AsyncSession, limit: int, offset: int) -> Page[WebhookOut]:
    """Webhooks in creation order."""
    rows, total = await paginate(session, select(WebhookConfig).order_by(WebhookConfig.created_at), limit, offset)
    return Page(items=[webhook_out(h) for h in rows], total=total, limit=limit, offset=offset)


async def delete_webhook(session: AsyncSession, webhook_id: uuid.UUID) -> None:
    """Remove a webhook."""
    await session.delete(await get_or_404(session, WebhookConfig, webhook_id, "Webhook"))
