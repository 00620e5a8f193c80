"""`promptlooper serve` also serves MCP on MCP_PORT from the same process (single-container mode)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2

from tests.support.environment import ADMIN, bearer
from tests.support.mcp_client import http_session
from tests.support.server import free_port, running_server


def test_serve_exposes_mcp_with_the_api_data(tmp_path: Path) -> None:
    mcp_port = free_port()
    env = {"DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": "", "MCP_ENABLED": "true", "MCP_PORT": str(mcp_port)}
    with running_server(env, tmp_path / "server.log") as server:
        token = httpx2.post(server.url + "/api/v1/auth/setup", json=ADMIN).json()["access_token"]
        key = httpx2.post(server.url + "/api/v1/admin/api-keys", json={"name": "agent"}, headers=bearer(token)).json()["key"]
        url = f"http://127.0.0.1:{mcp_port}/mcp"
        assert httpx2.post(url, json={}).status_code == 401

        async def agent() -> tuple[set[str], str]:
            async with http_session(url, key) as session:
                tools = {t.name for t in (await session.list_tools()).tools}
                created = await session.call_tool("create_project", {"name": "from-agent"})
                return tools, str(created.content[0].text)  # type: ignore[union-attr]

        tools, created = asyncio.run(agent())
        assert {"create_project", "run_sweep", "export_best_config"} <= tools and "from-agent" in created
        projects = httpx2.get(server.url + "/api/v1/projects", headers=bearer(key)).json()["items"]
        assert [p["name"] for p in projects] == ["from-agent"], "MCP and REST share one database and process"
