"""Shared pieces of the MCP tools: server state, the caller, units of work and error translation."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, TypeVar, cast

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.auth import Principal
from promptlooper.context import AppContext
from promptlooper.db import session_scope
from promptlooper.errors import AppError, InvalidDefinition

READ_ONLY = "Read-only account: guests cannot make changes."
NOT_AUTHENTICATED = "Authentication required: send `Authorization: Bearer <token or API key>`."
M = TypeVar("M", bound=BaseModel)
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class MCPState:
    """What every MCP request sees: the shared AppContext and, on stdio, the caller fixed at start."""

    app: AppContext
    principal: Principal | None = None


ToolContext = Context[MCPState, Any]


@dataclass
class Work:
    """One tool call's unit of work: the app, an open session and the caller."""

    app: AppContext
    session: AsyncSession
    principal: Principal


def principal_token(principal: Principal) -> AccessToken:
    """An SDK access token carrying a PromptLooper principal."""
    return AccessToken(
        token="",
        client_id=f"{principal.via}:{principal.user_id or principal.username}",
        scopes=["read", "write"] if principal.can_write else ["read"],
        subject=str(principal.user_id) if principal.user_id else principal.username,
        claims={"username": principal.username, "is_admin": principal.is_admin, "via": principal.via,
                "user_id": str(principal.user_id) if principal.user_id else None},
    )


def token_principal(token: AccessToken) -> Principal:
    """The PromptLooper principal an access token was minted for."""
    claims = token.claims or {}
    user_id = claims.get("user_id")
    return Principal(
        user_id=uuid.UUID(user_id) if user_id else None,
        username=str(claims.get("username", token.client_id)),
        is_admin=bool(claims.get("is_admin")),
        via=cast(Literal["jwt", "api_key", "static_key", "guest"], claims.get("via", "api_key")),
    )


def state_of(ctx: ToolContext) -> MCPState:
    """The server state of this request."""
    return ctx.request_context.lifespan_context


def principal_of(ctx: ToolContext) -> Principal:
    """Who is calling: the stdio principal, or the one the HTTP bearer token resolved to."""
    state = state_of(ctx)
    if state.principal is not None:
        return state.principal
    token = get_access_token()
    if token is None:
        request = ctx.request_context.request
        user = getattr(request, "scope", {}).get("user") if request is not None else None
        token = user.access_token if isinstance(user, AuthenticatedUser) else None
    if token is None:
        raise ToolError(NOT_AUTHENTICATED)
    return token_principal(token)


def error_text(exc: AppError) -> str:
    """The sentence the REST API answers for this error (field errors listed one by one)."""
    if isinstance(exc, InvalidDefinition):
        return "Invalid input: " + "; ".join(_field_error(e) for e in exc.errors)
    return exc.detail


def _field_error(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", [])]
    if loc[:1] == ["body"]:
        loc = loc[1:]
    where = ".".join(loc)
    return f"{where}: {error.get('msg', '')}" if where else str(error.get("msg", ""))


def parse(model: type[M], data: dict[str, Any]) -> M:
    """Validate a REST body with its own model; failures read like the REST 422 field list."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        raise ToolError(error_text(InvalidDefinition(errors))) from exc


def given(**values: Any) -> dict[str, Any]:
    """The arguments the caller actually gave (None means absent, as an omitted JSON field)."""
    return {k: v for k, v in values.items() if v is not None}


@asynccontextmanager
async def unit_of_work(ctx: ToolContext, *, write: bool = False) -> AsyncIterator[Work]:
    """A committed unit of work for one tool call; AppErrors become tool errors with the REST sentence."""
    principal = principal_of(ctx)
    if write and not principal.can_write:
        raise ToolError(READ_ONLY)
    app = state_of(ctx).app
    try:
        async with session_scope(app.sessionmaker) as session:
            yield Work(app, session, principal)
    except AppError as exc:
        raise ToolError(error_text(exc)) from exc


def reported(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | CallToolResult]]:
    """Answer a ToolError as a tool error whose text is exactly its sentence (no SDK prefix)."""

    @functools.wraps(fn)
    async def tool(*args: P.args, **kwargs: P.kwargs) -> R | CallToolResult:
        try:
            return await fn(*args, **kwargs)
        except ToolError as exc:
            return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)

    return tool


def dump(value: BaseModel) -> dict[str, Any]:
    """A wire model as JSON-ready data."""
    return value.model_dump(mode="json")


async def resource_text(ctx: ToolContext, read: Callable[[AsyncSession], Any]) -> Any:
    """Read-only work for a resource; AppErrors become resource errors with the REST sentence."""
    try:
        principal_of(ctx)
        async with session_scope(state_of(ctx).app.sessionmaker) as session:
            return await read(session)
    except ToolError as exc:
        raise ResourceError(str(exc)) from exc
    except AppError as exc:
        raise (ResourceNotFoundError if exc.status == 404 else ResourceError)(error_text(exc)) from exc
