"""MCP tools for steering and project memory: fork, approve, reject, saved configurations, exports, notes."""

from __future__ import annotations

import uuid
from typing import Any

from mcp.server.mcpserver.tools import Tool
from mcp_types import ToolAnnotations

from promptlooper.mcp.common import ToolContext, dump, given, parse, reported, unit_of_work
from promptlooper.mcp.tools import READ, WRITE, _schema
from promptlooper.schemas import ApproveIn, ForkCreate, ProjectUpdate, RedirectIn
from promptlooper.services import projects as project_service
from promptlooper.services import results as results_service
from promptlooper.services import steering as steering_service
from promptlooper.services import sweeps as sweep_service


async def fork_experiment(ctx: ToolContext, experiment_id: uuid.UUID, name: str, run_id: uuid.UUID | None = None,
                          parameter_space: dict[str, Any] | None = None,
                          changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fork an experiment from one of its runs (default: the best run) into a new draft experiment.

    The fork's stages are the run's resolved stages (endpoint, model, prompts, params; its template vars
    pinned in the parameter space). `parameter_space` replaces the space; `changes` sets any document field
    (`description`, `sample_data`, `scoring_config`, `parameter_space`, `pipeline_stages`); each
    `changes.pipeline_stages` item is merged into the stage of the same `name`, e.g.
    `{"pipeline_stages": [{"name": "answer", "prompt_template": "Answer briefly: {{ input }}"}]}`.
    Returns the new experiment with `forked_from: {experiment_id, run_id}`. Next: `run_sweep(experiment_id=id)`:
    every call the changes leave as it was is a cache hit.
    """
    body = parse(ForkCreate, given(name=name, run_id=run_id, parameter_space=parameter_space, changes=changes))
    async with unit_of_work(ctx, write=True) as work:
        return dump(await steering_service.fork_experiment(work.session, experiment_id, body))


async def redirect_sweep(ctx: ToolContext, experiment_id: uuid.UUID, parameter_space: dict[str, Any]) -> dict[str, Any]:
    """Change the parameter space of the experiment's running or paused sweep (grid or random).

    Runs done stay; pending runs the new `parameter_space` no longer contains are dropped; its new
    configurations are added as pending runs, except any already evaluated in this experiment (never paid
    twice). The space becomes the experiment's (validated as `update_experiment` would). Returns
    `{sweep_id, dropped, added, total_runs}` and emits `sweep.redirected`. A paused sweep keeps the new runs
    until `resume_sweep`. Next: poll `get_experiment_status`.
    """
    body = parse(RedirectIn, given(parameter_space=parameter_space))
    async with unit_of_work(ctx, write=True) as work:
        return dump(await sweep_service.redirect_sweep(work.session, work.app, experiment_id, body))


async def approve_run(ctx: ToolContext, run_id: uuid.UUID, name: str | None = None,
                      note: str | None = None) -> dict[str, Any]:
    """Approve a finished run: save its configuration to the project's saved configurations.

    Optional `name` (default: the experiment's) and `note`. Returns the saved configuration `{id, project_id,
    experiment_id, run_id, name, note, config, config_hash, score, approved_by, approved_at}` and emits a
    `config.approved` event. Exports of the experiment then serve it (until a later approval).
    """
    body = parse(ApproveIn, given(name=name, note=note))
    async with unit_of_work(ctx, write=True) as work:
        return dump(await steering_service.approve_run(work.session, work.app, work.principal, run_id, body))


async def reject_run(ctx: ToolContext, run_id: uuid.UUID, rejected: bool = True) -> dict[str, Any]:
    """Reject a run's configuration (every run with its `config_hash`) from the leaderboard and exports.

    Pass `rejected=false` to restore it. Returns the run.
    """
    async with unit_of_work(ctx, write=True) as work:
        return dump(await results_service.set_rejected(work.session, run_id, rejected))


async def list_saved_configs(ctx: ToolContext, project_id: uuid.UUID, experiment_id: uuid.UUID | None = None,
                             limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """A project's saved (approved) configurations, latest approval first; optionally of one experiment.

    Returns `{"items": [{id, name, note, config, config_hash, score, approved_by, approved_at, ...}], "total"}`.
    Next: `export_best_config(experiment_id, saved_config_id=id)`.
    """
    async with unit_of_work(ctx) as work:
        return dump(await steering_service.list_saved_configs(
            work.session, project_id, experiment_id, max(1, min(limit, 500)), max(0, offset)))


async def list_exports(ctx: ToolContext, project_id: uuid.UUID, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """A project's export history, newest first: `{id, format, experiment_id, run_id, saved_config_id,
    config_hash, user, created_at}` per export served (REST or MCP, every format)."""
    async with unit_of_work(ctx) as work:
        return dump(await steering_service.list_exports(work.session, project_id, max(1, min(limit, 500)),
                                                        max(0, offset)))


async def set_project_notes(ctx: ToolContext, project_id: uuid.UUID, notes: str | None) -> dict[str, Any]:
    """Replace a project's notes (markdown text; null clears them). Returns the project."""
    body = parse(ProjectUpdate, {"notes": notes})
    async with unit_of_work(ctx, write=True) as work:
        return dump(await project_service.update_project(work.session, project_id, body))


def steering_tools() -> list[Tool]:
    """The steering and project-memory tools."""
    uuid_prop = {"type": "string", "format": "uuid"}
    reject = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
    tools = [
        Tool.from_function(reported(fork_experiment), annotations=WRITE),
        Tool.from_function(reported(redirect_sweep), annotations=WRITE),
        Tool.from_function(reported(approve_run), annotations=WRITE),
        Tool.from_function(reported(reject_run), annotations=reject),
        Tool.from_function(reported(list_saved_configs), annotations=READ),
        Tool.from_function(reported(list_exports), annotations=READ),
        Tool.from_function(reported(set_project_notes), annotations=reject),
    ]
    schemas = {
        "fork_experiment": _schema(ForkCreate, extra={"experiment_id": uuid_prop}, required=["experiment_id"]),
        "approve_run": _schema(ApproveIn, extra={"run_id": uuid_prop}, required=["run_id"]),
    }
    for tool in tools:
        if tool.name in schemas:
            tool.parameters = schemas[tool.name]
    return tools
