"""The built dashboard is served at / with a single-page-app fallback that never hides the API's 404s."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from promptlooper.main import create_app
from tests.support.environment import base_settings


def _dist(root: Path) -> Path:
    dist = root / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=root>PromptLooper dashboard</div>")
    (dist / "assets" / "index-abc123.js").write_text("console.log('app')")
    return dist


def test_dashboard_routes_fall_back_to_index_and_api_404s_stay_json(tmp_path: Path) -> None:
    app = create_app(base_settings(tmp_path / "data", dashboard_dir=_dist(tmp_path), auto_migrate=True))
    with TestClient(app) as client:
        home = client.get("/")
        assert home.status_code == 200 and "PromptLooper dashboard" in home.text
        assert home.headers["cache-control"] == "no-cache"
        deep = client.get("/experiments/0b6f1c2e-0000-4000-8000-000000000000/live")
        assert deep.status_code == 200 and "PromptLooper dashboard" in deep.text, "client-side routes reload"
        asset = client.get("/assets/index-abc123.js")
        assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
        missing_api = client.get("/api/v1/no-such-thing")
        assert missing_api.status_code == 404 and missing_api.json()["code"] == "not_found"
        assert client.get("/health").json()["database"] == "ok"
        assert client.get("/openapi.json").json()["info"]["title"] == "PromptLooper"


def test_without_a_build_the_api_still_serves(tmp_path: Path) -> None:
    app = create_app(base_settings(tmp_path / "data", dashboard_dir=tmp_path / "nothing", auto_migrate=True))
    with TestClient(app) as client:
        assert client.get("/").status_code == 404
        assert client.get("/health").status_code == 200
