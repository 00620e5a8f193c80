"""Property-based run of schemathesis against the app's own OpenAPI: no input may cause a 500."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from tests.support.environment import ADMIN, TEST_FERNET_KEY, bearer
from tests.support.server import running_server

MAX_EXAMPLES = "25"


def test_no_server_errors(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    env = {"DATA_DIR": str(tmp_path / "data"), "AUTO_MIGRATE": "true", "DATABASE_URL": ""}
    if db_backend == "postgres":
        request.getfixturevalue("settings")
        env |= {"DATABASE_URL": request.getfixturevalue("postgres_url"), "JWT_SECRET": "st-secret",
                "ENCRYPTION_KEY": TEST_FERNET_KEY}
    with running_server(env, tmp_path / "server.log") as server:
        token = httpx2.post(server.url + "/api/v1/auth/setup", json=ADMIN).json()["access_token"]
        httpx2.post(server.url + "/api/v1/projects", json={"name": "seed"}, headers=bearer(token))
        cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
        result = subprocess.run(
            [cli, "run", server.url + "/openapi.json", "--checks", "not_a_server_error",
             "--max-examples", MAX_EXAMPLES, "--header", f"Authorization: Bearer {token}",
             "--seed", "1", "--no-color"],
            capture_output=True, text=True, timeout=900, cwd=tmp_path,  # its example cache stays out of the repo
        )
        report = result.stdout + result.stderr
        (tmp_path / "schemathesis.txt").write_text(report)
        print(report[-3000:])
        assert result.returncode == 0, report[-6000:] + "\n--- server log ---\n" + server.log()[-4000:]
        assert "passed" in report.lower()
