"""First-boot setup, login and the current user."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError

from promptlooper.deps import CtxDep, CurrentUser, SessionDep, client_id
from promptlooper.errors import InvalidDefinition
from promptlooper.routers.common import errors
from promptlooper.schemas import AuthStatusOut, Credentials, LoginIn, TokenOut, UserOut
from promptlooper.services import auth as service

router = APIRouter(prefix="/auth", tags=["auth"])


@router.get("/status", response_model=AuthStatusOut)
async def auth_status(session: SessionDep, ctx: CtxDep) -> AuthStatusOut:
    """Public: whether first-boot setup is still needed and whether guests may read (for the login page)."""
    return await service.auth_status(session, ctx)


@router.post("/setup", status_code=201, response_model=TokenOut, responses=errors(409, 413, 422))
async def setup(body: Credentials, session: SessionDep, ctx: CtxDep) -> TokenOut:
    """Create the first admin account (only while no user exists) and log it in."""
    return await service.setup_admin(session, ctx, body.username, body.password)


async def _login_body(request: Request) -> LoginIn:
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            return LoginIn.model_validate({"username": form.get("username"), "password": form.get("password")})
        return LoginIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise InvalidDefinition(
            [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        ) from exc


@router.post(
    "/login",
    response_model=TokenOut,
    responses=errors(401, 413, 422, 429),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/LoginIn"}},
                "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/LoginIn"}},
            },
        }
    },
)
async def login(request: Request, session: SessionDep, ctx: CtxDep) -> TokenOut:
    """Log in with JSON `{"username", "password"}` or an OAuth2 password form; answers a JWT."""
    body = await _login_body(request)
    return await service.login(session, ctx, body.username, body.password, client_id(request))


@router.get("/me", response_model=UserOut, responses=errors(401))
async def me(principal: CurrentUser, session: SessionDep) -> UserOut:
    """The caller: id, username, admin flag and role."""
    return await service.me(session, principal)
