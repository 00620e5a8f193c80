"""Serve the built React dashboard (frontend/dist) at / in single-process mode, with SPA fallback."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

log = logging.getLogger(__name__)

# Paths that belong to the API: an unknown one is a JSON 404, never the dashboard's index.html.
_API_PREFIXES = ("api/", "ws/", "health", "openapi.json", "docs", "redoc")


def default_dashboard_dir() -> Path:
    """frontend/dist next to the package, as `make run` builds it (an editable install)."""
    return Path(__file__).resolve().parents[2] / "frontend" / "dist"


class _SinglePageApp(StaticFiles):
    """Static files, and index.html for any other non-API path so client-side routes reload."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or path.startswith(_API_PREFIXES):
                raise
            response = await super().get_response("index.html", scope)
        if path.startswith("assets/"):  # content-hashed names: cache forever
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        elif response.media_type == "text/html":
            response.headers["Cache-Control"] = "no-cache"
        return response


def mount_dashboard(app: FastAPI, directory: Path | None) -> bool:
    """Mount the dashboard at / when its build exists; the API keeps working without it."""
    directory = directory or default_dashboard_dir()
    if not (directory / "index.html").is_file():
        log.info("dashboard build not found in %s (run `make dashboard`); serving the API only", directory)
        return False
    app.mount("/", _SinglePageApp(directory=directory, html=True), name="dashboard")
    return True
