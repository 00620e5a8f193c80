"""MCP SDK client sessions for tests: streamable HTTP with a bearer token, or stdio with a subprocess."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent


@asynccontextmanager
async def http_session(url: str, token: str) -> AsyncIterator[ClientSession]:
    """An initialized SDK client session over streamable HTTP with a bearer token."""
    timeout = httpx2.Timeout(30.0, read=120.0)
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=timeout) as client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


@asynccontextmanager
async def stdio_session(env: dict[str, str], cwd: Path) -> AsyncIterator[ClientSession]:
    """An initialized SDK client session with `python -m promptlooper.mcp.stdio` as a subprocess."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "promptlooper.mcp.stdio"], env=env, cwd=cwd)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def tool_text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def call(session: ClientSession, tool: str, /, **arguments: Any) -> Any:
    """Call a tool that must succeed; answers its JSON (or text) result."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, f"{tool} failed: {tool_text(result)}"
    structured = result.structured_content or {}
    if set(structured) == {"result"}:
        return structured["result"]
    return structured or json.loads(tool_text(result))
