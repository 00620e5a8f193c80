"""The one Settings object: every environment variable PromptLooper reads is declared here."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values shipped in .env.example and docs; production refuses to start with any of them.
DEFAULT_SECRET_VALUES = frozenset({"", "change-me", "changeme", "secret", "promptlooper"})


class ConfigError(RuntimeError):
    """The configuration cannot be used (e.g. production mode with a default secret)."""


class Settings(BaseSettings):
    """Runtime configuration from the environment (and `.env` when present)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Database and queue
    database_url: str | None = Field(default=None, description="PostgreSQL URL; unset means SQLite")
    redis_url: str | None = Field(
        default=None, description="Redis URL; set: runs go to Celery workers and events cross processes over pub/sub"
    )
    # Workers (production mode)
    worker_concurrency: int = Field(default=16, ge=1, description="Runs one `promptlooper worker` executes at once")
    worker_pool: Literal["threads", "prefork", "solo"] = "threads"
    run_lease_s: float = Field(
        default=15.0, gt=0, description="A run whose worker stops renewing its lease this long is handed to another"
    )
    run_time_limit_s: int = Field(default=3600, ge=10, description="Hard limit on one run task")
    stop_poll_s: float = Field(
        default=0.5, gt=0, description="How often a worker checks whether its in-flight runs' sweeps were stopped"
    )
    # Server
    host: str = "0.0.0.0"
    port: int = 8400
    # Auth
    jwt_secret: SecretStr | None = None
    encryption_key: SecretStr | None = Field(default=None, description="Fernet key for endpoint secrets")
    api_key: SecretStr | None = Field(default=None, description="Static admin API key")
    jwt_expire_minutes: int = 60 * 24
    login_max_failures: int = Field(default=5, ge=1, description="Failed logins of one account before it locks")
    login_max_failures_per_client: int = Field(
        default=50, ge=1, description="Failed logins from one client address (all accounts) before it is refused")
    login_lockout_seconds: int = Field(default=300, ge=1, description="The counting window and lockout, seconds")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Proxy addresses or CIDRs whose X-Forwarded-For names the client (Docker nginx: 172.33.0.0/24)")
    # Defaults
    default_endpoint_url: str | None = None
    default_endpoint_key: SecretStr | None = None
    # Limits
    max_concurrent_runs: int = Field(default=4, ge=1)
    max_tokens_per_sweep: int = Field(default=0, ge=0)
    strategy_modules: str = Field(
        default="", description="Comma-separated modules that register extra sweep strategies (services/strategies.py)"
    )
    max_body_bytes: int = 10 * 1024 * 1024
    max_sweep_runs: int = Field(
        default=100_000, ge=1, description="Most configurations one sweep or estimate may hold (counted first)"
    )
    llm_timeout_s: float = 120.0
    llm_max_retries: int = 4
    # Storage
    data_dir: Path = Path("./data")
    dashboard_dir: Path | None = Field(
        default=None, description="The built dashboard to serve at /; default: frontend/dist beside the package"
    )
    # MCP
    mcp_enabled: bool = True
    mcp_port: int = 8401
    mcp_allowed_hosts: list[str] = Field(
        default_factory=list, description="Host headers MCP accepts (DNS-rebinding protection); empty = any"
    )
    mcp_allowed_origins: list[str] = Field(default_factory=list, description="Origins MCP accepts; empty = any")
    # Operations
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="One webhook POST's timeout")
    webhook_backoff_s: float = Field(
        default=30.0, gt=0, description="Delay before a webhook's first retry; doubles each time (capped at 1 h)"
    )
    webhook_max_attempts: int = Field(default=8, ge=1, description="Tries per webhook delivery before giving up")
    webhook_poll_s: float = Field(default=5.0, gt=0, description="How often a sender looks for due deliveries")
    auto_migrate: bool = True
    log_level: str = "INFO"
    cors_origins: list[str] = Field(
        default_factory=list,
        description='Origins allowed to call the API from a browser; "*" allows any, without credentials',
    )
    ws_recheck_s: float = Field(
        default=5.0, gt=0, description="How often an open WebSocket re-checks its token, key or guest access"
    )

    @property
    def production(self) -> bool:
        """Production mode: an external database is configured."""
        return bool(self.database_url)

    @property
    def sqlalchemy_url(self) -> str:
        """Async SQLAlchemy URL for the configured database."""
        if not self.database_url:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'promptlooper.db').resolve()}"
        url = self.database_url
        for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://", "postgresql+psycopg://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        return url

    @property
    def is_sqlite(self) -> bool:
        """True when the database is SQLite."""
        return self.sqlalchemy_url.startswith("sqlite")

    @cached_property
    def secrets(self) -> AppSecrets:
        """The JWT and encryption secrets, generated and persisted in DATA_DIR when not given."""
        return resolve_secrets(self)


@dataclass(frozen=True)
class AppSecrets:
    """Secrets in use by this process."""

    jwt_secret: str
    fernet: Fernet


def _read_or_create(path: Path, make: str) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(make)
    return make


def resolve_secrets(settings: Settings) -> AppSecrets:
    """Use given secrets; outside production, generate missing ones once and keep them in DATA_DIR."""
    given_jwt = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    given_key = settings.encryption_key.get_secret_value() if settings.encryption_key else None
    if settings.production:
        for name, value in (("JWT_SECRET", given_jwt), ("ENCRYPTION_KEY", given_key)):
            if value is None or value.strip().lower() in DEFAULT_SECRET_VALUES:
                raise ConfigError(
                    f"{name} must be set to a strong secret in production mode (DATABASE_URL is set)."
                )
    jwt_secret = given_jwt or _read_or_create(settings.data_dir / ".jwt_secret", secrets.token_urlsafe(48))
    key = given_key or _read_or_create(settings.data_dir / ".encryption_key", Fernet.generate_key().decode())
    try:
        fernet = Fernet(key.encode())
    except ValueError as exc:
        raise ConfigError(
            "ENCRYPTION_KEY must be a Fernet key (32 url-safe base64-encoded bytes); "
            'generate one with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"'
        ) from exc
    return AppSecrets(jwt_secret=jwt_secret, fernet=fernet)
