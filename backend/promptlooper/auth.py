"""Passwords (pwdlib/argon2), JWTs (PyJWT), API keys (stored as SHA-256) and login throttling."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt
from pwdlib import PasswordHash

from promptlooper.errors import NotAuthenticated, TooManyRequests

_hasher = PasswordHash.recommended()
API_KEY_PREFIX = "pl_"
JWT_ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    """Argon2 hash of a password."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """True when the password matches the hash."""
    try:
        return _hasher.verify(password, password_hash)
    except Exception:  # a corrupt hash is a failed login, not a crash
        return False


def new_api_key() -> str:
    """A fresh API key: `pl_` + 43 url-safe characters (256 bits)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """SHA-256 hex of an API key (the key has 256 bits of entropy, so a fast hash is safe)."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_access_token(user_id: uuid.UUID, secret: str, expire_minutes: int) -> str:
    """A signed JWT naming the user."""
    now = datetime.now(UTC)
    payload = {"sub": str(user_id), "iat": now, "exp": now + timedelta(minutes=expire_minutes), "typ": "access"}
    return jwt.encode(payload, secret, algorithm=JWT_ALGORITHM)


def decode_access_token(token: str, secret: str) -> uuid.UUID:
    """The user id of a valid JWT; NotAuthenticated otherwise."""
    try:
        payload = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub"]})
        return uuid.UUID(str(payload["sub"]))
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("Your session has expired; log in again.", code="token_expired") from exc
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise NotAuthenticated("The bearer token is not valid.", code="invalid_token") from exc


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (by JWT or API key), the static API key, or an anonymous guest."""

    user_id: uuid.UUID | None
    username: str
    is_admin: bool
    via: Literal["jwt", "api_key", "static_key", "guest"]

    @property
    def role(self) -> Literal["admin", "guest"]:
        """Admins write; everyone else reads."""
        return "admin" if self.is_admin else "guest"

    @property
    def can_write(self) -> bool:
        """Writes need an authenticated admin."""
        return self.is_admin and self.via != "guest"


GUEST = Principal(user_id=None, username="guest", is_admin=False, via="guest")


class LoginThrottle:
    """Counts failed logins per client and answers 429 once a client fails too often."""

    def __init__(self, max_failures: int, window_s: int) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures[client]
        while failures and now - failures[0] > self.window_s:
            failures.popleft()
        return failures

    def check(self, client: str) -> None:
        """Raise TooManyRequests while the client is locked out."""
        now = time.monotonic()
        failures = self._recent(client, now)
        if len(failures) >= self.max_failures:
            retry_after = max(1, int(self.window_s - (now - failures[0])))
            raise TooManyRequests(
                f"Too many failed logins; try again in {retry_after} seconds.",
                code="too_many_login_attempts",
                extra={"retry_after": retry_after},
            )

    def failed(self, client: str) -> None:
        """Record a failed login."""
        self._recent(client, time.monotonic()).append(time.monotonic())

    def succeeded(self, client: str) -> None:
        """Forget a client's failures after a good login."""
        self._failures.pop(client, None)
