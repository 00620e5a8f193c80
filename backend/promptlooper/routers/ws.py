"""WebSocket feeds: /ws/experiments/{id} and /ws/dashboard.

Authentication, without the credential in the URL: the client offers the subprotocols
`["promptlooper.bearer", "<jwt-or-api-key>"]` (the `Sec-WebSocket-Protocol` header, which no access
log prints) and the server answers with `promptlooper.bearer`. `?token=` still works for old clients
(access logs redact it). Anonymous sockets are allowed while guest access is on.

An open socket re-checks its credential every `WS_RECHECK_S` seconds (the revocation may happen in
another process) and is closed with 4401 when its token or API key stopped being valid, or 4403
when it is anonymous and guest access was turned off.
"""

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

router = APIRouter(tags=["live"])
BEARER_SUBPROTOCOL = "promptlooper.bearer"
CLOSE_UNAUTHENTICATED = 4401
CLOSE_GUESTS_OFF = 4403
CLOSE_NOT_FOUND = 4404


def credential(ws: WebSocket) -> tuple[str | None, str | None]:
    """(token, subprotocol to answer): from `Sec-WebSocket-Protocol`, else from `?token=`."""
    offered = list(ws.scope.get("subprotocols") or [])
    if BEARER_SUBPROTOCOL in offered:
        index = offered.index(BEARER_SUBPROTOCOL)
        token = offered[index + 1] if index + 1 < len(offered) else None
        return token, BEARER_SUBPROTOCOL
    return ws.query_params.get("token"), None


async def check_credential(ctx: AppContext, token: str | None, *, first: bool) -> tuple[int, str] | None:
    """None while the socket may stay open, else (close code, reason)."""
    async with ctx.sessionmaker() as session:
        # A re-check must write nothing: resolving an API key marks its last_used_at, and an autoflush
        # here would take SQLite's write lock every few seconds per socket, racing the event writer.
        session.autoflush = first
        try:
            principal = await resolve_principal(session, ctx, token)
        except AppError as exc:
            return CLOSE_UNAUTHENTICATED, exc.detail[:120]
        if principal is None and not (await settings_service.get_settings(session, ctx)).allow_guest_access:
            if first:
                return CLOSE_UNAUTHENTICATED, "Authentication required: offer the subprotocols " \
                                              f"['{BEARER_SUBPROTOCOL}', '<jwt-or-api-key>']"
            return CLOSE_GUESTS_OFF, "Guest access was turned off"
        if first:
            await session.commit()  # an API key's last_used_at; re-checks write nothing
    return None


async def _authorise(ws: WebSocket, ctx: AppContext, token: str | None, experiment_id: uuid.UUID | None) -> bool:
    refused = await check_credential(ctx, token, first=True)
    if refused is not None:
        await ws.close(code=refused[0], reason=refused[1])
        return False
    if experiment_id is not None:
        async with ctx.sessionmaker() as session:
            if await session.get(Experiment, experiment_id) is None:
                await ws.close(code=CLOSE_NOT_FOUND, reason=f"Experiment {experiment_id} does not exist")
                return False
    return True


async def _watch_credential(ws: WebSocket, ctx: AppContext, token: str | None) -> None:
    """Close the socket once its credential stops being valid."""
    while True:
        await asyncio.sleep(ctx.settings.ws_recheck_s)
        try:
            refused = await check_credential(ctx, token, first=False)
        except Exception:  # a database hiccup is not a revocation; try again next time
            continue
        if refused is not None:
            with contextlib.suppress(Exception):
                await ws.close(code=refused[0], reason=refused[1])
            return


def _after(ws: WebSocket) -> int:
    raw = ws.query_params.get("after", "0") or "0"
    return int(raw) if raw.isdigit() and len(raw) < 19 else 0


async def _stream(ws: WebSocket, experiment_id: uuid.UUID | None) -> None:
    ctx: AppContext = ws.app.state.ctx
    token, subprotocol = credential(ws)
    if not await _authorise(ws, ctx, token, experiment_id):
        return
    await ws.accept(subprotocol=subprotocol)
    bus = ctx.runtime.bus
    async with bus.subscribe(experiment_id) as subscription:
        after = _after(ws)
        last_seq = after
        if after:
            async with ctx.sessionmaker() as session:
                for event in await events_after(session, experiment_id, after, 5000):
                    await ws.send_json(event.to_json())
                    last_seq = event.seq or last_seq
        receiver = asyncio.create_task(_drain_client(ws))
        watcher = asyncio.create_task(_watch_credential(ws, ctx, token))
        try:
            while not receiver.done() and not watcher.done():
                getter = asyncio.create_task(subscription.queue.get())
                done, _ = await asyncio.wait({getter, receiver, watcher}, return_when=asyncio.FIRST_COMPLETED)
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
            for task in (receiver, watcher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


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
