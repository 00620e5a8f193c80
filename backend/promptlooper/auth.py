"""Passwords (pwdlib/argon2), JWTs (PyJWT), API keys (stored as SHA-256) and login throttling."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
import secrets
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import jwt
from pwdlib import PasswordHash

from promptlooper.errors import NotAuthenticated, ServiceUnavailable, TooManyRequests
from promptlooper.offload import run_hash

if TYPE_CHECKING:
    from promptlooper.config import Settings

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


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


async def hash_password_async(password: str) -> str:
    """Argon2 hash of a password, computed on the bounded hashing pool (never on the event loop)."""
    return await run_hash(hash_password, password)


async def verify_password_async(password: str, password_hash: str | None) -> bool:
    """Check a password on the bounded hashing pool; None (unknown user) checks a dummy hash, so it takes as long."""
    if password_hash is None:
        await run_hash(_verify_dummy, password)
        return False
    return await run_hash(verify_password, password, password_hash)


def _verify_dummy(password: str) -> bool:
    verify_password(password, _dummy_hash())
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


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[str]) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy (then X-Forwarded-For, read right to left).

    Only addresses in `trusted` (IPs or CIDRs, Settings.trusted_proxies, empty by default) may speak
    for someone else; the rightmost forwarded address that is not itself a trusted proxy is the client.
    """
    address = peer or "unknown"
    networks = _networks(tuple(trusted))
    if not networks or not forwarded_for or not _is_trusted(address, networks):
        return address
    for hop in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        if not _is_trusted(hop, networks):
            return hop[:64]
        address = hop
    return address


@functools.lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in trusted if item.strip())


def _is_trusted(address: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


class LoginThrottle(ABC):
    """Login attempts counted per account and per client, BEFORE the password is checked.

    Following OWASP's authentication cheat sheet: an account locks for `window_s` after
    `account_limit` failed attempts (a good password then waits too, but only that long, and a
    good login resets the count); a client address may fail `client_limit` times per window across
    all accounts (higher, because many users can share one address behind a proxy). Counting first
    means parallel guesses cannot all be checked before the first failure is recorded. Unknown
    accounts are counted like known ones.
    """

    def __init__(self, account_limit: int, client_limit: int, window_s: int) -> None:
        self.account_limit = account_limit
        self.client_limit = client_limit
        self.window_s = window_s

    @staticmethod
    def account_key(username: str) -> str:
        """A bounded key for an account name (hashed: a username may be long or odd)."""
        return hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    async def attempt(self, username: str, client: str) -> None:
        """Count one attempt; raise TooManyRequests (429) when the account or the client is over its limit."""
        (account_count, account_ttl), (client_count, client_ttl) = await self._count(
            self.account_key(username), client[:64])
        if account_count > self.account_limit or client_count > self.client_limit:
            over = [ttl for count, limit, ttl in ((account_count, self.account_limit, account_ttl),
                                                  (client_count, self.client_limit, client_ttl)) if count > limit]
            retry_after = max(1, math.ceil(max(over)))
            raise TooManyRequests(
                f"Too many failed logins; try again in {retry_after} seconds.",
                code="too_many_login_attempts",
                extra={"retry_after": retry_after},
            )

    async def succeeded(self, username: str, client: str) -> None:
        """A good login: the account's count starts over and this attempt no longer counts against the client."""
        await self._forget(self.account_key(username), client[:64])

    @abstractmethod
    async def _count(self, account: str, client: str) -> tuple[tuple[int, float], tuple[int, float]]:
        """Add one to both counters; answer (count, seconds left in the window) for each."""

    @abstractmethod
    async def _forget(self, account: str, client: str) -> None:
        """Drop the account's counter and take one off the client's."""

    async def aclose(self) -> None:
        """Release connections (the Redis throttle)."""
        return None


class MemoryLoginThrottle(LoginThrottle):
    """The throttle of one process (no Redis): fixed windows in a dict, pruned as it grows."""

    def __init__(self, account_limit: int, client_limit: int, window_s: int) -> None:
        super().__init__(account_limit, client_limit, window_s)
        self._counters: dict[str, list[float]] = {}  # key -> [count, window end (monotonic)]

    def _bump(self, key: str, now: float) -> tuple[int, float]:
        counter = self._counters.get(key)
        if counter is None or counter[1] <= now:
            if len(self._counters) > 100_000:
                self._counters = {k: v for k, v in self._counters.items() if v[1] > now}
            counter = self._counters[key] = [0, now + self.window_s]
        counter[0] += 1
        return int(counter[0]), counter[1] - now

    async def _count(self, account: str, client: str) -> tuple[tuple[int, float], tuple[int, float]]:
        now = time.monotonic()
        return self._bump("a:" + account, now), self._bump("c:" + client, now)

    async def _forget(self, account: str, client: str) -> None:
        self._counters.pop("a:" + account, None)
        counter = self._counters.get("c:" + client)
        if counter is not None and counter[0] > 0:
            counter[0] -= 1


# KEYS: account, client; ARGV: window in ms. INCR both, start a window on the first, answer counts and TTLs.
_COUNT = """
local out = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[1])
    ttl = tonumber(ARGV[1])
  end
  out[#out + 1] = count
  out[#out + 1] = ttl
end
return out
"""
_FORGET = """
redis.call('DEL', KEYS[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
return 1
"""


class RedisLoginThrottle(LoginThrottle):
    """The throttle in production (REDIS_URL set): every API process shares the counters (one Lua script)."""

    PREFIX = "pl:login:"

    def __init__(self, redis_url: str, account_limit: int, client_limit: int, window_s: int) -> None:
        super().__init__(account_limit, client_limit, window_s)
        self.redis_url = redis_url
        self._redis: Any = None
        self._scripts: tuple[Any, Any] | None = None

    def _client(self) -> tuple[Any, Any]:
        if self._scripts is None:
            from promptlooper.queue.coordination import COMMAND_TIMEOUT_S, redis_client

            self._redis = redis_client(self.redis_url, command_timeout_s=COMMAND_TIMEOUT_S)
            self._scripts = (self._redis.register_script(_COUNT), self._redis.register_script(_FORGET))
        return self._scripts

    async def _count(self, account: str, client: str) -> tuple[tuple[int, float], tuple[int, float]]:
        count, _ = self._client()
        try:
            a, a_ttl, c, c_ttl = await count(keys=[self.PREFIX + "a:" + account, self.PREFIX + "c:" + client],
                                             args=[self.window_s * 1000])
        except Exception as exc:  # Redis down: no way to count, so no way to check safely
            raise ServiceUnavailable("Login is unavailable while Redis is unreachable; try again shortly.",
                                     code="redis_unavailable") from exc
        return (int(a), int(a_ttl) / 1000), (int(c), int(c_ttl) / 1000)

    async def _forget(self, account: str, client: str) -> None:
        _, forget = self._client()
        try:
            await forget(keys=[self.PREFIX + "a:" + account, self.PREFIX + "c:" + client])
        except Exception:  # the login itself succeeded; a stale count only expires later
            return

    async def aclose(self) -> None:
        """Close the Redis pool."""
        if self._redis is not None:
            await self._redis.aclose()
            self._redis, self._scripts = None, None


def build_throttle(settings: Settings) -> LoginThrottle:
    """The Redis throttle in production mode (REDIS_URL), else the in-process one."""
    limits = (settings.login_max_failures, settings.login_max_failures_per_client, settings.login_lockout_seconds)
    if settings.redis_url:
        return RedisLoginThrottle(settings.redis_url, *limits)
    return MemoryLoginThrottle(*limits)
