"""Projects."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from promptlooper.deps import CurrentUser, SessionDep, WriterUser
from promptlooper.routers.common import READ, READ_ONE, WRITE, WRITE_ONE, Limit, Offset
from promptlooper.schemas import Page, ProjectCreate, ProjectDetail, ProjectOut, ProjectUpdate
from promptlooper.services import projects as service

router = APIRouter(prefix="/projects", tags=["projects"])


@router.get("", response_model=Page[ProjectOut], responses=READ)
async def list_projects(_: CurrentUser, session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> Page[ProjectOut]:
    """Projects, newest first."""
    return await service.list_projects(session, limit, offset)


@router.post("", status_code=201, response_model=ProjectOut, responses=WRITE)
async def create_project(body: ProjectCreate, user: WriterUser, session: SessionDep) -> ProjectOut:
    """Create a project."""
    return await service.create_project(session, user, body)


@router.get("/{project_id}", response_model=ProjectDetail, responses=READ_ONE)
async def get_project(project_id: uuid.UUID, _: CurrentUser, session: SessionDep) -> ProjectDetail:
    """A project with summaries of its experiments."""
    return await service.get_project(session, project_id)


@router.put("/{project_id}", response_model=ProjectOut, responses=WRITE_ONE)
async def update_project(project_id: uuid.UUID, body: ProjectUpdate, _: WriterUser, session: SessionDep) -> ProjectOut:
    """Change a project's name, description or notes."""
    return await service.update_project(session, project_id, body)


@router.delete("/{project_id}", status_code=204, response_class=Response, responses=WRITE_ONE)
async def delete_project(project_id: uuid.UUID, _: WriterUser, session: SessionDep) -> Response:
    """Delete a project with all its experiments and runs."""
    await service.delete_project(session, project_id)
    return Response(status_code=204)
