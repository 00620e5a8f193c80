"""Early stopping survives a SIGKILL mid-rung: the restarted server continues the halving from the runs
table alone, re-calls no answered (configuration, sample) and ends as an unbroken sweep would."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2
import pytest

from promptlooper.services.halving import projected_calls
from tests.support.llm_server import LLMServer
from tests.support.server import crash_env, running_server, served_project, start_server, wait_completed

CONCURRENCY = 2
SAMPLES, MIN_SAMPLES, ETA = 9, 1, 3  # rungs 1 -> 3 -> 9
MAX_TOKENS = [4, 7, 9, 12, 15, 18, 21, 30, 45]  # the length scorer (best at 20 words) ranks them all apart
RUNG0 = len(MAX_TOKENS) * MIN_SAMPLES


def _doc(project: str, endpoint: str) -> dict[str, Any]:
    long_input = " ".join(f"w{i}" for i in range(60))
    return {"project_id": project, "name": "halving-crash",
            "sample_data": [{"id": f"s{i}", "input": f"{i} {long_input}"} for i in range(SAMPLES)],
            "pipeline_stages": [{"name": "a", "endpoint_id": endpoint, "model": "m1", "prompt_template": "{{ input }}"}],
            "scoring_config": [{"scorer": "length", "config": {"min_words": 20, "max_words": 20}}],
            "parameter_space": {"max_tokens": MAX_TOKENS}}


def test_kill_mid_rung_then_resume_continues_the_halving(db_backend: str, tmp_path: Path,
                                                         request: pytest.FixtureRequest) -> None:
    env = crash_env(db_backend, tmp_path, request)
    best_case, _ = projected_calls(len(MAX_TOKENS), SAMPLES, MIN_SAMPLES, ETA, 1)
    with LLMServer(models=["m1"], latency_s=0.02) as llm:
        llm.hold_after(RUNG0 + 2)  # rung 0 and two calls of rung 1 answered; the next ones are parked
        server = start_server(env, tmp_path / "first.log")
        try:
            headers, endpoint, project = served_project(server.url, llm.base_url)
            experiment = httpx2.post(server.url + "/api/v1/experiments", headers=headers,
                                    json=_doc(project, endpoint)).json()["id"]
            started = httpx2.post(server.url + f"/api/v1/experiments/{experiment}/sweep", headers=headers,
                                 json={"concurrency": CONCURRENCY,
                                       "early_stopping": {"min_samples": MIN_SAMPLES, "eta": ETA}})
            assert started.status_code == 202, started.text
            deadline = time.monotonic() + 30
            # Two rung-1 calls answered and a third parked: rung 1 is persisted and part-way.
            while sum(llm.answered().values()) < RUNG0 + 2 or llm.stats()["in_flight"] == 0:
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.02)
            time.sleep(0.2)  # let the cache flush what was answered
        finally:
            server.stop(signal.SIGKILL)
        answered_before = llm.answered()
        assert sum(answered_before.values()) == RUNG0 + 2, "the kill landed inside rung 1"
        llm.release()

        with running_server(env, tmp_path / "second.log") as again:
            runs = wait_completed(again.url, headers, experiment, again.log())
            details = [httpx2.get(again.url + f"/api/v1/runs/{r['id']}", headers=headers).json() for r in runs]
    assert len(runs) == len(MAX_TOKENS), "no run lost, none duplicated"
    assert Counter(r["status"] for r in runs) == {"pruned": 8, "completed": 1}
    assert Counter(r["samples_evaluated"] for r in runs) == {1: 6, 3: 2, 9: 1}
    for detail in details:
        samples = [s["sample_id"] for s in detail["stage_results"]]
        assert len(samples) == len(set(samples)) == detail["samples_evaluated"], detail["stage_results"]
    winner = next(r for r in runs if r["status"] == "completed")
    assert winner["config"]["stages"][0]["params"]["max_tokens"] == 21, "the halving chose as unbroken"
    after = llm.answered()
    repaid = {digest for digest, n in answered_before.items() if after[digest] != n}
    assert not repaid, "an answered (configuration, sample) was called again after the restart"
    # Only the calls parked at the kill (at most CONCURRENCY) may have been answered twice.
    assert best_case <= sum(after.values()) <= best_case + CONCURRENCY
