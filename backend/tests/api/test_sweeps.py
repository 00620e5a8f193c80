"""Sweeps end to end against a loopback LLM server: grid, cache, pause/resume/stop, budgets, 409.

On SQLite and Postgres with the in-process queue, and in production mode (Postgres, Redis and two
real `promptlooper worker` processes).
"""

from __future__ import annotations

import time
import uuid

import pytest
from fastapi.testclient import TestClient

from promptlooper.config import Settings
from promptlooper.main import create_app
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
    assert too_big.status_code == 422 and too_big.json()["code"] == "sweep_too_large"
    assert too_big.json()["detail"][0]["loc"] == ["body", "document", "parameter_space"]
    assert "1,000,000 combinations" in too_big.json()["detail"][0]["msg"]
    assert admin.post("/api/v1/experiments/estimate", json={"document": huge, "max_runs": 50}).json()["runs"] == 50


def test_estimate_of_a_huge_space_or_a_template_bomb_is_a_quick_422(admin: TestClient) -> None:
    """A read-only user can call the estimate: it counts before expanding and refuses bombs up front."""
    import time

    endpoint_id = make_endpoint(admin, "http://127.0.0.1:9/v1")
    started = time.perf_counter()
    huge = _estimate_doc(endpoint_id, {"temperature": {"min": 0, "max": 2, "step": 1e-9}})
    answer = admin.post("/api/v1/experiments/estimate", json={"document": huge})
    assert answer.status_code == 422 and answer.json()["code"] == "sweep_too_large"
    assert "2,000,000,001 combinations" in answer.json()["detail"][0]["msg"]
    capped = admin.post("/api/v1/experiments/estimate", json={"document": huge, "max_runs": 5})
    assert capped.status_code == 422 and capped.json()["detail"][0]["loc"] == ["body", "document", "parameter_space"]
    too_many = admin.post("/api/v1/experiments/estimate", json={"document": _estimate_doc(endpoint_id, {}),
                                                                "type": "random", "max_runs": 100_001})
    assert too_many.status_code == 422
    bomb = _estimate_doc(endpoint_id, {})
    bomb["pipeline_stages"][1]["prompt_template"] = '{% set x = "x" * 2000000000 %}{{ x }}'  # type: ignore[index]
    refused = admin.post("/api/v1/experiments/estimate", json={"document": bomb})
    assert refused.status_code == 422, refused.text
    error = refused.json()["detail"][0]
    assert error["loc"] == ["body", "document", "pipeline_stages", 1, "prompt_template"]
    assert error["type"] == "template_limit" and "2,000,000,000 characters" in error["msg"]
    loops = _estimate_doc(endpoint_id, {})
    loops["pipeline_stages"][0]["prompt_template"] = (  # type: ignore[index]
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}")
    assert admin.post("/api/v1/experiments/estimate", json={"document": loops}).status_code == 422
    assert time.perf_counter() - started < 10.0


def test_saving_a_template_bomb_is_a_422_and_a_run_time_bomb_fails_the_run(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        project = admin.post("/api/v1/projects", json={"name": "p"}).json()["id"]
        doc: dict[str, object] = {
            "project_id": project, "name": "bomb", "sample_data": [{"id": "a", "input": "hi"}],
            "pipeline_stages": [{"name": "s", "endpoint_id": endpoint_id, "model": "m1",
                                 "prompt_template": '{{ "x" | center(2000000000) }}'}]}
        refused = admin.post("/api/v1/experiments", json=doc)
        assert refused.status_code == 422 and refused.json()["detail"][0]["type"] == "template_limit"
        # A bomb that depends on a swept value passes the trial (its first value is harmless) and
        # fails its own run with the limit's sentence, while the harmless config runs.
        doc["pipeline_stages"] = [{"name": "s", "endpoint_id": endpoint_id, "model": "m1",
                                   "prompt_template": '{{ "x" * vars.n }}'}]
        doc["parameter_space"] = {"vars.n": [3, 2000000000]}
        created = admin.post("/api/v1/experiments", json=doc)
        assert created.status_code == 201, created.text
        experiment_id = created.json()["id"]
        assert admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={}).status_code == 202
        wait_status(admin, experiment_id)
        runs = admin.get(f"/api/v1/experiments/{experiment_id}/runs").json()["items"]
        by_n = {r["config"]["vars"]["n"]: r for r in runs}
        assert by_n[3]["status"] == "completed"
        assert by_n[2000000000]["status"] == "failed"
        assert "Template refused" in by_n[2000000000]["error"] and "2,000,000,000" in by_n[2000000000]["error"]
        assert server.stats()["calls"] == 1


def _run_states(client: TestClient, experiment_id: str, **params: str) -> list[dict[str, object]]:
    return list(client.get(f"/api/v1/experiments/{experiment_id}/runs", params={"limit": 500} | params).json()["items"])


def _start_when_allowed(client: TestClient, experiment_id: str, timeout_s: float = 10.0) -> dict[str, object]:
    """Start a sweep, retrying while runs of a stopped sweep are still being cancelled (409)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = client.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"concurrency": 2})
        if answer.status_code != 409 or time.monotonic() > deadline:
            assert answer.status_code == 202, answer.text
            return dict(answer.json())
        assert answer.json()["code"] == "runs_still_running", answer.text
        time.sleep(0.1)


def test_stop_cancels_runs_hanging_in_flight(admin: TestClient) -> None:
    hang_s = 3.0
    with LLMServer(models=["m1"], hang_s=hang_s) as server:
        server.script(["hang", "hang"])  # the first two calls hang; a retry of either would be answered
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1, models=["m1"],
                                        temperatures=[0.1, 0.2, 0.3, 0.4])
        assert admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"concurrency": 2}).status_code == 202
        deadline = time.monotonic() + 30
        while server.in_flight < 2 or len(_run_states(admin, experiment_id, status="running")) < 2:
            assert time.monotonic() < deadline, "the two runs did not get in flight"
            time.sleep(0.02)

        stopped = admin.post(f"/api/v1/experiments/{experiment_id}/stop")
        stopped_at = time.monotonic()
        assert stopped.status_code == 200 and stopped.json()["status"] == "completed"
        runs = _run_states(admin, experiment_id)
        assert sorted(str(r["status"]) for r in runs) == ["cancelled", "cancelled"], runs
        assert all("stopped" in str(r["error"]) for r in runs)
        assert _run_states(admin, experiment_id, status="cancelled") == runs, "cancelled runs can be listed"

        # A new sweep is accepted once no call of the stopped one is in flight any more.
        again = _start_when_allowed(admin, experiment_id)
        wait_status(admin, experiment_id)
        assert len(_run_states(admin, experiment_id, sweep_id=str(again["sweep_id"]), status="completed")) == 4
        time.sleep(max(0.0, stopped_at + hang_s + 1.0 - time.monotonic()))  # the hangs have ended by now
        assert server.calls == 6, "the hanging calls were cancelled: never retried, never answered"
        first = [r for r in _run_states(admin, experiment_id) if r["sweep_id"] != again["sweep_id"]]
        assert sorted(str(r["status"]) for r in first) == ["cancelled", "cancelled"], "nothing persisted over them"


def test_a_run_left_running_in_a_stopped_sweep_blocks_new_sweeps_until_cancelled(
        admin: TestClient, settings: Settings) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1)
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={})
        wait_status(admin, experiment_id)
        # A run left `running` in an ended sweep (as the stop of earlier versions left hanging runs).
        run_id = str(_run_states(admin, experiment_id)[0]["id"])
        ctx = admin.app.state.ctx  # type: ignore[attr-defined]

        async def _leave_running() -> None:
            from sqlalchemy import update

            from promptlooper.db import session_scope
            from promptlooper.models import Run, Sweep

            async with session_scope(ctx.sessionmaker) as session:
                await session.execute(update(Run).where(Run.id == uuid.UUID(run_id)).values(status="running"))
                await session.execute(update(Sweep).values(status="stopped"))

        admin.portal.call(_leave_running)  # type: ignore[union-attr]
        refused = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={})
        if refused.status_code == 202 and settings.redis_url:
            # Production: the workers' watchdog (every second) may cancel the lease-less leftover first;
            # then the start is right to go ahead, and the leftover must be cancelled by now.
            assert admin.get(f"/api/v1/runs/{run_id}").json()["status"] == "cancelled", refused.text
            wait_status(admin, experiment_id)
            return
        assert refused.status_code == 409 and refused.json()["code"] == "runs_still_running", refused.text

        # After a restart (in-process: at start) or once the workers' watchdog sees no lease on it, it is
        # cancelled. The restarted app only starts and reads: two apps writing one SQLite file would contend.
        with TestClient(create_app(settings)) as restarted:
            restarted.headers.update(admin.headers)
            deadline = time.monotonic() + 10
            while (status := restarted.get(f"/api/v1/runs/{run_id}").json()["status"]) != "cancelled":
                assert time.monotonic() < deadline, f"the leftover run stayed {status}"
                time.sleep(0.1)
        started = _start_when_allowed(admin, experiment_id)
        assert started["total_runs"] == 4
        wait_status(admin, experiment_id)
        assert admin.get(f"/api/v1/runs/{run_id}").json()["status"] == "cancelled"


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


def test_unknown_sweep_types_are_refused(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1)
        unknown = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "annealing"})
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "type"]
        assert "'guided'" in unknown.json()["detail"][0]["msg"]
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
            own = {"reason", "best_score", "stopped", "cancelled"} & set(data)
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
