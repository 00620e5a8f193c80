"""WebSocket feeds: /ws/experiments/{id} and /ws/dashboard, authenticated by ?token=."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from promptlooper.context import AppContext
from promptlooper.deps import resolve_principal
from promptlooper.errors import AppError
from promptlooper.models import Experiment
from promptlooper.services import settings as settings_service
from promptlooper.services.events import events_after

router = APIRouter()


async def _authorise(ws: WebSocket, ctx: AppContext, experiment_id: uuid.UUID | None) -> bool:
    token = ws.query_params.get("token")
    async with ctx.sessionmaker() as session:
        try:
            principal = await resolve_principal(session, ctx, token)
        except AppError:
            principal = None
        if principal is None and not (await settings_service.get_settings(session, ctx)).allow_guest_access:
            await ws.close(code=4401, reason="Authentication required: pass ?token=<jwt-or-api-key>")
            return False
        await session.commit()
        if experiment_id is not None and await session.get(Experiment, experiment_id) is None:
            await ws.close(code=4404, reason=f"Experiment {experiment_id} does not exist")
            return False
    return True


async def _stream(ws: WebSocket, experiment_id: uuid.UUID | None) -> None:
    ctx: AppContext = ws.app.state.ctx
    if not await _authorise(ws, ctx, experiment_id):
        return
    await ws.accept()
    bus = ctx.runtime.bus
    async with bus.subscribe(experiment_id) as subscription:
        after = int(ws.query_params.get("after", "0") or 0) if ws.query_params.get("after", "0").isdigit() else 0
        last_seq = after
        if after:
            async with ctx.sessionmaker() as session:
                for event in await events_after(session, experiment_id, after, 5000):
                    await ws.send_json(event.to_json())
                    last_seq = event.seq or last_seq
        receiver = asyncio.create_task(_drain_client(ws))
        try:
            while not receiver.done():
                getter = asyncio.create_task(subscription.queue.get())
                done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                event = getter.result()
                if event.seq is not None and event.seq <= last_seq:
                    continue
                await ws.send_json(event.to_json())
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiver


async def _drain_client(ws: WebSocket) -> None:
    """Read (and ignore) client messages until the client goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await ws.receive_text()


@router.websocket("/ws/experiments/{experiment_id}")
async def experiment_feed(ws: WebSocket, experiment_id: uuid.UUID) -> None:
    """Live events of one experiment; `?after=<seq>` replays persisted events first."""
    await _stream(ws, experiment_id)


@router.websocket("/ws/dashboard")
async def dashboard_feed(ws: WebSocket) -> None:
    """Live events of every experiment."""
    await _stream(ws, None)
