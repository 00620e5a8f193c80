"""A guided sweep's prompt proposals: list, approve (optionally edited), reject (logic: services/proposals)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query

from promptlooper.deps import CtxDep, CurrentUser, SessionDep, WriterUser
from promptlooper.routers.common import READ_ONE, WRITE_ONE, Limit, Offset, errors
from promptlooper.schemas import ProposalApprove, ProposalOut, ProposalPage, ProposalReject
from promptlooper.services import proposals as service

router = APIRouter(tags=["proposals"])


@router.get("/sweeps/{sweep_id}/proposals", response_model=ProposalPage, responses=READ_ONE)
async def list_proposals(
    sweep_id: uuid.UUID, _: CurrentUser, session: SessionDep,
    status: Annotated[Literal["pending", "approved", "rejected"] | None, Query(description="only these")] = None,
    limit: Limit = 50, offset: Offset = 0,
) -> ProposalPage:
    """The sweep's prompt proposals, newest first (with its diff base and projected cost), and its optimizer rounds."""
    return await service.list_proposals(session, sweep_id, status, limit, offset)


@router.post("/proposals/{proposal_id}/approve", response_model=ProposalOut, responses=WRITE_ONE | errors(409))
async def approve_proposal(
    proposal_id: uuid.UUID, principal: WriterUser, session: SessionDep, ctx: CtxDep,
    body: Annotated[ProposalApprove | None, Body()] = None,
) -> ProposalOut:
    """Approve a pending proposal (with `text` to edit it first): it joins the sweep and its parameter space."""
    return await service.approve(session, ctx, proposal_id, body or ProposalApprove(), principal.username)


@router.post("/proposals/{proposal_id}/reject", response_model=ProposalOut, responses=WRITE_ONE | errors(409))
async def reject_proposal(
    proposal_id: uuid.UUID, principal: WriterUser, session: SessionDep, ctx: CtxDep,
    body: Annotated[ProposalReject | None, Body()] = None,
) -> ProposalOut:
    """Reject a pending proposal: nothing is ever run for it."""
    return await service.reject(session, ctx, proposal_id, body or ProposalReject(), principal.username)
