"""Projects: workspaces grouping experiments."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.auth import Principal
from promptlooper.models import Experiment, Project
from promptlooper.schemas import Page, ProjectCreate, ProjectDetail, ProjectOut, ProjectUpdate
from promptlooper.services.common import get_or_404, paginate
from promptlooper.services.experiments import experiment_summaries


async def create_project(session: AsyncSession, principal: Principal, body: ProjectCreate) -> ProjectOut:
    """Create a project owned by the caller."""
    project = Project(name=body.name, description=body.description, notes=body.notes, owner_id=principal.user_id)
    session.add(project)
    await session.flush()
    return ProjectOut.model_validate(project)


async def list_projects(session: AsyncSession, limit: int, offset: int) -> Page[ProjectOut]:
    """Projects, newest first, with experiment counts."""
    rows, total = await paginate(session, select(Project).order_by(Project.created_at.desc()), limit, offset)
    counts = (
        dict(
            (
                await session.execute(
                    select(Experiment.project_id, func.count())
                    .where(Experiment.project_id.in_([p.id for p in rows]))
                    .group_by(Experiment.project_id)
                )
            )
            .all()
        )
        if rows
        else {}
    )
    items = [ProjectOut.model_validate(p).model_copy(update={"experiment_count": counts.get(p.id, 0)}) for p in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


async def get_project(session: AsyncSession, project_id: uuid.UUID) -> ProjectDetail:
    """A project with summaries of its experiments."""
    project = await get_or_404(session, Project, project_id, "Project")
    experiments = (
        await session.scalars(
            select(Experiment).where(Experiment.project_id == project_id).order_by(Experiment.created_at)
        )
    ).all()
    summaries = await experiment_summaries(session, list(experiments))
    out = ProjectOut.model_validate(project).model_dump()
    return ProjectDetail(**out | {"experiment_count": len(summaries)}, experiments=summaries)


async def update_project(session: AsyncSession, project_id: uuid.UUID, body: ProjectUpdate) -> ProjectOut:
    """Change a project's name, description or notes."""
    project = await get_or_404(session, Project, project_id, "Project")
    for key, value in body.model_dump(exclude_unset=True).items():
        if key == "name" and value is None:
            continue
        setattr(project, key, value)
    project.updated_at = datetime.now(UTC)
    await session.flush()
    count = await session.scalar(
        select(func.count()).select_from(Experiment).where(Experiment.project_id == project.id)
    )
    return ProjectOut.model_validate(project).model_copy(update={"experiment_count": int(count or 0)})


async def delete_project(session: AsyncSession, project_id: uuid.UUID) -> None:
    """Delete a project and everything in it."""
    project = await get_or_404(session, Project, project_id, "Project")
    await session.delete(project)
    await session.flush()
