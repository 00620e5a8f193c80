"""MCP tools for webhooks: configure them, read their delivery log and send a test ping."""

from __future__ import annotations

import uuid
from typing import Any

from mcp.server.mcpserver.tools import Tool
from mcp_types import ToolAnnotations

from promptlooper.mcp.common import ToolContext, dump, given, parse, reported, unit_of_work
from promptlooper.schemas import WebhookCreate
from promptlooper.services import webhooks as webhook_service

READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
SENDS = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)


async def list_webhooks(ctx: ToolContext, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """List the configured webhooks (header values and secrets are never shown).

    Returns `{"items": [{id, event_type, url, header_names, is_active, has_secret, created_at}], "total", ...}`.
    Next: `list_webhook_deliveries(webhook_id)` to see what was sent, or `test_webhook(webhook_id)`.
    """
    async with unit_of_work(ctx) as work:
        return dump(await webhook_service.list_webhooks(work.session, max(1, min(limit, 500)), max(0, offset)))


async def create_webhook(ctx: ToolContext, event_type: str, url: str, headers: dict[str, str] | None = None,
                         is_active: bool = True) -> dict[str, Any]:
    """Add a webhook: PromptLooper POSTs signed JSON to `url` for every event of `event_type`.

    `event_type`: `experiment.started`, `experiment.completed`, `experiment.paused`, `experiment.resumed`,
    `new_best_found`, `budget.exhausted`, `human_needed`, `run.failed`, `run.approved`, `run.rejected`,
    `experiment.redirected`, `proposal.created`, or `*` for all. Optional `headers` (write-only, e.g. an
    Authorization for the receiver). Returns the webhook with its `secret` (`whsec_...`), shown only now:
    receivers verify `X-PromptLooper-Signature` = `sha256=HMAC(secret, "<timestamp>.<body>")`.
    Next: `test_webhook(webhook_id=id)`.
    """
    body = parse(WebhookCreate, given(event_type=event_type, url=url, headers=headers, is_active=is_active))
    async with unit_of_work(ctx, write=True) as work:
        return dump(await webhook_service.create_webhook(work.session, work.app, body))


async def rotate_webhook_secret(ctx: ToolContext, webhook_id: uuid.UUID) -> dict[str, Any]:
    """Replace a webhook's signing secret; returns the webhook with the new `secret`, shown only now."""
    async with unit_of_work(ctx, write=True) as work:
        return dump(await webhook_service.rotate_secret(work.session, work.app, webhook_id))


async def list_webhook_deliveries(ctx: ToolContext, webhook_id: uuid.UUID, limit: int = 50,
                                  offset: int = 0) -> dict[str, Any]:
    """A webhook's delivery log, newest first (admins only).

    Returns `{"items": [{id (the X-PromptLooper-Delivery header), event_id, event_type, attempt, status_code,
    duration_ms, error, created_at, next_attempt_at, delivered, attempts: [...]}], "total", ...}`.
    `next_attempt_at` set means a retry is scheduled; `delivered: false` with no next attempt means it gave up.
    """
    async with unit_of_work(ctx, write=True) as work:  # admins only, like the REST route
        return dump(await webhook_service.list_deliveries(work.session, webhook_id, max(1, min(limit, 500)),
                                                          max(0, offset)))


async def test_webhook(ctx: ToolContext, webhook_id: uuid.UUID) -> dict[str, Any]:
    """Send a signed `ping` to a webhook now; returns the delivery with the receiver's `status_code`."""
    async with unit_of_work(ctx, write=True) as work:
        return dump(await webhook_service.send_test(work.app, webhook_id))


def webhook_tools() -> list[Tool]:
    """The webhook tools."""
    return [
        Tool.from_function(reported(list_webhooks), annotations=READ),
        Tool.from_function(reported(create_webhook), annotations=WRITE),
        Tool.from_function(reported(rotate_webhook_secret), annotations=WRITE),
        Tool.from_function(reported(list_webhook_deliveries), annotations=READ),
        Tool.from_function(reported(test_webhook), annotations=SENDS),
    ]
