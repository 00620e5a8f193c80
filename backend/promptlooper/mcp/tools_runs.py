"""MCP tools for the execution half: runs, sweeps, results, exports, status and human review."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Annotated, Any, Literal

from mcp.server.mcpserver.tools import Tool
from mcp_types import ToolAnnotations
from pydantic import Field

from promptlooper.db import session_scope
from promptlooper.events import types as ev
from promptlooper.mcp.common import ToolContext, Work, dump, given, parse, reported, state_of, unit_of_work
from promptlooper.mcp.tools import CALLS_LLM, READ, WRITE, _schema
from promptlooper.offload import run_cpu
from promptlooper.schemas import AdHocRun, InModel, ScoreIn, SweepCreate
from promptlooper.services import experiments as experiment_service
from promptlooper.services import exports as export_service
from promptlooper.services import results as results_service
from promptlooper.services import runs as run_service
from promptlooper.services import sweeps as sweep_service
from promptlooper.services.run_compare import compare
from promptlooper.services.status import experiment_status

Limit = Annotated[int, Field(ge=1, le=500)]
Sort = Annotated[str, Field(min_length=1, max_length=200)]


class HumanReview(InModel):
    """A request for a person to look at an experiment."""

    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    context: dict[str, Any] = {}
    run_id: uuid.UUID | None = None


async def run_single(ctx: ToolContext, experiment_id: str, overrides: dict[str, Any] | None = None,
                     repeat_index: int | None = None) -> dict[str, Any]:
    """Execute one configuration of an experiment now, on every sample, and return the finished run.

    Pass `experiment_id` and optional `overrides` keyed like `parameter_space` with single values
    (e.g. `{"model": "m2", "temperature": 0.3, "stages.answer.prompt_template": "..."}`). Returns the run with
    `status`, `scores`, `weighted_score`, tokens, cost and `stage_results` (prompt and response per sample).
    Next: `compare_runs` against another run, or `run_sweep` to explore the whole space.
    """
    body = parse(AdHocRun, given(experiment_id=experiment_id, overrides=overrides, repeat_index=repeat_index))
    async with unit_of_work(ctx, write=True) as work:
        return dump(await run_service.run_adhoc(work.session, work.app, body))


async def _status(ctx: ToolContext, experiment_id: uuid.UUID) -> dict[str, Any]:
    async with session_scope(state_of(ctx).app.sessionmaker) as session:
        return await experiment_status(session, experiment_id)


async def _wait(ctx: ToolContext, experiment_id: uuid.UUID, timeout_s: float) -> tuple[dict[str, Any], bool]:
    """Poll until the sweep leaves `running`, reporting MCP progress on every change."""
    deadline = time.monotonic() + timeout_s
    last: tuple[int, int] | None = None
    while True:
        status = await _status(ctx, experiment_id)
        progress = status["progress"]
        point = (int(progress["completed"]), int(progress["total"]))
        if point != last:
            best = (status["best"] or {}).get("weighted_score")
            await ctx.report_progress(point[0], point[1] or None,
                                      f"{point[0]}/{point[1]} runs done; best weighted score {best}")
            last = point
        if status["status"] != "running":
            return status, False
        if time.monotonic() > deadline:
            return status, True
        await asyncio.sleep(0.25)


async def run_sweep(
    ctx: ToolContext,
    experiment_id: uuid.UUID,
    type: str = "grid",
    max_runs: int | None = None,
    seed: int | None = None,
    concurrency: int | None = None,
    repeats: int | None = None,
    budget: dict[str, Any] | None = None,
    guided: dict[str, Any] | None = None,
    early_stopping: dict[str, Any] | None = None,
    wait: bool = False,
    wait_timeout_s: Annotated[float, Field(gt=0, le=86400)] = 1800.0,
) -> dict[str, Any]:
    """Start a parameter sweep of an experiment (every combination for grid, sampled for random, TPE for guided).

    Pass `experiment_id`, optional `type` (grid|random|guided), `max_runs` (guided: default 30), `seed`,
    `concurrency` (LLM calls in flight; a guided sweep proposes that many runs per wave), `repeats`, `budget`
    (`{"max_tokens": 0, "max_cost_usd": 0}`; 0 = none), `guided` (`{"n_startup": 8}`: random runs before TPE),
    `early_stopping` (`{"min_samples": 4, "eta": 3}`, any type: successive halving over samples; stopped runs end
    `pruned`).
    A guided sweep is steered with `get_sweep`, `suggest_configs` and `add_sweep_configs`. Returns at once with
    `{"sweep_id", "experiment_id", "type", "status": "running", "total_runs"}`; runs execute in the background.
    With `wait: true` the call instead waits until the sweep ends (sending MCP progress notifications when you
    gave a progress token) and returns `{"sweep", "status", "leaderboard", "timed_out"}`.
    Next: poll `get_experiment_status` until `status` is `completed`, then `get_leaderboard`.
    """
    body = parse(SweepCreate, given(type=type, max_runs=max_runs, seed=seed, concurrency=concurrency,
                                    repeats=repeats, budget=budget, guided=guided,
                                    early_stopping=early_stopping))
    async with unit_of_work(ctx, write=True) as work:
        started = await sweep_service.start_sweep(work.session, work.app, experiment_id, body)
    out = dump(started)
    if not wait:
        return out | {"next": "Poll get_experiment_status until status is completed, then call get_leaderboard."}
    status, timed_out = await _wait(ctx, experiment_id, wait_timeout_s)
    async with unit_of_work(ctx) as work:
        board = await results_service.leaderboard(work.session, experiment_id, 10, "weighted_score")
    return {"sweep": out, "status": status, "leaderboard": dump(board), "timed_out": timed_out}


async def get_experiment_status(ctx: ToolContext, experiment_id: uuid.UUID) -> dict[str, Any]:
    """Check an experiment's progress.

    Returns `status` (draft|running|paused|completed), the latest `sweep`, `progress` (`completed` = runs done in
    any final status, `total`, `failed`, `cached`, `pending`, `running`, `percent`, `tokens_in`, `tokens_out`,
    `cost_estimate`), `best` (the top leaderboard entry so far, or null), `eta_s` and `next` (what to call next).
    """
    async with unit_of_work(ctx) as work:
        return await experiment_status(work.session, experiment_id)


async def get_leaderboard(ctx: ToolContext, experiment_id: uuid.UUID, limit: Limit = 10,
                          sort: Sort = "weighted_score", include_pruned: bool = False) -> dict[str, Any]:
    """Get the top configurations of an experiment ranked by score (rejected runs left out).

    Pass `experiment_id`, optional `limit` (default 10) and `sort` (`weighted_score` or any score name; prefix
    `+` for ascending); `include_pruned: true` adds runs stopped early by early stopping (marked `pruned`).
    Returns `{"items": [{"rank", "run_id", "config", "weighted_score", "scores",
    "tokens_in", "tokens_out", "cost_estimate", "duration_ms", "mean_score", "ci_low", "ci_high", "p_value",
    "p_adjusted", "tied_with_best", "pruned", "samples_evaluated"}]}`: `ci_*` is the 95% bootstrap interval over
    samples, `p_value` a paired Wilcoxon test against the leader, `tied_with_best` true when the difference is not
    significant (Holm).
    Next: `get_run_detail(run_id)` to read outputs, `compare_runs`, or `export_best_config`.
    """
    async with unit_of_work(ctx) as work:
        return dump(await results_service.leaderboard(work.session, experiment_id, limit, sort,
                                                      include_pruned=include_pruned))


async def get_run_detail(ctx: ToolContext, run_id: uuid.UUID) -> dict[str, Any]:
    """Get everything about one run: resolved config, scores, and each stage's prompt and response per sample.

    Returns the run with `stage_results` (`sample_id`, `stage_name`, `prompt_sent`, `response_raw`,
    `model_used`, tokens, latency, `cached`) and `score_details` (per-sample values in `metadata`).
    Next: `add_human_score` to rate it, or `compare_runs` with another run.
    """
    async with unit_of_work(ctx) as work:
        return dump(await results_service.run_detail(work.session, run_id))


async def compare_runs(ctx: ToolContext, run_a: uuid.UUID, run_b: uuid.UUID) -> dict[str, Any]:
    """Compare two runs side by side.

    Returns `parameters.changed` (`[{"path", "a", "b"}]`, dotted config paths such as
    `stages.answer.params.temperature`), `samples` (each sample's final output of both runs), `scores`
    (per score `a`, `b`, `diff` = b - a), `weighted_score`, `cost`, `better` (a|b|tie) and `paired`
    (`samples`, `mean` b - a per common sample, `ci_low`/`ci_high` its 95% interval, `p_value` Wilcoxon).
    """
    async with unit_of_work(ctx) as work:
        detail_a = await results_service.run_detail(work.session, run_a)
        detail_b = await results_service.run_detail(work.session, run_b)
    return await run_cpu(compare, detail_a, detail_b)


async def export_best_config(ctx: ToolContext, experiment_id: uuid.UUID,
                             format: Literal["json", "yaml", "env", "report"] = "json",
                             run_id: uuid.UUID | None = None,
                             saved_config_id: uuid.UUID | None = None) -> str:
    """Export an experiment's configuration, ready to drop into an application.

    `format`: `env` (a .env snippet: `LLM_MODEL=`, `LLM_API_URL=`, `LLM_TEMPERATURE=` ...), `json` (model,
    endpoint URL, params, prompts, score, run_id), `yaml` (the spec's layout) or `report` (a markdown report).
    Without `run_id`/`saved_config_id` it serves the experiment's latest approved configuration, else its
    best run; a rejected configuration is never exported. Every export is recorded (`list_exports`).
    Returns the exported text. Fails with "no completed runs" until a run has finished.
    """
    async with unit_of_work(ctx) as work:
        args = (work.session, experiment_id, run_id, saved_config_id, work.principal)
        if format == "json":
            return json.dumps(await export_service.best_json(*args), indent=2)
        if format == "yaml":
            return await export_service.best_yaml(*args)
        if format == "env":
            return await export_service.best_env(*args)
        return await export_service.report_markdown(*args)


async def _steer(ctx: ToolContext, experiment_id: uuid.UUID, action: str) -> dict[str, Any]:
    steer = {"pause": sweep_service.pause_sweep, "resume": sweep_service.resume_sweep,
             "stop": sweep_service.stop_sweep}[action]
    async with unit_of_work(ctx, write=True) as work:
        return dump(await steer(work.session, work.app, experiment_id))


async def pause_sweep(ctx: ToolContext, experiment_id: uuid.UUID) -> dict[str, Any]:
    """Pause the running sweep of an experiment: in-flight runs finish, no new run starts.

    Returns the experiment with `status: "paused"`. Next: `resume_sweep` or `stop_sweep`.
    """
    return await _steer(ctx, experiment_id, "pause")


async def resume_sweep(ctx: ToolContext, experiment_id: uuid.UUID) -> dict[str, Any]:
    """Resume a paused sweep with exactly the runs not yet done.

    Returns the experiment with `status: "running"`. Next: poll `get_experiment_status`.
    """
    return await _steer(ctx, experiment_id, "resume")


async def stop_sweep(ctx: ToolContext, experiment_id: uuid.UUID) -> dict[str, Any]:
    """Stop the sweep for good: runs not started are dropped, runs in flight are cancelled (status
    `cancelled`) and the experiment is completed.

    Returns the experiment with `status: "completed"`. Next: `get_leaderboard` / `export_best_config`.
    """
    return await _steer(ctx, experiment_id, "stop")


async def add_human_score(ctx: ToolContext, run_id: uuid.UUID, value: float | None = None,
                          rating: int | None = None, thumbs: str | None = None,
                          comment: str | None = None) -> dict[str, Any]:
    """Rate a run's output as a human (stored as the `human_rating` score; several ratings average).

    Pass `run_id` and exactly one of `value` (0-1), `rating` (1-5) or `thumbs` (up|down), plus an optional
    `comment`. Returns the run detail with its recomputed `weighted_score`.
    """
    body = parse(ScoreIn, given(value=value, rating=rating, thumbs=thumbs, comment=comment))
    async with unit_of_work(ctx, write=True) as work:
        return dump(await results_service.add_human_score(work.session, work.principal, run_id, body))


async def request_human_review(ctx: ToolContext, experiment_id: uuid.UUID, reason: str,
                               context: dict[str, Any] | None = None,
                               run_id: uuid.UUID | None = None) -> dict[str, Any]:
    """Ask a person to look at an experiment (emits a `human_needed` event to the dashboard and webhooks).

    Pass `experiment_id`, a `reason` sentence, optional `context` (any JSON object, e.g. the runs to look at)
    and `run_id`. Returns `{"ok": true, "type": "human_needed", ...}`. Next: continue, or poll
    `get_run_detail` for the `human_rating` the person adds.
    """
    review = parse(HumanReview, given(reason=reason, context=context, run_id=run_id))
    async with unit_of_work(ctx, write=True) as work:
        await experiment_service.get_experiment(work.session, experiment_id)
        _publish_review(work, experiment_id, review)
    return {"ok": True, "type": "human_needed", "experiment_id": str(experiment_id),
            "run_id": str(review.run_id) if review.run_id else None, "reason": review.reason}


def _publish_review(work: Work, experiment_id: uuid.UUID, review: HumanReview) -> None:
    work.app.runtime.publish(
        ev.HumanNeeded(reason=review.reason, context=review.context, requested_by=work.principal.username),
        experiment_id=experiment_id, run_id=review.run_id)


def run_tools() -> list[Tool]:
    """The tools that execute and read results."""
    uuid_prop = {"type": "string", "format": "uuid"}
    steer = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
    stop = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)
    tools = [
        Tool.from_function(reported(run_single), annotations=CALLS_LLM),
        Tool.from_function(reported(run_sweep), annotations=CALLS_LLM),
        Tool.from_function(reported(get_experiment_status), annotations=READ),
        Tool.from_function(reported(get_leaderboard), annotations=READ),
        Tool.from_function(reported(get_run_detail), annotations=READ),
        Tool.from_function(reported(compare_runs), annotations=READ),
        Tool.from_function(reported(export_best_config), annotations=READ),
        Tool.from_function(reported(pause_sweep), annotations=steer),
        Tool.from_function(reported(resume_sweep), annotations=steer),
        Tool.from_function(reported(stop_sweep), annotations=stop),
        Tool.from_function(reported(add_human_score), annotations=WRITE),
        Tool.from_function(reported(request_human_review), annotations=WRITE),
    ]
    wait = {"wait": {"type": "boolean", "default": False,
                     "description": "Wait for the sweep to end, reporting progress, and return the leaderboard"},
            "wait_timeout_s": {"type": "number", "default": 1800, "exclusiveMinimum": 0, "maximum": 86400}}
    schemas = {
        "run_single": _schema(AdHocRun),
        "run_sweep": _schema(SweepCreate, extra={"experiment_id": uuid_prop} | wait, required=["experiment_id"]),
        "add_human_score": _schema(ScoreIn, extra={"run_id": uuid_prop}, required=["run_id"]),
    }
    for tool in tools:
        if tool.name in schemas:
            tool.parameters = schemas[tool.name]
    return tools
