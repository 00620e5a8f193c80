"""A server killed mid-sweep resumes on start with exactly the runs not done, paying no completed call twice."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx2
import pytest

from tests.support.llm_server import LLMServer
from tests.support.server import crash_env, running_server, served_project, start_server, wait_completed

CONCURRENCY = 2


def test_kill_mid_sweep_then_resume(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    env = crash_env(db_backend, tmp_path, request)
    with LLMServer(models=["m1", "m2"], latency_s=0.1) as llm:
        server = start_server(env, tmp_path / "first.log")
        try:
            headers, endpoint, project = served_project(server.url, llm.base_url)
            doc = {"project_id": project, "name": "crash",
                   "sample_data": [{"id": f"s{i}", "input": f"text {i}"} for i in range(4)],
                   "pipeline_stages": [{"name": "a", "endpoint_id": endpoint, "model": "m1",
                                        "prompt_template": "Q: {{ input }}"}],
                   "scoring_config": [{"scorer": "length", "config": {"max_words": 50}}],
                   "parameter_space": {"model": ["m1", "m2"], "temperature": [0.1, 0.3, 0.5, 0.7, 0.9]}}
            experiment = httpx2.post(server.url + "/api/v1/experiments", headers=headers, json=doc).json()["id"]
            httpx2.post(server.url + f"/api/v1/experiments/{experiment}/sweep", headers=headers,
                       json={"concurrency": CONCURRENCY})
            deadline = time.monotonic() + 30
            while llm.stats()["calls"] < 12 and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            server.stop(signal.SIGKILL)
        calls_before = llm.stats()["calls"]
        assert 0 < calls_before < 40, "the kill must land mid-sweep"
        cached_at_kill = _cache_entries(env)
        assert 0 < cached_at_kill <= calls_before

        with running_server(env, tmp_path / "second.log") as again:
            deadline = time.monotonic() + 60
            status = ""
            while time.monotonic() < deadline:
                status = httpx2.get(again.url + f"/api/v1/experiments/{experiment}", headers=headers).json()["status"]
                if status == "completed":
                    break
                time.sleep(0.1)
            assert status == "completed", again.log()
            runs = httpx2.get(again.url + f"/api/v1/experiments/{experiment}/runs", headers=headers,
                             params={"limit": 100}).json()
        assert runs["total"] == 10, "no run lost, none duplicated"
        assert {r["status"] for r in runs["items"]} <= {"completed", "cached"}
        assert sum(r["llm_calls"] for r in runs["items"]) == 40
        repeated = llm.stats()["calls"] - 40
        # Only calls whose answer was not yet stored when the process died (in flight, at most CONCURRENCY,
        # or in the cache's last write batch) may be made again; every stored answer is served from the cache.
        assert 0 <= repeated <= calls_before - cached_at_kill, f"{repeated} calls were paid twice"
        assert repeated < calls_before, "the answers stored before the kill were served from the cache"


def _cache_entries(env: dict[str, str]) -> int:
    """Cached responses in the (dead) server's database right now."""
    if env["DATABASE_URL"]:
        import asyncio

        import asyncpg

        async def _count() -> int:
            conn = await asyncpg.connect(env["DATABASE_URL"], timeout=5)
            try:
                return int(await conn.fetchval("SELECT count(*) FROM response_cache"))
            finally:
                await conn.close()

        return asyncio.run(_count())
    import sqlite3

    with sqlite3.connect(Path(env["DATA_DIR"]) / "promptlooper.db") as conn:
        return int(conn.execute("SELECT count(*) FROM response_cache").fetchone()[0])


def test_kill_between_the_waves_of_a_strategy_then_resume(db_backend: str, tmp_path: Path,
                                                          request: pytest.FixtureRequest) -> None:
    """The second wave is persisted when the first is done; a kill then loses no run and adds no wave."""
    from tests.support.strategies import WAVE2_SIZE, strategy_env

    env = crash_env(db_backend, tmp_path, request) | strategy_env()
    samples, first_wave = 2, 4
    with LLMServer(models=["m1", "m2"], latency_s=0.02) as llm:
        llm.hold_after(samples * first_wave)  # the first wave is answered; the second's calls are parked
        server = start_server(env, tmp_path / "first.log")
        try:
            headers, endpoint, project = served_project(server.url, llm.base_url)
            doc = {"project_id": project, "name": "waves",
                   "sample_data": [{"id": f"s{i}", "input": f"text {i}"} for i in range(samples)],
                   "pipeline_stages": [{"name": "a", "endpoint_id": endpoint, "model": "m1",
                                        "prompt_template": "Q: {{ input }}"}],
                   "scoring_config": [{"scorer": "keyword", "config": {"keywords": ["m2"], "mode": "any"}}],
                   "parameter_space": {"model": ["m1", "m2"], "temperature": [0.1, 0.9]}}
            experiment = httpx2.post(server.url + "/api/v1/experiments", headers=headers, json=doc).json()["id"]
            started = httpx2.post(server.url + f"/api/v1/experiments/{experiment}/sweep", headers=headers,
                                 json={"type": "two_wave", "concurrency": 2})
            assert started.status_code == 202, started.text
            deadline = time.monotonic() + 30
            while llm.stats()["in_flight"] == 0:  # a second-wave call is parked: wave 2 is persisted
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.02)
        finally:
            server.stop(signal.SIGKILL)
        llm.release()

        with running_server(env, tmp_path / "second.log") as again:
            deadline = time.monotonic() + 60
            status = ""
            while time.monotonic() < deadline:
                status = httpx2.get(again.url + f"/api/v1/experiments/{experiment}", headers=headers).json()["status"]
                if status == "completed":
                    break
                time.sleep(0.1)
            assert status == "completed", again.log()
            runs = httpx2.get(again.url + f"/api/v1/experiments/{experiment}/runs", headers=headers,
                             params={"limit": 100}).json()["items"]
    assert len(runs) == first_wave + WAVE2_SIZE, "no run lost, no wave proposed twice"
    assert {r["status"] for r in runs} <= {"completed", "cached"}
    second = {r["config_hash"] for r in runs if r["repeat_index"] == 1}
    best = sorted((r for r in runs if r["repeat_index"] == 0), key=lambda r: -r["weighted_score"])[:WAVE2_SIZE]
    assert second == {r["config_hash"] for r in best}
    assert sum(r["llm_calls"] for r in runs) == samples * len(runs)
    # Wave 2 repeats configs (same request, another repeat index), so a digest may be answered twice;
    # beyond that only the calls parked at the kill (at most CONCURRENCY) may have been paid again.
    assert samples * len(runs) <= sum(llm.answered().values()) <= samples * len(runs) + CONCURRENCY


def _guided_doc(project: str, endpoint: str, name: str) -> dict[str, object]:
    return {"project_id": project, "name": name,
            "sample_data": [{"id": f"s{i}", "input": f"text {i}"} for i in range(2)],
            "pipeline_stages": [{"name": "a", "endpoint_id": endpoint, "model": "m1", "prompt_template": "Q: {{ input }}"}],
            "scoring_config": [{"scorer": "keyword", "config": {"keywords": ["m2"], "mode": "any"}}],
            "parameter_space": {"model": ["m1", "m2"], "temperature": {"min": 0.0, "max": 1.0, "step": 0.1}}}


def test_kill_mid_guided_sweep_then_resume_continues_the_same_study(db_backend: str, tmp_path: Path,
                                                                    request: pytest.FixtureRequest) -> None:
    """Killed during its third wave, a guided sweep resumes with the same proposals an unbroken one makes."""
    env = crash_env(db_backend, tmp_path, request)
    samples, max_runs = 2, 8
    sweep_body = {"type": "guided", "seed": 11, "max_runs": max_runs, "concurrency": CONCURRENCY,
                  "guided": {"n_startup": 2}}
    with LLMServer(models=["m1", "m2"], latency_s=0.02) as llm:
        llm.hold_after(samples * 2 * CONCURRENCY)  # two waves answered; the third wave's calls are parked
        server = start_server(env, tmp_path / "first.log")
        try:
            headers, endpoint, project = served_project(server.url, llm.base_url)
            experiment = httpx2.post(server.url + "/api/v1/experiments", headers=headers,
                                    json=_guided_doc(project, endpoint, "killed")).json()["id"]
            started = httpx2.post(server.url + f"/api/v1/experiments/{experiment}/sweep", headers=headers,
                                 json=sweep_body)
            assert started.status_code == 202, started.text
            deadline = time.monotonic() + 30
            while llm.stats()["in_flight"] == 0:  # a third-wave call is parked: that wave is persisted
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.02)
        finally:
            server.stop(signal.SIGKILL)
        llm.release()

        with running_server(env, tmp_path / "second.log") as again:
            runs = wait_completed(again.url, headers, experiment, again.log())
            answered_after_resume = sum(llm.answered().values())
            reference = httpx2.post(again.url + "/api/v1/experiments", headers=headers,
                                   json=_guided_doc(project, endpoint, "unbroken")).json()["id"]
            assert httpx2.post(again.url + f"/api/v1/experiments/{reference}/sweep", headers=headers,
                              json=sweep_body).status_code == 202
            unbroken = wait_completed(again.url, headers, reference, again.log())
    assert len(runs) == max_runs and len({r["config_hash"] for r in runs}) == max_runs, "no run lost or run twice"
    assert {r["status"] for r in runs} <= {"completed", "cached"}
    assert sum(int(str(r["llm_calls"])) for r in runs) == samples * max_runs
    # Only the calls parked at the kill (at most CONCURRENCY) may have been paid again.
    assert samples * max_runs <= answered_after_resume <= samples * max_runs + CONCURRENCY
    assert {r["config_hash"] for r in unbroken} == {r["config_hash"] for r in runs}, "the same study continued"
    assert {r["status"] for r in unbroken} == {"cached"}, "the unbroken sweep's configs were all paid already"
