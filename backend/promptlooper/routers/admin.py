"""Admin: settings, statistics, API keys and users."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from promptlooper.deps import AdminUser, CtxDep, SessionDep
from promptlooper.routers.common import READ, WRITE, WRITE_ONE, Limit, Offset, errors
from promptlooper.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    Page,
    SettingsOut,
    SettingsUpdate,
    StatsOut,
    UserCreate,
    UserOut,
)
from promptlooper.services import admin as admin_service
from promptlooper.services import auth as auth_service
from promptlooper.services import settings as settings_service

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/settings", response_model=SettingsOut, responses=errors(401, 403))
async def get_settings(_: AdminUser, session: SessionDep, ctx: CtxDep) -> SettingsOut:
    """System settings: guest access, default endpoint, concurrency and token limits."""
    return await settings_service.get_settings(session, ctx)


@router.put("/settings", response_model=SettingsOut, responses=errors(400, 401, 403, 413, 422))
async def update_settings(body: SettingsUpdate, _: AdminUser, session: SessionDep, ctx: CtxDep) -> SettingsOut:
    """Change any subset of the settings."""
    return await settings_service.update_settings(session, ctx, body)


@router.get("/stats", response_model=StatsOut, responses=errors(401, 403))
async def get_stats(_: AdminUser, session: SessionDep) -> StatsOut:
    """Totals, runs by status and cache statistics."""
    return await admin_service.stats(session)


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated, responses=WRITE)
async def create_api_key(body: ApiKeyCreate, admin: AdminUser, session: SessionDep) -> ApiKeyCreated:
    """Create an API key `pl_...`; the key is shown in this answer only."""
    return await auth_service.create_api_key(session, admin, body.name)


@router.get("/api-keys", response_model=Page[ApiKeyOut], responses=errors(401, 403, 422))
async def list_api_keys(_: AdminUser, session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> Page[ApiKeyOut]:
    """API keys, without the keys themselves."""
    return await auth_service.list_api_keys(session, limit, offset)


@router.delete("/api-keys/{key_id}", status_code=204, response_class=Response, responses=WRITE_ONE)
async def delete_api_key(key_id: uuid.UUID, _: AdminUser, session: SessionDep) -> Response:
    """Revoke an API key."""
    await auth_service.delete_api_key(session, key_id)
    return Response(status_code=204)


@router.get("/users", response_model=Page[UserOut], responses=READ | errors(403))
async def list_users(_: AdminUser, session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> Page[UserOut]:
    """Users (non-admins are read-only)."""
    return await auth_service.list_users(session, limit, offset)


@router.post("/users", status_code=201, response_model=UserOut, responses=WRITE | errors(409))
async def create_user(body: UserCreate, _: AdminUser, session: SessionDep) -> UserOut:
    """Add a user; non-admin users are read-only."""
    return await auth_service.create_user(session, body.username, body.password, body.is_admin)


@router.delete("/users/{user_id}", status_code=204, response_class=Response, responses=WRITE_ONE | errors(409))
async def delete_user(user_id: uuid.UUID, admin: AdminUser, session: SessionDep) -> Response:
    """Remove a user (not yourself)."""
    await auth_service.delete_user(session, admin, user_id)
    return Response(status_code=204)
