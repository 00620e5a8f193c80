"""Webhook configurations."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from promptlooper.deps import CurrentUser, SessionDep, WriterUser
from promptlooper.routers.common import READ, WRITE, WRITE_ONE, Limit, Offset
from promptlooper.schemas import Page, WebhookCreate, WebhookOut
from promptlooper.services import webhooks as service

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.get("", response_model=Page[WebhookOut], responses=READ)
async def list_webhooks(_: CurrentUser, session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> Page[WebhookOut]:
    """Configured webhooks (header values hidden)."""
    return await service.list_webhooks(session, limit, offset)


@router.post("", status_code=201, response_model=WebhookOut, responses=WRITE)
async def create_webhook(body: WebhookCreate, _: WriterUser, session: SessionDep) -> WebhookOut:
    """Add a webhook for one event type."""
    return await service.create_webhook(session, body)


@router.delete("/{webhook_id}", status_code=204, response_class=Response, responses=WRITE_ONE)
async def delete_webhook(webhook_id: uuid.UUID, _: WriterUser, session: SessionDep) -> Response:
    """Remove a webhook."""
    await service.delete_webhook(session, webhook_id)
    return Response(status_code=204)
