"""`promptlooper mcp --stdio` (or `python -m promptlooper.mcp.stdio`): the MCP server over stdin/stdout."""

from __future__ import annotations

import logging
import os
import sys

import anyio

from promptlooper.auth import Principal
from promptlooper.config import ConfigError, Settings
from promptlooper.context import AppContext
from promptlooper.db import session_scope
from promptlooper.deps import resolve_principal
from promptlooper.errors import AppError
from promptlooper.mcp.bootstrap import open_app
from promptlooper.mcp.server import build_mcp_server

KEY_ENV = "PROMPTLOOPER_API_KEY"


class StdioAuthError(Exception):
    """The stdio server cannot start: no key, or a key the database refuses."""


def api_key_from_env(settings: Settings) -> str | None:
    """PROMPTLOOPER_API_KEY, else the static API_KEY."""
    key = os.environ.get(KEY_ENV, "").strip()
    if key:
        return key
    return settings.api_key.get_secret_value() if settings.api_key else None


async def check_key(ctx: AppContext, key: str | None) -> Principal:
    """The principal of the key, checked once at start."""
    if not key:
        raise StdioAuthError(f"No API key: set {KEY_ENV} (or API_KEY) to an API key `pl_...` created in the "
                             "admin settings (POST /api/v1/admin/api-keys).")
    try:
        async with session_scope(ctx.sessionmaker) as session:
            principal = await resolve_principal(session, ctx, key)
    except AppError as exc:
        raise StdioAuthError(f"The API key in {KEY_ENV} was refused: {exc.detail}") from exc
    if principal is None:  # pragma: no cover - resolve_principal answers None only for an empty key
        raise StdioAuthError(f"The API key in {KEY_ENV} was refused.")
    return principal


async def serve_stdio(settings: Settings | None = None, key: str | None = None) -> None:
    """Check the key, then serve MCP on stdin/stdout until the client closes the pipe."""
    settings = settings or Settings()
    key = key if key is not None else api_key_from_env(settings)
    async with open_app(settings) as ctx:
        principal = await check_key(ctx, key)
        server = build_mcp_server(lambda: ctx, principal=principal)
        await server.run_stdio_async()


def run_stdio(settings: Settings | None = None, key: str | None = None) -> int:
    """Run the stdio server; answers the process exit code (2 with a message on stderr when refused)."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        anyio.run(serve_stdio, settings, key)
    except (StdioAuthError, ConfigError) as exc:
        print(f"promptlooper mcp: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(run_stdio())
