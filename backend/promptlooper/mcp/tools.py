"""MCP tools for the setup half: projects, endpoints, experiments, models; and the tool registry."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from mcp.server.mcpserver.tools import Tool
from mcp_types import ToolAnnotations
from pydantic import BaseModel

from promptlooper.mcp.common import ToolContext, dump, given, parse, principal_of, reported, state_of, unit_of_work
from promptlooper.schemas import EndpointCreate, EndpointUpdate, ExperimentCreate, ProjectCreate
from promptlooper.services import endpoints as endpoint_service
from promptlooper.services import experiments as experiment_service
from promptlooper.services import projects as project_service
from promptlooper.services.endpoint_models import models_by_endpoint


async def list_projects(ctx: ToolContext, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """List projects, newest first.

    Pass optional `limit` (1-500) and `offset`. Returns `{"items": [project...], "total", "limit", "offset"}`
    where each project has `id`, `name`, `description`, `experiment_count`.
    Next: `list_experiments(project_id=...)`, or `create_project` when none fits.
    """
    async with unit_of_work(ctx) as work:
        return dump(await project_service.list_projects(work.session, max(1, min(limit, 500)), max(0, offset)))


async def create_project(ctx: ToolContext, name: str, description: str | None = None,
                         notes: str | None = None) -> dict[str, Any]:
    """Create a project workspace (the container of experiments).

    Pass `name` (required), optional `description` and `notes`. Returns the project with its `id`.
    Next: `configure_endpoint` (if no LLM endpoint exists yet), then `create_experiment(project_id=id, ...)`.
    """
    body = parse(ProjectCreate, given(name=name, description=description, notes=notes))
    async with unit_of_work(ctx, write=True) as work:
        return dump(await project_service.create_project(work.session, work.principal, body))


async def list_experiments(ctx: ToolContext, project_id: uuid.UUID | None = None,
                           status: Literal["draft", "running", "paused", "completed"] | None = None,
                           limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """List experiments, newest first, optionally of one project and/or in one status.

    Returns `{"items": [{id, project_id, name, status, run_count, best_score, ...}], "total", "limit", "offset"}`.
    Next: `get_experiment_status(experiment_id)` or `get_leaderboard(experiment_id)`.
    """
    async with unit_of_work(ctx) as work:
        page = await experiment_service.list_experiments(
            work.session, project_id, status, max(1, min(limit, 500)), max(0, offset))
        return dump(page)


async def create_experiment(
    ctx: ToolContext,
    project_id: str,
    name: str,
    pipeline_stages: list[dict[str, Any]],
    description: str | None = None,
    sample_data: list[dict[str, Any]] | None = None,
    scoring_config: list[dict[str, Any]] | None = None,
    parameter_space: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Define an experiment: samples, pipeline stages, scorers and the parameter space to sweep.

    The document is the same as `POST /api/v1/experiments`:
    - `sample_data`: `[{"id": "s1", "input": "...", "reference": "optional", "vars": {...}}]`
    - `pipeline_stages`: `[{"name": "answer", "endpoint_id": "<uuid from configure_endpoint>", "model": "m1",
      "system_prompt": "...", "prompt_template": "Answer: {{ input }}", "params": {"temperature": 0.2}}]`
      (Jinja2 templates may use `input`, `reference`, `vars.*`, `previous`, `stages.<name>.output`;
      an undefined name is rejected now)
    - `scoring_config`: `[{"scorer": "keyword", "weight": 1.0, "config": {"keywords": ["x"], "mode": "any"}}]`
      (scorers: keyword, length, format, embedding_similarity, llm_judge, python, webhook, human_rating)
    - `parameter_space`: `{"model": ["m1", "m2"], "temperature": [0.1, 0.5]}` or ranges
      `{"temperature": {"min": 0.1, "max": 0.9, "step": 0.2}}`; keys `stages.<name>.<field>` and `vars.<name>`.
    Returns the stored experiment with `id`, `status: "draft"` and `grid_size`.
    Next: `run_sweep(experiment_id=id)` (or `run_single` to try one configuration first).
    """
    body = parse(ExperimentCreate, given(
        project_id=project_id, name=name, description=description, sample_data=sample_data,
        pipeline_stages=pipeline_stages, scoring_config=scoring_config, parameter_space=parameter_space))
    async with unit_of_work(ctx, write=True) as work:
        return dump(await experiment_service.create_experiment(work.session, body, work.app))


async def configure_endpoint(
    ctx: ToolContext,
    endpoint_id: uuid.UUID | None = None,
    label: str | None = None,
    url: str | None = None,
    api_key: str | None = None,
    max_concurrency: int | None = None,
    pricing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Add an OpenAI-compatible LLM endpoint, or update one when `endpoint_id` is given.

    Create: pass `label` and `url` (the base that `/chat/completions` and `/models` hang from, e.g.
    `http://host:8000/v1`), optional `api_key`, `max_concurrency` (default 8) and `pricing`
    (`{"model": {"input_per_1m": 0.5, "output_per_1m": 1.5}}`). Update: pass `endpoint_id` and only the
    fields to change (`api_key: ""` removes the key). Returns the endpoint (never its key): `id`, `label`,
    `url`, `has_api_key`, `max_concurrency`, `pricing`.
    Next: `list_models` to see what it serves, then use its `id` as a stage's `endpoint_id`.
    """
    fields = given(label=label, url=url, api_key=api_key, max_concurrency=max_concurrency, pricing=pricing)
    if endpoint_id is None:
        create = parse(EndpointCreate, fields)
        async with unit_of_work(ctx, write=True) as work:
            return dump(await endpoint_service.create_endpoint(work.session, work.app, create))
    update = parse(EndpointUpdate, fields)
    async with unit_of_work(ctx, write=True) as work:
        return dump(await endpoint_service.update_endpoint(work.session, work.app, endpoint_id, update))


async def list_models(ctx: ToolContext) -> dict[str, Any]:
    """List the models every configured endpoint serves (calls each endpoint's `/models`).

    Takes no arguments. Returns `{"endpoints": [{"endpoint_id", "label", "url", "ok", "models", "latency_ms",
    "error"}], "models": [every model name]}`; an unreachable endpoint has `ok: false` and a readable `error`.
    Next: use a model name in `create_experiment` (`pipeline_stages[].model` or `parameter_space.model`).
    """
    principal_of(ctx)
    return await models_by_endpoint(state_of(ctx).app)


def _schema(model: type[BaseModel], *, extra: dict[str, Any] | None = None, required: list[str] | None = None,
            optional: bool = False) -> dict[str, Any]:
    """A REST body's JSON schema published as a tool's input schema, with tool-only arguments added."""
    schema = model.model_json_schema()
    schema["properties"] = {**(extra or {}), **schema.get("properties", {})}
    wanted = [] if optional else list(schema.get("required", []))
    schema["required"] = [*(required or []), *wanted]
    if not schema["required"]:
        schema.pop("required")
    schema.pop("additionalProperties", None)
    schema.pop("title", None)
    schema.pop("description", None)
    return schema


READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
CALLS_LLM = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)
READ_REMOTE = ToolAnnotations(read_only_hint=True, open_world_hint=True)


def setup_tools() -> list[Tool]:
    """The tools that define work: projects, experiments, endpoints and models."""
    uuid_prop = {"type": "string", "format": "uuid"}
    tools = [
        Tool.from_function(reported(list_projects), annotations=READ),
        Tool.from_function(reported(create_project), annotations=WRITE),
        Tool.from_function(reported(list_experiments), annotations=READ),
        Tool.from_function(reported(create_experiment), annotations=WRITE),
        Tool.from_function(reported(configure_endpoint), annotations=WRITE),
        Tool.from_function(reported(list_models), annotations=READ_REMOTE),
    ]
    schemas = {
        "create_project": _schema(ProjectCreate),
        "create_experiment": _schema(ExperimentCreate),
        "configure_endpoint": _schema(EndpointCreate, optional=True, extra={
            "endpoint_id": uuid_prop | {"description": "Update this endpoint instead of creating one"}}),
    }
    for tool in tools:
        if tool.name in schemas:
            tool.parameters = schemas[tool.name]
    return tools
