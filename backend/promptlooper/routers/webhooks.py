"""Webhook configurations, their signing secrets, test pings and delivery logs."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from promptlooper.deps import AdminUser, CtxDep, SessionDep, WriterUser
from promptlooper.routers.common import WRITE, WRITE_ONE, Limit, Offset, errors
from promptlooper.schemas import Page, WebhookCreate, WebhookDeliveryOut, WebhookOut, WebhookWithSecret
from promptlooper.services import webhooks as service

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.get("", response_model=Page[WebhookOut], responses=errors(401, 403, 422))
async def list_webhooks(_: AdminUser, session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> Page[WebhookOut]:
    """Configured webhooks, for admins only (URLs often hold tokens; header values are never shown)."""
    return await service.list_webhooks(session, limit, offset)


@router.post("", status_code=201, response_model=WebhookWithSecret, responses=WRITE)
async def create_webhook(body: WebhookCreate, _: WriterUser, session: SessionDep, ctx: CtxDep) -> WebhookWithSecret:
    """Add a webhook for one event type (or `*`); the answer carries its signing secret, shown once."""
    return await service.create_webhook(session, ctx, body)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookWithSecret, responses=WRITE_ONE)
async def rotate_webhook_secret(webhook_id: uuid.UUID, _: WriterUser, session: SessionDep,
                                ctx: CtxDep) -> WebhookWithSecret:
    """Replace the signing secret (the new one is shown once)."""
    return await service.rotate_secret(session, ctx, webhook_id)


@router.post("/{webhook_id}/test", response_model=WebhookDeliveryOut, responses=WRITE_ONE)
async def test_webhook(webhook_id: uuid.UUID, _: WriterUser, ctx: CtxDep) -> WebhookDeliveryOut:
    """Send a signed `ping` now and answer the delivery with the first attempt's outcome."""
    return await service.send_test(ctx, webhook_id)


@router.get("/{webhook_id}/deliveries", response_model=Page[WebhookDeliveryOut], responses=errors(401, 403, 404, 422))
async def list_webhook_deliveries(webhook_id: uuid.UUID, _: AdminUser, session: SessionDep, limit: Limit = 50,
                                  offset: Offset = 0) -> Page[WebhookDeliveryOut]:
    """The delivery log (admins only): newest first, each delivery with its attempts."""
    return await service.list_deliveries(session, webhook_id, limit, offset)


@router.delete("/{webhook_id}", status_code=204, response_class=Response, responses=WRITE_ONE)
async def delete_webhook(webhook_id: uuid.UUID, _: WriterUser, session: SessionDep) -> Response:
    """Remove a webhook."""
    await service.delete_webhook(session, webhook_id)
    return Response(status_code=204)
