"""`promptlooper run` as a CI gate: exit 0 at or above --fail-under, 1 below, 2 on errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx2
import yaml

from tests.support.environment import ADMIN, bearer
from tests.support.llm_server import LLMServer
from tests.support.server import running_server


def _doc(base_url: str) -> dict:
    return {
        "project": "ci", "name": "gate", "endpoint": {"label": "mock", "url": base_url},
        "sample_data": [{"id": "a", "input": "about alpha"}, {"id": "b", "input": "about beta"}],
        "pipeline_stages": [{"name": "answer", "model": "m1", "prompt_template": "Answer: {{ input }}"}],
        "scoring_config": [{"scorer": "keyword", "config": {"keywords": ["m2"], "mode": "any"}}],
        "parameter_space": {"model": ["m1", "m2"], "temperature": [0.2, 0.8]},
    }


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ.copy() | {"DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": "", "MCP_ENABLED": "false"}
    return subprocess.run([sys.executable, "-m", "promptlooper.cli", "run", *args], env=env, capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)


def test_embedded_gate_passes_and_fails(tmp_path: Path) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        path = tmp_path / "experiment.yaml"
        path.write_text(yaml.safe_dump(_doc(server.base_url)))
        ok = _run(tmp_path, str(path), "--sweep", "grid", "--fail-under", "0.9", "--output", str(tmp_path / "r.json"))
        assert ok.returncode == 0, ok.stderr
        assert "4/4 runs" in ok.stderr and "rank" in ok.stdout and "m2" in ok.stdout
        results = json.loads((tmp_path / "r.json").read_text())
        assert results["best_score"] == 1.0 and len(results["leaderboard"]) == 4
        calls = server.stats()["calls"]
        below = _run(tmp_path, str(path), "--fail-under", "1.5")
        assert below.returncode == 1 and "FAIL" in below.stderr
        assert server.stats()["calls"] == calls, "the second run is served from the cache"


def test_embedded_guided_sweep(tmp_path: Path) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        path = tmp_path / "experiment.yaml"
        doc = _doc(server.base_url) | {"parameter_space": {"model": ["m1", "m2"],
                                                          "temperature": {"min": 0.0, "max": 1.0}}}
        path.write_text(yaml.safe_dump(doc))
        ok = _run(tmp_path, str(path), "--sweep", "guided", "--max-runs", "6", "--fail-under", "0.9",
                  "--output", str(tmp_path / "r.json"))
        assert ok.returncode == 0, ok.stderr
        results = json.loads((tmp_path / "r.json").read_text())
        assert results["best_score"] == 1.0 and len(results["leaderboard"]) == 6
        assert server.stats()["calls"] == 6 * 2


def test_embedded_early_stopping(tmp_path: Path) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        path = tmp_path / "experiment.yaml"
        doc = _doc(server.base_url) | {
            "sample_data": [{"id": f"s{i}", "input": f"about {i}"} for i in range(4)],
            "parameter_space": {"model": ["m1", "m2"], "temperature": [0.1, 0.2, 0.3]}}
        path.write_text(yaml.safe_dump(doc))
        ok = _run(tmp_path, str(path), "--early-stopping", "--min-samples", "1", "--eta", "3", "--fail-under", "0.9",
                  "--output", str(tmp_path / "r.json"))
        assert ok.returncode == 0, ok.stderr
        results = json.loads((tmp_path / "r.json").read_text())
        assert results["best_score"] == 1.0
        # 6 configs x 1 sample, the best 2 on 3 samples (2 more each), the best of those on all 4 (1 more)
        assert server.stats()["calls"] == 6 + 2 * 2 + 1
        assert [e["pruned"] for e in results["leaderboard"]] == [False], "only runs scored on every sample rank"
        assert results["best_run"]["samples_evaluated"] == 4
        assert set(server.answered().values()) == {1}, "no sample called twice for a configuration"


def test_errors_exit_2(tmp_path: Path) -> None:
    tuning = _run(tmp_path, str(tmp_path / "nope.yaml"), "--eta", "3")
    assert tuning.returncode == 2 and "--early-stopping" in tuning.stderr
    low = _run(tmp_path, str(tmp_path / "nope.yaml"), "--early-stopping", "--eta", "1")
    assert low.returncode == 2 and "--eta must be at least 2" in low.stderr
    missing = _run(tmp_path, str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "x", "sample_data": [], "pipeline_stages": [
        {"name": "a", "model": "m", "prompt_template": "{{ nothing }}"}]}))
    invalid = _run(tmp_path, str(bad))
    assert invalid.returncode == 2 and "nothing" in invalid.stderr


def test_against_a_running_server(tmp_path: Path) -> None:
    with LLMServer(models=["m1", "m2"]) as llm, running_server(
        {"DATA_DIR": str(tmp_path / "srv"), "DATABASE_URL": ""}, tmp_path / "server.log"
    ) as server:
        token = httpx2.post(server.url + "/api/v1/auth/setup", json=ADMIN).json()["access_token"]
        key = httpx2.post(server.url + "/api/v1/admin/api-keys", json={"name": "ci"}, headers=bearer(token)).json()["key"]
        path = tmp_path / "experiment.yaml"
        path.write_text(yaml.safe_dump(_doc(llm.base_url)))
        result = _run(tmp_path, str(path), "--server", server.url, "--api-key", key, "--fail-under", "0.5")
        assert result.returncode == 0, result.stderr
        experiments = httpx2.get(server.url + "/api/v1/experiments", headers=bearer(key)).json()
        assert experiments["total"] == 1 and experiments["items"][0]["status"] == "completed"
