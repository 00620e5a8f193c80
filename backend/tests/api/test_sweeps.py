"""Sweeps end to end against a loopback LLM server: grid, cache, pause/resume/stop, budgets, 409.

On SQLite and Postgres with the in-process queue, and in production mode (Postgres, Redis and two
real `promptlooper worker` processes).
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from tests.support.flows import make_endpoint, make_experiment, wait_event, wait_status
from tests.support.llm_server import LLMServer


@pytest.fixture(params=["sqlite", "postgres", "production"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """These engine integration tests run a third time in production mode: Celery workers on Redis."""
    return str(request.param)


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


def _estimate_doc(endpoint_id: str, space: dict[str, object]) -> dict[str, object]:
    return {
        "name": "draft",
        "sample_data": [{"id": "a", "input": "x" * 400}, {"id": "b", "input": "y" * 40}],
        "pipeline_stages": [
            {"name": "first", "endpoint_id": endpoint_id, "model": "m1", "prompt_template": "Q: {{ input }}",
             "params": {"max_tokens": 100}},
            {"name": "second", "endpoint_id": endpoint_id, "model": "m1", "prompt_template": "Shorten {{ previous }}"},
        ],
        "parameter_space": space,
    }


def test_estimate_counts_runs_calls_tokens_and_cost_without_saving(admin: TestClient) -> None:
    endpoint_id = make_endpoint(admin, "http://127.0.0.1:9/v1",
                                pricing={"m1": {"input_per_1m": 1_000_000.0, "output_per_1m": 0.0}})
    doc = _estimate_doc(endpoint_id, {"temperature": [0.1, 0.5, 0.9], "stages.first.model": ["m1", "m2"]})
    answer = admin.post("/api/v1/experiments/estimate", json={"document": doc})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["runs"], body["samples"], body["stages"], body["calls"]) == (6, 2, 2, 24)
    # Output: stage 1 assumes its max_tokens (100), stage 2 the default 256, per sample and run.
    assert body["tokens_out"] == 6 * 2 * (100 + 256)
    # Input grows with the sample: 400 chars is ~100 tokens; the second stage sees ~100 tokens of `previous`.
    assert 6 * 2 * (10 + 100) < body["tokens_in"] < 6 * 2 * (130 + 130)
    assert body["priced"] is False, "m2 has no price"
    assert body["cost"] > 0
    assert admin.get("/api/v1/experiments").json()["total"] == 0, "an estimate saves nothing"

    capped = admin.post("/api/v1/experiments/estimate", json={"document": doc, "max_runs": 4, "repeats": 2}).json()
    assert (capped["runs"], capped["calls"]) == (8, 32)
    random = admin.post("/api/v1/experiments/estimate", json={"document": doc, "type": "random", "max_runs": 3})
    assert random.json()["runs"] == 3


def test_estimate_reports_document_problems_and_huge_grids(admin: TestClient) -> None:
    endpoint_id = make_endpoint(admin, "http://127.0.0.1:9/v1")
    bad = _estimate_doc(endpoint_id, {})
    bad["pipeline_stages"][0]["prompt_template"] = "{{ nope }}"  # type: ignore[index]
    answer = admin.post("/api/v1/experiments/estimate", json={"document": bad})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][:3] == ["body", "document", "pipeline_stages"]
    huge = _estimate_doc(endpoint_id, {f"vars.v{i}": list(range(10)) for i in range(6)})
    too_big = admin.post("/api/v1/experiments/estimate", json={"document": huge})
    assert too_big.status_code == 400 and too_big.json()["code"] == "sweep_too_large"
    assert "1,000,000" in too_big.json()["detail"]
    assert admin.post("/api/v1/experiments/estimate", json={"document": huge, "max_runs": 50}).json()["runs"] == 50


def test_a_strategy_proposes_a_second_wave_from_the_first_waves_scores(admin: TestClient) -> None:
    from tests.support.strategies import WAVE2_SIZE

    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=2)
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "two_wave", "concurrency": 2})
        assert started.status_code == 202, started.text
        assert started.json()["total_runs"] == 4, "the first wave is persisted up front"
        wait_status(admin, experiment_id)
        runs = admin.get(f"/api/v1/experiments/{experiment_id}/runs", params={"limit": 100}).json()["items"]
        assert len(runs) == 4 + WAVE2_SIZE
        first = [r for r in runs if r["repeat_index"] == 0]
        second = [r for r in runs if r["repeat_index"] == 1]
        best_first = sorted(first, key=lambda r: -r["weighted_score"])[:WAVE2_SIZE]
        assert {r["config_hash"] for r in second} == {r["config_hash"] for r in best_first}
        assert {r["config"]["stages"][0]["model"] for r in second} == {"m2"}, "the keyword scorer favours m2"
        assert {r["status"] for r in runs} == {"completed"} and server.stats()["calls"] == 2 * len(runs)
        found = wait_event(admin, experiment_id, "experiment.completed")
        completed = [e for e in found if e["type"] == "experiment.completed"]
        assert len(completed) == 1 and completed[0]["data"]["total"] == 6 and completed[0]["data"]["completed"] == 6


def test_unknown_and_guided_sweep_types_are_refused(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1)
        guided = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "guided"})
        assert guided.status_code == 400 and guided.json()["code"] == "unsupported_sweep_type"
        unknown = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "annealing"})
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "type"]
        assert admin.get(f"/api/v1/experiments/{experiment_id}").json()["status"] != "running"


# --- one policy, two modes: the same events and payload shapes -----------------------------------

PROGRESS_KEYS = {"completed", "total", "failed", "cached", "tokens_in", "tokens_out", "cost_estimate", "eta_s"}
EVENT_KEYS = {  # at least these data fields, in every mode
    "sweep.started": {"type", "total", "options"},
    "experiment.started": {"total"},
    "run.started": {"config_hash"},
    "stage.completed": {"stage_index", "stage_name", "sample_id", "cached", "tokens_in", "tokens_out",
                        "latency_ms", "error"},
    "run.completed": {"status", "weighted_score", "scores", "error", "tokens_in", "tokens_out", "cost_estimate",
                      "llm_calls", "cache_hits", "duration_ms", "config"},
    "run.failed": {"status", "weighted_score", "error", "config"},
    "sweep.progress": PROGRESS_KEYS,
    "new_best_found": {"weighted_score", "previous_best", "config"},
    "experiment.paused": PROGRESS_KEYS | {"reason"},
    "experiment.resumed": set(),
    "experiment.completed": PROGRESS_KEYS | {"best_score"},
    "budget.exhausted": {"token_count", "cost", "max_tokens", "max_cost_usd"},
}
CARRY_PROGRESS = ("sweep.progress", "experiment.paused", "experiment.completed")
SWEEP_LEVEL = ("sweep.started", "experiment.started", "experiment.paused", "experiment.resumed",
               "experiment.completed", "budget.exhausted")


def _check_shapes(found: list[dict[str, object]]) -> None:
    """Every event has its type's fields; progress-carrying events carry one and the same progress shape."""
    progress_shapes = set()
    for event in found:
        data = event["data"]
        assert isinstance(data, dict)
        assert EVENT_KEYS[str(event["type"])] <= set(data), (event["type"], sorted(data))
        if event["type"] in CARRY_PROGRESS:
            own = {"reason", "best_score", "stopped"} & set(data)
            progress_shapes.add(frozenset(set(data) - own))
    assert len(progress_shapes) == 1, progress_shapes


def _check_bests(found: list[dict[str, object]], runs: dict[str, dict[str, object]]) -> None:
    bests = [e for e in found if e["type"] == "new_best_found"]
    assert bests, "a first succeeded run is always a new best"
    for event in bests:
        data = event["data"]
        assert isinstance(data, dict)
        assert runs[str(event["run_id"])]["status"] in ("completed", "cached")
        assert data["previous_best"] is None or data["weighted_score"] > data["previous_best"]


def test_pause_resume_and_completion_emit_the_same_events_in_every_mode(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"], latency_s=0.15) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1)
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"concurrency": 1})
        wait_runs(admin, experiment_id, 1)
        assert admin.post(f"/api/v1/experiments/{experiment_id}/pause").status_code == 200
        paused = wait_event(admin, experiment_id, "experiment.paused")
        while admin.get(f"/api/v1/experiments/{experiment_id}/runs", params={"status": "running"}).json()["total"]:
            time.sleep(0.02)
        assert admin.post(f"/api/v1/experiments/{experiment_id}/resume").status_code == 200
        wait_status(admin, experiment_id)
        found = wait_event(admin, experiment_id, "experiment.completed")
        time.sleep(0.3)  # a late progress event of another worker would show here
        found = wait_event(admin, experiment_id, "experiment.completed")
    runs = {r["id"]: r for r in admin.get(f"/api/v1/experiments/{experiment_id}/runs").json()["items"]}
    types = [e["type"] for e in found]
    assert [t for t in types if t in SWEEP_LEVEL] == ["sweep.started", "experiment.started", "experiment.paused",
                                                      "experiment.resumed", "experiment.completed"], types
    for event_type, count in (("run.started", 4), ("run.completed", 4), ("sweep.progress", 4),
                              ("stage.completed", 4)):
        assert types.count(event_type) == count, (event_type, types)
    _check_shapes(found)
    _check_bests(found, runs)
    pause = next(e for e in paused if e["type"] == "experiment.paused")["data"]
    assert pause["reason"] == "requested" and 1 <= pause["completed"] < 4 and pause["total"] == 4
    completed = next(e for e in found if e["type"] == "experiment.completed")["data"]
    assert completed["completed"] == completed["total"] == 4 and completed["eta_s"] == 0.0
    resumed_at = types.index("experiment.resumed")
    after_resume = [e["data"] for e in found[resumed_at:] if e["type"] == "sweep.progress"]
    left = [p for p in after_resume if p["completed"] < p["total"]]
    assert all(p["eta_s"] is not None and p["eta_s"] > 0 for p in left), \
        "the ETA after a resume is this session's pace, never 0.0 with runs left"


def test_budget_exhaustion_emits_the_same_events_in_every_mode(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        server.script(["401"])  # the first run fails: it never counts as a new best
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=2,
                                        temperatures=[0.1, 0.2, 0.3, 0.4, 0.5])
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep",
                   json={"concurrency": 1, "budget": {"max_tokens": 60}})
        wait_status(admin, experiment_id, ("paused",))
        found = wait_event(admin, experiment_id, "experiment.paused")
        time.sleep(0.3)
        found = wait_event(admin, experiment_id, "experiment.paused")
    runs = {r["id"]: r for r in admin.get(f"/api/v1/experiments/{experiment_id}/runs",
                                          params={"limit": 100}).json()["items"]}
    types = [e["type"] for e in found]
    assert [t for t in types if t in SWEEP_LEVEL] == ["sweep.started", "experiment.started", "budget.exhausted",
                                                      "experiment.paused"], types
    _check_shapes(found)
    _check_bests(found, runs)
    failed = [r["id"] for r in runs.values() if r["status"] == "failed"]
    assert failed and not [e for e in found if e["type"] == "new_best_found" and e["run_id"] in failed]
    budget = next(e for e in found if e["type"] == "budget.exhausted")["data"]
    pause = next(e for e in found if e["type"] == "experiment.paused")["data"]
    assert budget["max_tokens"] == 60 and budget["token_count"] >= 60
    assert pause["reason"] == "budget" and pause["completed"] == types.count("sweep.progress")
