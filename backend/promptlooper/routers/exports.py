"""Exports of the best configuration."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from promptlooper.deps import CurrentUser, SessionDep
from promptlooper.routers.common import READ_ONE
from promptlooper.services import exports as service

router = APIRouter(prefix="/experiments/{experiment_id}/export", tags=["export"])


@router.get("/best", responses=READ_ONE)
async def export_best(experiment_id: uuid.UUID, _: CurrentUser, session: SessionDep,
                      sweep_id: uuid.UUID | None = None) -> dict[str, Any]:
    """The best run as JSON: model, endpoint URL, params, prompts, score, experiment, run_id."""
    return await service.best_json(session, experiment_id, sweep_id)


@router.get("/env", response_class=PlainTextResponse, responses=READ_ONE)
async def export_env(experiment_id: uuid.UUID, _: CurrentUser, session: SessionDep,
                     sweep_id: uuid.UUID | None = None) -> str:
    """The best run as a .env snippet."""
    return await service.best_env(session, experiment_id, sweep_id)


@router.get("/yaml", response_class=PlainTextResponse, responses=READ_ONE)
async def export_yaml(experiment_id: uuid.UUID, _: CurrentUser, session: SessionDep,
                      sweep_id: uuid.UUID | None = None) -> PlainTextResponse:
    """The best run in the spec's YAML layout."""
    return PlainTextResponse(await service.best_yaml(session, experiment_id, sweep_id), media_type="application/yaml")


@router.get("/report", response_class=PlainTextResponse, responses=READ_ONE)
async def export_report(experiment_id: uuid.UUID, _: CurrentUser, session: SessionDep,
                        sweep_id: uuid.UUID | None = None) -> PlainTextResponse:
    """A markdown report of the experiment."""
    report = await service.report_markdown(session, experiment_id, sweep_id)
    return PlainTextResponse(report, media_type="text/markdown")
