"""Shared router pieces: documented error responses and pagination parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from promptlooper.schemas import ErrorOut


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error statuses, all shaped {"detail", "code"}."""
    words = {
        400: "Bad input",
        401: "No or bad credentials",
        403: "Authenticated but not allowed (read-only)",
        404: "Unknown id",
        409: "Conflicts with the current state",
        413: "Body too large",
        422: "Invalid input (detail lists the fields)",
        429: "Too many attempts",
        503: "A dependency is down",
    }
    return {s: {"model": ErrorOut, "description": words.get(s, "Error")} for s in statuses}


READ = errors(401, 422)
READ_ONE = errors(401, 404, 422)
WRITE = errors(401, 403, 413, 422)
WRITE_ONE = errors(401, 403, 404, 413, 422)

Limit = Annotated[int, Query(ge=1, le=500, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Items to skip")]
