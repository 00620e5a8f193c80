"""Request dependencies declared once as Annotated aliases."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.auth import GUEST, Principal
from promptlooper.context import AppContext
from promptlooper.db import session_scope
from promptlooper.errors import Forbidden, NotAuthenticated
from promptlooper.services import auth as auth_service
from promptlooper.services import settings as settings_service

_bearer = HTTPBearer(auto_error=False, description="A JWT from /auth/login or an API key `pl_...`")


def get_ctx(request: Request) -> AppContext:
    """The application context built in the lifespan."""
    return cast(AppContext, request.app.state.ctx)


CtxDep = Annotated[AppContext, Depends(get_ctx)]


async def get_session(ctx: CtxDep) -> AsyncIterator[AsyncSession]:
    """A session per request: commit when the handler succeeds, roll back otherwise."""
    async with session_scope(ctx.sessionmaker) as session:
        yield session


# scope="function": the commit happens before the response is sent, so a 2xx means the data is durable
# (with the default request scope FastAPI commits after answering, and a crash in between loses the write).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def resolve_principal(session: AsyncSession, ctx: AppContext, token: str | None) -> Principal | None:
    """The principal for a bearer token (JWT, API key or static key); None when no token is given."""
    if not token:
        return None
    static = ctx.settings.api_key.get_secret_value() if ctx.settings.api_key else None
    if static and hmac.compare_digest(token.encode(), static.encode()):
        return Principal(user_id=None, username="api", is_admin=True, via="static_key")
    return await auth_service.principal_for_token(session, ctx, token)


async def get_principal(request: Request, session: SessionDep, ctx: CtxDep, creds: BearerDep) -> Principal:
    """Any caller allowed to read: authenticated, or a guest when the admin allows guest access."""
    principal = await resolve_principal(session, ctx, creds.credentials if creds else None)
    if principal is not None:
        return principal
    if request.method in ("GET", "HEAD") and (await settings_service.get_settings(session, ctx)).allow_guest_access:
        return GUEST
    raise NotAuthenticated("Authentication required: send `Authorization: Bearer <token or API key>`.")


CurrentUser = Annotated[Principal, Depends(get_principal)]


async def get_writer(principal: CurrentUser) -> Principal:
    """A caller allowed to write (an authenticated admin)."""
    if principal.via == "guest":
        raise NotAuthenticated("Authentication required to make changes.")
    if not principal.can_write:
        raise Forbidden("Read-only account: guests cannot make changes.")
    return principal


WriterUser = Annotated[Principal, Depends(get_writer)]
AdminUser = WriterUser


def client_id(request: Request) -> str:
    """The client address used for login throttling (X-Forwarded-For only from TRUSTED_PROXIES)."""
    from promptlooper.auth import client_address

    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), get_ctx(request).settings.trusted_proxies)
