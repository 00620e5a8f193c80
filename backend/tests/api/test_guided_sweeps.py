"""Guided sweeps (Optuna TPE) end to end against the loopback LLM server, on SQLite, Postgres and production.

The landscape: the server truncates its answer to `max_tokens` words, so the `length` scorer
(best at exactly TARGET_WORDS words) makes the score depend smoothly on the `max_tokens` range;
the `keyword` scorer on the model name makes `m2` the better model. Scores are deterministic, and
the strategy tells the sampler its history in an order of its own, so a seed fixes the proposals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.flows import make_endpoint, wait_event, wait_status
from tests.support.llm_server import LLMServer

TARGET_WORDS = 60
N_STARTUP = 4
MAX_RUNS = 14
CONCURRENCY = 2
LONG_INPUT = " ".join(f"word{i}" for i in range(140))  # the answer echoes it: longer than any max_tokens


@pytest.fixture(params=["sqlite", "postgres", "production"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """Sweep tests run a third time in production mode: Celery workers on Redis."""
    return str(request.param)


def landscape(client: TestClient, endpoint_id: str, samples: int = 2) -> str:
    """An experiment whose score depends on `max_tokens` (1..120) and the model (m2 is better)."""
    project_id = client.post("/api/v1/projects", json={"name": "guided"}).json()["id"]
    doc = {
        "project_id": project_id, "name": "guided",
        "sample_data": [{"id": f"s{i}", "input": f"{i} {LONG_INPUT}"} for i in range(samples)],
        "pipeline_stages": [{"name": "answer", "endpoint_id": endpoint_id, "model": "m1",
                             "prompt_template": "{{ input }}", "params": {"temperature": 0.5}}],
        "scoring_config": [
            {"scorer": "keyword", "weight": 1.0, "config": {"keywords": ["m2"], "mode": "any"}},
            {"scorer": "length", "weight": 1.0, "config": {"min_words": TARGET_WORDS, "max_words": TARGET_WORDS}},
        ],
        "parameter_space": {"model": ["m1", "m2", "m3"], "max_tokens": {"min": 1, "max": 120, "type": "int"}},
    }
    response = client.post("/api/v1/experiments", json=doc)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _runs(client: TestClient, experiment_id: str) -> list[dict[str, Any]]:
    items = client.get(f"/api/v1/experiments/{experiment_id}/runs", params={"limit": 200}).json()["items"]
    return sorted(items, key=lambda r: (r["started_at"], r["id"]))


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def waves(runs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Runs grouped by wave: a run starting after every earlier-started run had completed opens a new wave."""
    out: list[list[dict[str, Any]]] = []
    latest_end: datetime | None = None
    for run in runs:
        if latest_end is None or _t(run["started_at"]) >= latest_end:
            out.append([])
        out[-1].append(run)
        end = _t(run["completed_at"])
        latest_end = end if latest_end is None else max(latest_end, end)
    return out


def test_guided_sweep_proposes_in_batches_and_improves_on_its_startup_trials(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2", "m3"], latency_s=0.02) as server:
        experiment_id = landscape(admin, make_endpoint(admin, server.base_url))
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={
            "type": "guided", "seed": 5, "max_runs": MAX_RUNS, "concurrency": CONCURRENCY,
            "guided": {"n_startup": N_STARTUP}})
        assert started.status_code == 202, started.text
        assert started.json()["type"] == "guided"
        assert started.json()["total_runs"] == CONCURRENCY, "only the first batch is persisted up front"
        wait_status(admin, experiment_id, timeout_s=120)
        runs = _runs(admin, experiment_id)
        assert len(runs) == MAX_RUNS and len({r["config_hash"] for r in runs}) == MAX_RUNS
        assert {r["status"] for r in runs} == {"completed"}
        assert server.stats()["calls"] == 2 * MAX_RUNS, "every run is new: no configuration twice"
        assert server.peak_in_flight <= CONCURRENCY
        found = waves(runs)
        assert all(len(w) <= CONCURRENCY for w in found), [len(w) for w in found]
        assert len(found) >= MAX_RUNS // CONCURRENCY
        scores = [float(r["weighted_score"]) for r in runs]
        startup, guided = scores[:N_STARTUP], scores[N_STARTUP:]
        assert max(guided) > max(startup), (startup, guided)
        assert max(scores) >= 0.9, scores
        best = admin.get(f"/api/v1/experiments/{experiment_id}/leaderboard", params={"limit": 1}).json()["items"][0]
        assert best["config"]["stages"][0]["model"] == "m2"
        completed = [e for e in wait_event(admin, experiment_id, "experiment.completed")
                     if e["type"] == "experiment.completed"]
        assert len(completed) == 1 and completed[0]["data"]["total"] == MAX_RUNS


def test_guided_sweep_stops_at_a_small_space_and_at_max_runs(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        experiment_id = landscape(admin, endpoint_id, samples=1)
        small = {"parameter_space": {"model": ["m1", "m2"], "max_tokens": [5, 10]}}
        assert admin.put(f"/api/v1/experiments/{experiment_id}", json=small).status_code == 200
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep",
                             json={"type": "guided", "seed": 1, "concurrency": 3})
        assert started.status_code == 202, started.text
        wait_status(admin, experiment_id, timeout_s=60)
        runs = _runs(admin, experiment_id)
        assert len(runs) == 4 and len({r["config_hash"] for r in runs}) == 4, "the space has 4 configurations"
        assert server.stats()["calls"] == 4


def test_budget_stops_a_guided_sweep(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2", "m3"]) as server:
        experiment_id = landscape(admin, make_endpoint(admin, server.base_url), samples=1)
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={
            "type": "guided", "seed": 2, "max_runs": 20, "concurrency": 1, "budget": {"max_tokens": 400}})
        assert started.status_code == 202, started.text
        wait_status(admin, experiment_id, ("paused",), timeout_s=60)
        found = wait_event(admin, experiment_id, "budget.exhausted")
        assert "budget.exhausted" in {e["type"] for e in found}
        done = [r for r in _runs(admin, experiment_id) if r["status"] == "completed"]
        assert 1 <= len(done) < 20 and server.stats()["calls"] == len(done)


def test_guided_options_are_validated(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server:
        experiment_id = landscape(admin, make_endpoint(admin, server.base_url), samples=1)
        for body, loc in (({"type": "guided", "guided": {"n_startup": 0}}, ["body", "guided", "n_startup"]),
                          ({"type": "guided", "guided": {"bogus": 1}}, ["body", "guided", "bogus"]),
                          ({"type": "guided", "max_runs": 0}, ["body", "max_runs"]),
                          ({"type": "grid", "guided": {"n_startup": 2}}, ["body", "guided"])):
            refused = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json=body)
            assert refused.status_code == 422, refused.text
            assert refused.json()["detail"][0]["loc"] == loc, refused.text
        assert server.stats()["calls"] == 0


def test_an_agent_reads_the_sweep_asks_for_suggestions_and_adds_configs(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2", "m3"], latency_s=0.3) as server:
        experiment_id = landscape(admin, make_endpoint(admin, server.base_url), samples=1)
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={
            "type": "guided", "seed": 9, "max_runs": 6, "concurrency": 1, "guided": {"n_startup": 2}})
        assert started.status_code == 202, started.text
        sweep_id = started.json()["sweep_id"]

        sweep = admin.get(f"/api/v1/sweeps/{sweep_id}").json()
        assert sweep["type"] == "guided" and sweep["status"] == "running" and sweep["max_runs"] == 6
        assert sweep["total_runs"] >= 1 and sweep["pending"] + sweep["running"] + sweep["completed"] >= 1

        suggested = admin.get(f"/api/v1/sweeps/{sweep_id}/suggestions", params={"n": 3})
        assert suggested.status_code == 200, suggested.text
        items = suggested.json()["items"]
        assert len(items) == 3 and all(set(i["overrides"]) == {"model", "max_tokens"} for i in items)
        total_before = admin.get(f"/api/v1/sweeps/{sweep_id}").json()["total_runs"]
        assert total_before <= 2, "a suggestion starts nothing"

        mine = {"model": "m2", "max_tokens": TARGET_WORDS}
        added = admin.post(f"/api/v1/sweeps/{sweep_id}/runs", json={"configs": [{"overrides": mine}]})
        assert added.status_code == 201, added.text
        assert added.json()["added"] == 1 and len(added.json()["run_ids"]) == 1
        again = admin.post(f"/api/v1/sweeps/{sweep_id}/runs", json={"configs": [{"overrides": mine}]})
        assert again.status_code == 201 and again.json() == {"added": 0, "run_ids": []}, "already in the sweep"

        bad = admin.post(f"/api/v1/sweeps/{sweep_id}/runs", json={"configs": [{"overrides": {"nope.x.y": 1}}]})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "configs", 0, "overrides"]
        listy = admin.post(f"/api/v1/sweeps/{sweep_id}/runs", json={"configs": [{"overrides": {"max_tokens": [1]}}]})
        assert listy.status_code == 422, listy.text
        many = [{"overrides": {"model": "m1", "max_tokens": k}} for k in range(100, 107)]
        over = admin.post(f"/api/v1/sweeps/{sweep_id}/runs", json={"configs": many})
        assert over.status_code == 409 and over.json()["code"] == "max_runs_reached"

        wait_status(admin, experiment_id, timeout_s=60)
        runs = _runs(admin, experiment_id)
        assert len(runs) == 6 and len({r["config_hash"] for r in runs}) == 6, "the agent's run counts against max_runs"
        ours = next(r for r in runs if r["id"] == added.json()["run_ids"][0])
        assert ours["status"] == "completed" and ours["weighted_score"] == 1.0
        assert server.stats()["calls"] == 6
        done = admin.get(f"/api/v1/sweeps/{sweep_id}").json()
        assert done["status"] == "completed" and done["completed"] == 6 and done["best_score"] == 1.0
        late = admin.post(f"/api/v1/sweeps/{sweep_id}/runs", json={"configs": [{"overrides": {"max_tokens": 3}}]})
        assert late.status_code == 409 and late.json()["code"] == "sweep_not_running"


def test_search_routes_refuse_other_sweeps_and_unknown_ids(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = landscape(admin, make_endpoint(admin, server.base_url), samples=1)
        small = {"parameter_space": {"model": ["m1", "m2"]}}
        assert admin.put(f"/api/v1/experiments/{experiment_id}", json=small).status_code == 200
        grid = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid"}).json()
        wait_status(admin, experiment_id)
        assert admin.get(f"/api/v1/sweeps/{grid['sweep_id']}").json()["completed"] == 2
        refused = admin.get(f"/api/v1/sweeps/{grid['sweep_id']}/suggestions")
        assert refused.status_code == 409 and refused.json()["code"] == "not_a_guided_sweep"
        adding = admin.post(f"/api/v1/sweeps/{grid['sweep_id']}/runs", json={"configs": [{"overrides": {}}]})
        assert adding.status_code == 409 and adding.json()["code"] == "not_a_guided_sweep"
        missing = "00000000-0000-0000-0000-000000000000"
        assert admin.get(f"/api/v1/sweeps/{missing}").status_code == 404
        assert admin.get(f"/api/v1/sweeps/{missing}/suggestions").status_code == 404
        gone = admin.post(f"/api/v1/sweeps/{missing}/runs", json={"configs": [{"overrides": {}}]})
        assert gone.status_code == 404 and gone.json()["code"] == "sweep_not_found"
        assert admin.get(f"/api/v1/sweeps/{grid['sweep_id']}/suggestions", params={"n": 0}).status_code == 422
