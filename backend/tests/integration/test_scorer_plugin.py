"""A third-party scorer package installed with pip appears in GET /scorers via its entry point."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx2

from tests.support.environment import ADMIN, bearer
from tests.support.server import running_server

PLUGIN = Path(__file__).resolve().parent.parent / "plugins" / "pl_example_scorer"


def test_installed_plugin_is_listed_and_scores(tmp_path: Path) -> None:
    target, source = tmp_path / "site", tmp_path / "plugin-src"
    shutil.copytree(PLUGIN, source)  # pip builds in place; keep the repository clean
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    env = {"DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": "", "PYTHONPATH": str(target)}
    with running_server(env, tmp_path / "server.log") as server:
        token = httpx2.post(server.url + "/api/v1/auth/setup", json=ADMIN).json()["access_token"]
        scorers = {s["id"]: s for s in httpx2.get(server.url + "/api/v1/scorers", headers=bearer(token)).json()["items"]}
        assert "shouty" in scorers and scorers["shouty"]["description"]
        assert {"keyword", "length", "format", "embedding_similarity", "llm_judge", "python", "webhook",
                "human_rating"} <= set(scorers)
