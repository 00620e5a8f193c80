"""A server killed while its optimizer round is in flight asks again after a restart, and the sweep goes on."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.support.environment import ADMIN, bearer
from tests.support.llm_server import REWRITE_SUFFIXES, LLMServer
from tests.support.server import crash_env, running_server, start_server


def _wait(fetch: Any, until: Any, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = fetch()
        if until(value):
            return value
        time.sleep(0.1)
    raise AssertionError(f"still {value}")


def test_kill_during_the_optimizer_call_then_resume(db_backend: str, tmp_path: Path,
                                                    request: pytest.FixtureRequest) -> None:
    env = crash_env(db_backend, tmp_path, request)
    with LLMServer(models=["m1", "optimizer"]) as llm:
        llm.hold_after(2)  # both runs are answered; the optimizer's call is parked
        server = start_server(env, tmp_path / "first.log")
        try:
            token = httpx2.post(server.url + "/api/v1/auth/setup", json=ADMIN).json()["access_token"]
            headers = bearer(token)
            endpoint = httpx2.post(server.url + "/api/v1/endpoints", headers=headers,
                                  json={"label": "mock", "url": llm.base_url}).json()["id"]
            project = httpx2.post(server.url + "/api/v1/projects", headers=headers, json={"name": "p"}).json()["id"]
            doc = {"project_id": project, "name": "rewrite",
                   "sample_data": [{"id": "s1", "input": "one two three four five six"}],
                   "pipeline_stages": [{"name": "a", "endpoint_id": endpoint, "model": "m1",
                                        "prompt_template": "Q: {{ input }}"}],
                   "scoring_config": [{"scorer": "length", "config": {"max_words": 5}}],
                   "parameter_space": {"max_tokens": {"min": 1, "max": 30, "type": "int"}}}
            experiment = httpx2.post(server.url + "/api/v1/experiments", headers=headers, json=doc).json()["id"]
            started = httpx2.post(server.url + f"/api/v1/experiments/{experiment}/sweep", headers=headers, json={
                "type": "guided", "seed": 1, "max_runs": 2, "concurrency": 2,
                "guided": {"rewrite": {"endpoint_id": endpoint, "model": "optimizer", "every": 2}}})
            assert started.status_code == 202, started.text
            sweep_id = started.json()["sweep_id"]
            _wait(lambda: (llm.calls, llm.in_flight), lambda v: v == (3, 1))  # the optimizer call is parked
        finally:
            server.stop(signal.SIGKILL)
        llm.release()

        with running_server(env, tmp_path / "second.log") as again:
            def page() -> dict[str, Any]:
                return dict(httpx2.get(again.url + f"/api/v1/sweeps/{sweep_id}/proposals", headers=headers).json())

            found = _wait(page, lambda p: p["total"] == 2, timeout_s=60)
            assert [r["status"] for r in found["rounds"]] == ["done"], "the lost round was claimed and asked again"
            texts = sorted(p["text"] for p in found["items"])
            assert texts == sorted(f"Q: {{{{ input }}}} {s}" for s in REWRITE_SUFFIXES[:2])
            for proposal in found["items"]:
                decided = httpx2.post(again.url + f"/api/v1/proposals/{proposal['id']}/reject", headers=headers)
                assert decided.status_code == 200, decided.text
            status = _wait(lambda: httpx2.get(again.url + f"/api/v1/experiments/{experiment}", headers=headers)
                           .json()["status"], lambda s: s == "completed", timeout_s=60)
            assert status == "completed", again.log()
        assert llm.stats()["calls"] == 4, "two runs, the optimizer call lost with the server, the one asked again"
