"""The PromptLooper MCP server: one MCPServer with the tools, resources and bearer-token auth."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from pydantic import AnyHttpUrl
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper import __version__
from promptlooper.auth import Principal
from promptlooper.context import AppContext
from promptlooper.db import session_scope
from promptlooper.deps import resolve_principal
from promptlooper.errors import AppError
from promptlooper.mcp.common import MCPState, ToolContext, principal_of, principal_token, resource_text
from promptlooper.mcp.tools import setup_tools
from promptlooper.mcp.tools_runs import run_tools
from promptlooper.mcp.tools_search import search_tools
from promptlooper.mcp.tools_steering import steering_tools
from promptlooper.mcp.tools_webhooks import webhook_tools
from promptlooper.services import exports as export_service

log = logging.getLogger("promptlooper.mcp")

CtxProvider = Callable[[], AppContext]

INSTRUCTIONS = """\
PromptLooper sweeps prompt x model x parameter combinations against OpenAI-compatible LLM endpoints,
caches every response, scores every output and ranks the configurations.

Typical flow:
1. list_projects / create_project -> project id.
2. list_models (what the configured endpoints serve); configure_endpoint to add one (url = OpenAI base,
   e.g. http://host:8000/v1) -> endpoint id.
3. create_experiment(project_id, name, sample_data, pipeline_stages, scoring_config, parameter_space)
   -> experiment id. Stages use Jinja2 templates ({{ input }}, {{ previous }}, {{ vars.x }}).
4. run_sweep(experiment_id) returns at once with sweep_id and total_runs (or pass wait=true to block with
   progress notifications). Poll get_experiment_status until status is "completed".
5. get_leaderboard -> best configurations; get_run_detail / compare_runs to read outputs.
6. export_best_config(experiment_id, format="env"|"json"|"yaml"|"report").
Steer with pause_sweep / resume_sweep / stop_sweep; rate outputs with add_human_score; ask a person with
request_human_review. fork_experiment starts a new experiment from a run (unchanged calls are cache hits);
redirect_sweep changes a running or paused sweep's parameter space (done runs are kept, never re-paid);
approve_run saves a configuration to the project (exports then serve it), reject_run excludes one;
list_saved_configs, list_exports and set_project_notes are the project's memory.
(request_human_review notifies `human_needed` webhooks.) Webhooks: create_webhook (answers its signing
secret once), list_webhooks, list_webhook_deliveries, test_webhook, rotate_webhook_secret.
Resources: promptlooper://experiments/{id}/report (markdown) and .../best (JSON).
Errors come back as tool errors with the same sentence the REST API gives; fix the input and retry.
Guests (non-admin accounts) are read-only."""


class PrincipalTokenVerifier:
    """Checks a bearer token (JWT, `pl_` API key or static API_KEY) exactly as the REST API does."""

    def __init__(self, ctx_provider: CtxProvider) -> None:
        self.ctx_provider = ctx_provider

    async def verify_token(self, token: str) -> AccessToken | None:
        """The access token for a valid credential; None (so HTTP 401) for a missing or bad one."""
        ctx = self.ctx_provider()
        try:
            async with session_scope(ctx.sessionmaker) as session:
                principal = await resolve_principal(session, ctx, token)
        except AppError as exc:
            log.info("MCP request refused: %s", exc.detail)
            return None
        return None if principal is None else principal_token(principal)


def _lifespan(ctx_provider: CtxProvider, principal: Principal | None) -> Any:
    @asynccontextmanager
    async def lifespan(_: MCPServer[MCPState]) -> AsyncIterator[MCPState]:
        yield MCPState(app=ctx_provider(), principal=principal)

    return lifespan


def _register_resources(server: MCPServer[MCPState]) -> None:
    @server.resource("promptlooper://experiments/{experiment_id}/report", name="experiment_report",
                     mime_type="text/markdown",
                     description="Markdown report of an experiment: the winner, the leaderboard, counts and cost.")
    async def experiment_report(experiment_id: str, ctx: ToolContext) -> str:
        async def read(session: AsyncSession) -> str:
            return await export_service.report_markdown(session, _uuid(experiment_id), principal=principal_of(ctx))

        return str(await resource_text(ctx, read))

    @server.resource("promptlooper://experiments/{experiment_id}/best", name="experiment_best_config",
                     mime_type="application/json",
                     description="The best configuration of an experiment as JSON (model, endpoint, params, prompts).")
    async def experiment_best(experiment_id: str, ctx: ToolContext) -> str:
        async def read(session: AsyncSession) -> str:
            data = await export_service.best_json(session, _uuid(experiment_id), principal=principal_of(ctx))
            return json.dumps(data, indent=2)

        return str(await resource_text(ctx, read))


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise AppError(f"{value!r} is not a valid experiment id (a UUID).", code="invalid_id") from exc


def build_mcp_server(ctx_provider: CtxProvider, *, principal: Principal | None = None,
                     public_url: str = "http://localhost:8401") -> MCPServer[MCPState]:
    """The MCP server; with `principal` (stdio) the caller is fixed, else every HTTP request needs a bearer token."""
    auth: dict[str, Any] = {}
    if principal is None:
        auth = {
            "token_verifier": PrincipalTokenVerifier(ctx_provider),
            # The SDK needs an issuer URL; no OAuth route is served, tokens are PromptLooper's own.
            "auth": AuthSettings(issuer_url=AnyHttpUrl(public_url), resource_server_url=None),
        }
    server: MCPServer[MCPState] = MCPServer(
        "PromptLooper",
        title="PromptLooper",
        description="Self-hosted LLM prompt-sweep workbench: experiments, sweeps, scores, leaderboards.",
        instructions=INSTRUCTIONS,
        version=__version__,
        tools=[*setup_tools(), *run_tools(), *steering_tools(), *webhook_tools(), *search_tools()],
        lifespan=_lifespan(ctx_provider, principal),
        log_level="WARNING",
        **auth,
    )
    _register_resources(server)
    return server
