"""Streamable HTTP serving of the MCP server at /mcp, inside the API process or on its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Generator
from dataclasses import dataclass

import uvicorn
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette

from promptlooper.config import ConfigError, Settings
from promptlooper.context import AppContext
from promptlooper.mcp.server import build_mcp_server

log = logging.getLogger("promptlooper.mcp")
MCP_PATH = "/mcp"


def transport_security(allowed_hosts: list[str] | None = None,
                       allowed_origins: list[str] | None = None) -> TransportSecuritySettings:
    """Host/Origin checks: off unless hosts are listed (every request already needs a bearer token)."""
    if not allowed_hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=list(allowed_hosts),
                                     allowed_origins=list(allowed_origins or []))


def build_http_app(ctx: AppContext, *, public_url: str | None = None, allowed_hosts: list[str] | None = None,
                   allowed_origins: list[str] | None = None) -> Starlette:
    """The Starlette app serving MCP over streamable HTTP at /mcp, sharing `ctx` with the API."""
    url = public_url or f"http://localhost:{ctx.settings.mcp_port}"
    server = build_mcp_server(lambda: ctx, public_url=url)
    return server.streamable_http_app(streamable_http_path=MCP_PATH,
                                      transport_security=transport_security(allowed_hosts, allowed_origins))


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the process that hosts it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Do not install signal handlers: the API server owns them and stops this one from its lifespan."""
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


@dataclass
class MCPHttpHandle:
    """A running MCP HTTP server: its URL, and `await handle.stop()` to shut it down."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    sock: socket.socket
    url: str

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        return int(self.sock.getsockname()[1])

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving: finish in-flight requests, then close the socket."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout=timeout_s)
        except TimeoutError:
            self.server.force_exit = True
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        except Exception:  # a crashed server is already stopped
            log.exception("the MCP HTTP server failed")
        finally:
            self.sock.close()


async def start_mcp_http(ctx: AppContext, host: str | None = None, port: int | None = None, *,
                         allowed_hosts: list[str] | None = None, allowed_origins: list[str] | None = None,
                         public_url: str | None = None) -> MCPHttpHandle:
    """Serve MCP at http://HOST:MCP_PORT/mcp in this event loop (raises OSError when the port is taken).

    Signals are left to the host (the API server stops this one from its lifespan with `await handle.stop()`).
    """
    host = host or ctx.settings.host
    port = ctx.settings.mcp_port if port is None else port
    app = build_http_app(ctx, public_url=public_url, allowed_hosts=allowed_hosts, allowed_origins=allowed_origins)
    sock = _bind(host, port)
    config = uvicorn.Config(app, log_level=ctx.settings.log_level.lower(), access_log=False, lifespan="on",
                            timeout_graceful_shutdown=5)
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="mcp-http")
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    handle = MCPHttpHandle(server=server, task=task, sock=sock, url="")
    handle.url = f"http://{shown}:{handle.port}{MCP_PATH}"
    while not server.started:
        if task.done():
            sock.close()
            task.result()
            raise RuntimeError("the MCP HTTP server stopped while starting")
        await asyncio.sleep(0.01)
    log.info("MCP server listening on %s", handle.url)
    return handle


async def serve_mcp_http(ctx: AppContext, host: str | None = None, port: int | None = None, *,
                         handle_signals: bool = False) -> None:
    """Serve MCP over HTTP until cancelled (or, with `handle_signals`, until SIGINT/SIGTERM)."""
    handle = await start_mcp_http(ctx, host, port)
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, setattr, handle.server, "should_exit", True)
    try:
        await asyncio.shield(handle.task)
    finally:
        await handle.stop()


def run_http(host: str | None = None, port: int | None = None, settings: Settings | None = None) -> int:
    """`promptlooper mcp` without --stdio: a standalone MCP HTTP server with its own runtime; answers the exit code.

    Sweeps left running by a crash are not resumed here: that stays the API server's job.
    """
    from promptlooper.mcp.bootstrap import open_app

    async def _serve() -> None:
        async with open_app(settings) as ctx:
            await serve_mcp_http(ctx, host, port, handle_signals=True)

    try:
        asyncio.run(_serve())
    except (ConfigError, OSError) as exc:
        print(f"promptlooper mcp: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0
