"""Every run records who proposed it (`origin`): a grid or random sweep's expansion, a guided sweep's
sampler, an agent adding configurations, a redirect's new space, or one ad-hoc run.

The field is checked where a client reads it: the runs list, a run's detail, the leaderboard and the
run events of the live feed. On SQLite and Postgres with the in-process queue, and in production
mode (Postgres, Redis and two real `promptlooper worker` processes), against the loopback LLM server.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.flows import events, make_endpoint, make_experiment, wait_status, wait_until
from tests.support.llm_server import LLMServer


@pytest.fixture(params=["sqlite", "postgres", "production"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """Sweeps run here, so a third time in production mode: Celery workers on Redis."""
    return str(request.param)


def all_runs(client: TestClient, experiment_id: str) -> list[dict[str, Any]]:
    page = client.get(f"/api/v1/experiments/{experiment_id}/runs", params={"limit": 500}).json()
    assert page["total"] == len(page["items"])
    return list(page["items"])


def run_event_origins(client: TestClient, experiment_id: str, runs: list[dict[str, Any]]) -> dict[str, set[str | None]]:
    """The origins the live feed's run events carried, per run id, once every run's finish is persisted."""
    found: dict[str, set[str | None]] = {}

    def finished() -> bool:
        found.clear()
        done = set()
        for event in events(client, experiment_id):
            if event["type"] in ("run.started", "run.completed", "run.cached") and event["run_id"]:
                found.setdefault(event["run_id"], set()).add(event["data"].get("origin"))
                if event["type"] != "run.started":
                    done.add(event["run_id"])
        return done >= {r["id"] for r in runs}

    wait_until(finished, "every run's finish event", timeout_s=10)
    return found


def test_grid_random_and_adhoc_runs_say_who_proposed_them(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1)
        grid = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid"})
        assert grid.status_code == 202, grid.text
        wait_status(admin, experiment_id)
        random = admin.post(f"/api/v1/experiments/{experiment_id}/sweep",
                            json={"type": "random", "max_runs": 3, "seed": 4})
        assert random.status_code == 202, random.text
        wait_status(admin, experiment_id)
        adhoc = admin.post("/api/v1/runs", json={"experiment_id": experiment_id,
                                                  "overrides": {"model": "m2", "temperature": 0.3}})
        assert adhoc.status_code == 201, adhoc.text
        assert adhoc.json()["origin"] == "user"

        runs = all_runs(admin, experiment_id)
        by_sweep = {grid.json()["sweep_id"]: "grid", random.json()["sweep_id"]: "random", None: "user"}
        assert len(runs) == 4 + 3 + 1
        assert {r["id"]: r["origin"] for r in runs} == {r["id"]: by_sweep[r["sweep_id"]] for r in runs}
        detail = admin.get(f"/api/v1/runs/{adhoc.json()['id']}").json()
        assert detail["origin"] == "user"
        board = admin.get(f"/api/v1/experiments/{experiment_id}/leaderboard", params={"limit": 50}).json()["items"]
        runs_by_id = {r["id"]: r for r in runs}
        assert board and all(e["origin"] == runs_by_id[e["run_id"]]["origin"] for e in board)
        told = run_event_origins(admin, experiment_id, runs)
        assert told == {r["id"]: {r["origin"]} for r in runs}


def test_guided_runs_are_the_samplers_and_added_configs_the_agents(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2", "m3"], latency_s=0.3) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1,
                                        space={"model": ["m1", "m2", "m3"],
                                               "max_tokens": {"min": 1, "max": 120, "type": "int"}})
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={
            "type": "guided", "seed": 3, "max_runs": 5, "concurrency": 1, "guided": {"n_startup": 2}})
        assert started.status_code == 202, started.text
        sweep_id = started.json()["sweep_id"]
        mine = {"model": "m2", "max_tokens": 77}
        added = admin.post(f"/api/v1/sweeps/{sweep_id}/runs", json={"configs": [{"overrides": mine}]})
        assert added.status_code == 201, added.text
        agent_run = added.json()["run_ids"][0]
        wait_status(admin, experiment_id, timeout_s=60)

        runs = all_runs(admin, experiment_id)
        assert len(runs) == 5 and {r["status"] for r in runs} == {"completed"}
        origins = {r["id"]: r["origin"] for r in runs}
        assert origins.pop(agent_run) == "agent"
        assert set(origins.values()) == {"sampler"}, origins
        assert admin.get(f"/api/v1/runs/{agent_run}").json()["origin"] == "agent"
        board = admin.get(f"/api/v1/experiments/{experiment_id}/leaderboard", params={"limit": 10}).json()["items"]
        assert {e["origin"] for e in board} == {"sampler", "agent"}
        told = run_event_origins(admin, experiment_id, runs)
        assert told[agent_run] == {"agent"}
        assert all(told[run_id] == {"sampler"} for run_id in origins)


def test_runs_a_redirect_adds_are_the_redirects(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1,
                                        models=["m1"], temperatures=[0.1, 0.2, 0.3])
        server.hold_after(1)  # one run finishes, the second is held in flight: the sweep is mid-way
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid", "concurrency": 1})
        assert started.status_code == 202, started.text
        wait_until(lambda: server.in_flight == 1, "one run in flight")
        redirected = admin.post(f"/api/v1/experiments/{experiment_id}/redirect", json={
            "parameter_space": {"model": ["m1", "m2"], "temperature": [0.1, 0.2, 0.3]}})
        assert redirected.status_code == 200, redirected.text
        assert redirected.json()["added"] == 3 and redirected.json()["dropped"] == 0
        server.release()
        wait_status(admin, experiment_id)

        runs = all_runs(admin, experiment_id)
        assert len(runs) == 6 and {r["status"] for r in runs} == {"completed"}
        for run in runs:
            model = run["config"]["stages"][0]["model"]
            assert run["origin"] == ("redirect" if model == "m2" else "grid"), run
        told = run_event_origins(admin, experiment_id, runs)
        assert {r["id"]: told[r["id"]] for r in runs} == {r["id"]: {r["origin"]} for r in runs}
