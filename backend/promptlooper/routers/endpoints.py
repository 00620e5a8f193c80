"""LLM endpoints (targets)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from promptlooper.deps import CtxDep, CurrentUser, SessionDep, WriterUser
from promptlooper.routers.common import READ, READ_ONE, WRITE, WRITE_ONE, Limit, Offset, errors
from promptlooper.schemas import EndpointCreate, EndpointOut, EndpointTestOut, EndpointUpdate, Page
from promptlooper.services import endpoints as service

router = APIRouter(prefix="/endpoints", tags=["endpoints"])


@router.get("", response_model=Page[EndpointOut], responses=READ)
async def list_endpoints(
    _: CurrentUser, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> Page[EndpointOut]:
    """Configured endpoints (never with their keys)."""
    return await service.list_endpoints(session, limit, offset)


@router.post("", status_code=201, response_model=EndpointOut, responses=WRITE)
async def create_endpoint(body: EndpointCreate, _: WriterUser, session: SessionDep, ctx: CtxDep) -> EndpointOut:
    """Add an OpenAI-compatible endpoint; `url` is the base that /chat/completions hangs from."""
    return await service.create_endpoint(session, ctx, body)


@router.get("/{endpoint_id}", response_model=EndpointOut, responses=READ_ONE)
async def get_endpoint(endpoint_id: uuid.UUID, _: CurrentUser, session: SessionDep) -> EndpointOut:
    """One endpoint."""
    return await service.get_endpoint(session, endpoint_id)


@router.put("/{endpoint_id}", response_model=EndpointOut, responses=WRITE_ONE)
async def update_endpoint(
    endpoint_id: uuid.UUID, body: EndpointUpdate, _: WriterUser, session: SessionDep, ctx: CtxDep
) -> EndpointOut:
    """Change an endpoint; `"api_key": ""` removes its key."""
    return await service.update_endpoint(session, ctx, endpoint_id, body)


@router.delete("/{endpoint_id}", status_code=204, response_class=Response, responses=WRITE_ONE | errors(409))
async def delete_endpoint(endpoint_id: uuid.UUID, _: WriterUser, session: SessionDep) -> Response:
    """Remove an endpoint no experiment uses."""
    await service.delete_endpoint(session, endpoint_id)
    return Response(status_code=204)


@router.post("/{endpoint_id}/test", response_model=EndpointTestOut, responses=WRITE_ONE)
async def test_endpoint(endpoint_id: uuid.UUID, _: WriterUser, session: SessionDep, ctx: CtxDep) -> EndpointTestOut:
    """Call the endpoint's /models: `{"ok": true, "models", "latency_ms"}` or `{"ok": false, "error"}`."""
    return await service.test_endpoint(session, ctx, endpoint_id)
