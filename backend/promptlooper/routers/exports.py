"""Exports of an experiment's configuration: the asked run or saved one, else the approved, else the best."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from promptlooper.deps import CurrentUser, SessionDep
from promptlooper.routers.common import READ_ONE, errors
from promptlooper.services import exports as service

router = APIRouter(prefix="/experiments/{experiment_id}/export", tags=["export"])
EXPORT = READ_ONE | errors(400, 409)


@router.get("/best", responses=EXPORT)
async def export_best(
    experiment_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    run_id: uuid.UUID | None = None,
    saved_config_id: uuid.UUID | None = None,
    sweep_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The configuration as JSON: model, endpoint URL, params, prompts, score, experiment, run_id."""
    return await service.best_json(session, experiment_id, run_id, saved_config_id, user, sweep_id)


@router.get("/env", response_class=PlainTextResponse, responses=EXPORT)
async def export_env(
    experiment_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    run_id: uuid.UUID | None = None,
    saved_config_id: uuid.UUID | None = None,
    sweep_id: uuid.UUID | None = None,
) -> str:
    """The configuration as a .env snippet."""
    return await service.best_env(session, experiment_id, run_id, saved_config_id, user, sweep_id)


@router.get("/yaml", response_class=PlainTextResponse, responses=EXPORT)
async def export_yaml(
    experiment_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    run_id: uuid.UUID | None = None,
    saved_config_id: uuid.UUID | None = None,
    sweep_id: uuid.UUID | None = None,
) -> PlainTextResponse:
    """The configuration in the spec's YAML layout."""
    text = await service.best_yaml(session, experiment_id, run_id, saved_config_id, user, sweep_id)
    return PlainTextResponse(text, media_type="application/yaml")


@router.get("/report", response_class=PlainTextResponse, responses=EXPORT)
async def export_report(
    experiment_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    run_id: uuid.UUID | None = None,
    saved_config_id: uuid.UUID | None = None,
    sweep_id: uuid.UUID | None = None,
) -> PlainTextResponse:
    """A markdown report of the experiment around the exported configuration."""
    text = await service.report_markdown(session, experiment_id, run_id, saved_config_id, user, sweep_id)
    return PlainTextResponse(text, media_type="text/markdown")
