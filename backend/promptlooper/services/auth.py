"""Users, logins, tokens and API keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper import auth
from promptlooper.auth import Principal
from promptlooper.context import AppContext
from promptlooper.errors import BadRequest, Conflict, NotAuthenticated
from promptlooper.models import ApiKey, User
from promptlooper.schemas import ApiKeyCreated, ApiKeyOut, AuthStatusOut, Page, TokenOut, UserOut
from promptlooper.services.common import get_or_404, paginate


def user_out(user: User) -> UserOut:
    """A user on the wire."""
    return UserOut(
        id=user.id,
        username=user.username,
        is_admin=user.is_admin,
        role="admin" if user.is_admin else "guest",
        created_at=user.created_at,
    )


def _token(ctx: AppContext, user: User) -> TokenOut:
    token = auth.create_access_token(user.id, ctx.settings.secrets.jwt_secret, ctx.settings.jwt_expire_minutes)
    return TokenOut(access_token=token, user=user_out(user))


async def release_connection(session: AsyncSession) -> None:
    """End a read-only transaction so its pooled connection is free while slow work (a hash) runs.

    Otherwise 30 parallel logins waiting for the hashing pool hold every pooled connection and
    /health queues behind them. Loaded objects stay usable (expire_on_commit is off).
    """
    await session.commit()


async def user_count(session: AsyncSession) -> int:
    """How many users exist."""
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def auth_status(session: AsyncSession, ctx: AppContext) -> AuthStatusOut:
    """Whether an admin must still be created, and whether anonymous guests may read."""
    from promptlooper.services.settings import get_settings

    settings = await get_settings(session, ctx)
    return AuthStatusOut(setup_required=await user_count(session) == 0,
                         guest_access=bool(settings.allow_guest_access))


SETUP_LOCK_KEY = 0x504C5345545550  # "PLSETUP": the Postgres advisory lock first-boot setups queue on


def _setup_done() -> Conflict:
    return Conflict("Setup is already done: log in instead.", code="setup_already_done")


async def setup_admin(session: AsyncSession, ctx: AppContext, username: str, password: str) -> TokenOut:
    """Create the first admin; 409 once any user exists, also for setups racing each other.

    Postgres: a transaction-scoped advisory lock makes racing setups wait for the first to commit,
    then they count one user. SQLite: the insert takes the database's one write lock, so counting
    after it sees every committed admin; more than ours means another setup won.
    """
    if await user_count(session) > 0:
        raise _setup_done()
    await release_connection(session)
    password_hash = await auth.hash_password_async(password)  # before the lock: the lock is held only briefly
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SETUP_LOCK_KEY})
        if await user_count(session) > 0:
            raise _setup_done()
    user = User(username=username, password_hash=password_hash, is_admin=True)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _setup_done() from exc
    if await user_count(session) > 1:
        raise _setup_done()
    return _token(ctx, user)


async def login(session: AsyncSession, ctx: AppContext, username: str, password: str, client: str) -> TokenOut:
    """Check a password and answer a token.

    The attempt is counted (per account and per client) before the password is checked, the hash
    is checked off the event loop, and an unknown username checks a dummy hash so it takes as long.
    """
    await ctx.throttle.attempt(username, client)
    user = await session.scalar(select(User).where(User.username == username))
    await release_connection(session)
    if not await auth.verify_password_async(password, user.password_hash if user is not None else None):
        raise NotAuthenticated("Wrong username or password.", code="invalid_credentials")
    assert user is not None
    await ctx.throttle.succeeded(username, client)
    return _token(ctx, user)


async def principal_for_token(session: AsyncSession, ctx: AppContext, token: str) -> Principal:
    """The principal for a JWT or a `pl_` API key."""
    if token.startswith(auth.API_KEY_PREFIX):
        key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == auth.hash_api_key(token)))
        if key is None:
            raise NotAuthenticated("The API key is not valid (unknown or revoked).", code="invalid_api_key")
        user = await session.get(User, key.user_id)
        if user is None:
            raise NotAuthenticated("The API key's user no longer exists.", code="invalid_api_key")
        key.last_used_at = datetime.now(UTC)
        return Principal(user_id=user.id, username=user.username, is_admin=user.is_admin, via="api_key")
    user_id = auth.decode_access_token(token, ctx.settings.secrets.jwt_secret)
    user = await session.get(User, user_id)
    if user is None:
        raise NotAuthenticated("The token's user no longer exists.", code="invalid_token")
    return Principal(user_id=user.id, username=user.username, is_admin=user.is_admin, via="jwt")


async def me(session: AsyncSession, principal: Principal) -> UserOut:
    """The caller as a user."""
    if principal.user_id is not None:
        user = await session.get(User, principal.user_id)
        if user is not None:
            return user_out(user)
    return UserOut(id=uuid.UUID(int=0), username=principal.username, is_admin=principal.is_admin, role=principal.role)


async def _owner_id(session: AsyncSession, principal: Principal) -> uuid.UUID:
    if principal.user_id is not None:
        return principal.user_id
    admin = await session.scalar(select(User).where(User.is_admin.is_(True)).order_by(User.created_at))
    if admin is None:
        raise BadRequest("Create the admin account first (POST /api/v1/auth/setup).", code="setup_required")
    return admin.id


async def create_api_key(session: AsyncSession, principal: Principal, name: str) -> ApiKeyCreated:
    """Create a key; its secret is in this answer only."""
    key = auth.new_api_key()
    row = ApiKey(
        name=name, key_hash=auth.hash_api_key(key), prefix=key[:10], user_id=await _owner_id(session, principal)
    )
    session.add(row)
    await session.flush()
    return ApiKeyCreated(id=row.id, name=row.name, prefix=row.prefix, created_at=row.created_at, key=key)


async def list_api_keys(session: AsyncSession, limit: int, offset: int) -> Page[ApiKeyOut]:
    """API keys in creation order, without secrets."""
    rows, total = await paginate(session, select(ApiKey).order_by(ApiKey.created_at), limit, offset)
    return Page(items=[ApiKeyOut.model_validate(r) for r in rows], total=total, limit=limit, offset=offset)


async def delete_api_key(session: AsyncSession, key_id: uuid.UUID) -> None:
    """Revoke a key."""
    await session.delete(await get_or_404(session, ApiKey, key_id, "API key"))


async def create_user(session: AsyncSession, username: str, password: str, is_admin: bool) -> UserOut:
    """Add a user (non-admins are read-only)."""
    if await session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"User {username!r} already exists.", code="user_exists")
    user = User(username=username, password_hash=await auth.hash_password_async(password), is_admin=is_admin)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same name created meanwhile
        raise Conflict(f"User {username!r} already exists.", code="user_exists") from exc
    return user_out(user)


async def list_users(session: AsyncSession, limit: int, offset: int) -> Page[UserOut]:
    """Users in creation order."""
    rows, total = await paginate(session, select(User).order_by(User.created_at), limit, offset)
    return Page(items=[user_out(u) for u in rows], total=total, limit=limit, offset=offset)


async def delete_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> None:
    """Remove a user other than oneself."""
    if principal.user_id == user_id:
        raise Conflict("You cannot delete your own account.", code="cannot_delete_self")
    await session.delete(await get_or_404(session, User, user_id, "User"))
