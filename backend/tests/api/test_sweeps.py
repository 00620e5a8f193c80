"""Sweeps end to end against a loopback LLM server: grid, cache, pause/resume/stop, budgets, 409."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from promptlooper.tests.support.flows import make_endpoint, make_experiment, wait_event, wait_status
from promptlooper.tests.support.llm_server import LLMServer


def test_grid_sweep_runs_every_combination_and_rerun_is_all_cached(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        experiment_id = make_experiment(admin, endpoint_id, samples=3)
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid", "concurrency": 4})
        assert started.status_code == 202, started.text
        assert started.json()["total_runs"] == 4 and started.json()["status"] == "running"
        wait_status(admin, experiment_id)
        runs = admin.get(f"/api/v1/experiments/{experiment_id}/runs").json()
        assert runs["total"] == 4
        assert {r["status"] for r in runs["items"]} == {"completed"}
        assert all(r["llm_calls"] == 3 and r["cache_hits"] == 0 for r in runs["items"])
        assert server.stats()["calls"] == 12
        best = runs["items"][0]
        assert best["config"]["stages"][0]["model"] == "m2" and best["weighted_score"] == 1.0
        assert set(best["scores"]) == {"keyword", "length"}

        again = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid"})
        assert again.status_code == 202
        wait_status(admin, experiment_id)
        assert server.stats()["calls"] == 12, "a re-run must not call the endpoint again"
        cached = admin.get(f"/api/v1/experiments/{experiment_id}/runs",
                           params={"sweep_id": again.json()["sweep_id"]}).json()
        assert {r["status"] for r in cached["items"]} == {"cached"}
        stats = admin.get("/api/v1/admin/stats").json()["cache"]
        assert stats["entries"] == 12 and stats["hits"] == 12 and stats["hit_rate"] == 0.5


def test_second_concurrent_sweep_is_409(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"], latency_s=0.3) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=2)
        assert admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={}).status_code == 202
        second = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={})
        assert second.status_code == 409 and second.json()["code"] == "sweep_already_running"
        wait_status(admin, experiment_id)


def wait_runs(client: TestClient, experiment_id: str, count: int, timeout_s: float = 30.0) -> None:
    """Wait until at least `count` runs are completed (the sweep is really under way)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = client.get(f"/api/v1/experiments/{experiment_id}/runs", params={"status": "completed"}).json()["total"]
        if done >= count:
            return
        time.sleep(0.01)
    raise AssertionError("the sweep did not start")


def test_pause_resume_finishes_exactly_the_rest(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"], latency_s=0.15) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        experiment_id = make_experiment(admin, endpoint_id, samples=1, temperatures=[0.1, 0.2, 0.3, 0.4, 0.5])
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"concurrency": 1})
        wait_runs(admin, experiment_id, 1)
        paused = admin.post(f"/api/v1/experiments/{experiment_id}/pause")
        assert paused.status_code == 200 and paused.json()["status"] == "paused"
        deadline = time.monotonic() + 20  # the in-flight run finishes; no new one starts
        while admin.get(f"/api/v1/experiments/{experiment_id}/runs",
                        params={"status": "running"}).json()["total"] and time.monotonic() < deadline:
            time.sleep(0.02)
        done_while_paused = admin.get(f"/api/v1/experiments/{experiment_id}/runs",
                                      params={"status": "completed"}).json()["total"]
        assert 0 < done_while_paused < 10
        time.sleep(0.4)
        assert admin.get(f"/api/v1/experiments/{experiment_id}/runs",
                         params={"status": "completed"}).json()["total"] == done_while_paused
        assert admin.post(f"/api/v1/experiments/{experiment_id}/pause").status_code == 409
        resumed = admin.post(f"/api/v1/experiments/{experiment_id}/resume")
        assert resumed.status_code == 200 and resumed.json()["status"] == "running"
        wait_status(admin, experiment_id)
        assert admin.get(f"/api/v1/experiments/{experiment_id}/runs", params={"status": "completed"}).json()["total"] == 10
        assert server.stats()["calls"] == 10
        types = [e["type"] for e in wait_event(admin, experiment_id, "experiment.completed")]
        assert "experiment.paused" in types and types[-1] == "experiment.completed"


def test_stop_drops_runs_not_started(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"], latency_s=0.15) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1,
                                        temperatures=[0.1, 0.2, 0.3, 0.4, 0.5])
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"concurrency": 1})
        wait_runs(admin, experiment_id, 1)
        stopped = admin.post(f"/api/v1/experiments/{experiment_id}/stop")
        assert stopped.status_code == 200 and stopped.json()["status"] == "completed"
        time.sleep(0.4)
        runs = admin.get(f"/api/v1/experiments/{experiment_id}/runs").json()
        assert 0 < runs["total"] < 10
        assert server.stats()["calls"] <= runs["total"]
        assert admin.post(f"/api/v1/experiments/{experiment_id}/stop").status_code == 409


def test_token_budget_pauses_with_event(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=2,
                                        temperatures=[0.1, 0.2, 0.3, 0.4, 0.5])
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep",
                   json={"concurrency": 1, "budget": {"max_tokens": 60}})
        wait_status(admin, experiment_id, ("paused",))
        types = [e["type"] for e in wait_event(admin, experiment_id, "experiment.paused")]
        assert "budget.exhausted" in types and "experiment.paused" in types
        done = admin.get(f"/api/v1/experiments/{experiment_id}/runs", params={"status": "completed"}).json()["total"]
        assert 0 < done < 10


def test_failed_stage_fails_only_that_run(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        server.script(["401"])
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1,
                                        models=["m1"], temperatures=[0.1, 0.9])
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"concurrency": 1})
        wait_status(admin, experiment_id)
        runs = admin.get(f"/api/v1/experiments/{experiment_id}/runs", params={"sort": "created_at"}).json()["items"]
        assert sorted(r["status"] for r in runs) == ["completed", "failed"]
        failed = next(r for r in runs if r["status"] == "failed")
        assert "401" in failed["error"]
        detail = admin.get(f"/api/v1/runs/{failed['id']}").json()
        assert detail["stage_results"][0]["error"]


def test_sweep_errors(admin: TestClient) -> None:
    import uuid

    assert admin.post(f"/api/v1/experiments/{uuid.uuid4()}/sweep", json={}).status_code == 404
    with LLMServer(models=["m1"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1)
        assert admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "nope"}).status_code == 422
        assert admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"repeats": 0}).status_code == 422
        assert admin.post(f"/api/v1/experiments/{experiment_id}/resume").status_code == 409


def test_random_sweep_is_seeded_capped_and_deduplicated(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        space = {"model": ["m1", "m2"], "temperature": {"min": 0.0, "max": 1.0, "step": 0.5}}
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1, space=space)
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep",
                             json={"type": "random", "max_runs": 50, "seed": 7})
        assert started.status_code == 202
        assert started.json()["total_runs"] == 6, "only 2 x 3 distinct configurations exist"
        wait_status(admin, experiment_id)
        runs = admin.get(f"/api/v1/experiments/{experiment_id}/runs", params={"limit": 100}).json()["items"]
        assert len({r["config_hash"] for r in runs}) == 6
        temps = {r["config"]["stages"][0]["params"]["temperature"] for r in runs}
        assert temps <= {0.0, 0.5, 1.0}
        capped = admin.post(f"/api/v1/experiments/{experiment_id}/sweep",
                            json={"type": "random", "max_runs": 3, "seed": 7, "repeats": 2})
        assert capped.json()["total_runs"] == 6
        wait_status(admin, experiment_id)
        repeated = admin.get(f"/api/v1/experiments/{experiment_id}/runs",
                             params={"sweep_id": capped.json()["sweep_id"]}).json()["items"]
        assert sorted(r["repeat_index"] for r in repeated) == [0, 0, 0, 1, 1, 1]
