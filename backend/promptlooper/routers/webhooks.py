"""Webhook configurations."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from promptlooper.deps import AdminUser, CtxDep, SessionDep, WriterUser
from promptlooper.routers.common import WRITE, WRITE_ONE, Limit, Offset, errors
from promptlooper.schemas import Page, WebhookCreate, WebhookOut
from promptlooper.services import webhooks as service

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.get("", response_model=Page[WebhookOut], responses=errors(401, 403, 422))
async def list_webhooks(_: AdminUser, session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> Page[WebhookOut]:
    """Configured webhooks, for admins only (URLs often hold tokens; header values are never shown)."""
    return await service.list_webhooks(session, limit, offset)


@router.post("", status_code=201, response_model=WebhookOut, responses=WRITE)
async def create_webhook(body: WebhookCreate, _: WriterUser, session: SessionDep, ctx: CtxDep) -> WebhookOut:
    """Add a webhook for one event type (header values are write-only, stored encrypted)."""
    return await service.create_webhook(session, ctx, body)


@router.delete("/{webhook_id}", status_code=204, response_class=Response, responses=WRITE_ONE)
async def delete_webhook(webhook_id: uuid.UUID, _: WriterUser, session: SessionDep) -> Response:
    """Remove a webhook."""
    await service.delete_webhook(session, webhook_id)
    return Response(status_code=204)
