"""Early stopping (successive halving over samples) end to end, on SQLite, Postgres and production.

The landscape: the loopback server truncates its answer to `max_tokens` words and the `length`
scorer is best at exactly TARGET words, so each configuration's score is the same on every sample
and the halving's choices are known from the runs themselves. The server answers every distinct
request body once per arrival (`LLMServer.answered`), and a request body is one (configuration,
sample): a count above 1 would be a sample called twice for a configuration.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient

from promptlooper.services.halving import projected_calls, rungs
from tests.support.flows import make_endpoint, wait_event, wait_status, wait_until
from tests.support.llm_server import LLMServer

TARGET = 20
SAMPLES = 10
MIN_SAMPLES, ETA = 2, 3
MAX_TOKENS = [3, 5, 6, 8, 11, 16, 20, 28, 40]  # 9 configurations with 9 different scores
LONG_INPUT = " ".join(f"word{i}" for i in range(80))


@pytest.fixture(params=["sqlite", "postgres", "production"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """Sweep tests run a third time in production mode: Celery workers on Redis."""
    return str(request.param)


def landscape(client: TestClient, endpoint_id: str, samples: int = SAMPLES,
              space: dict[str, Any] | None = None) -> str:
    project_id = client.post("/api/v1/projects", json={"name": "halving"}).json()["id"]
    doc = {
        "project_id": project_id, "name": "halving",
        "sample_data": [{"id": f"s{i}", "input": f"{i} {LONG_INPUT}"} for i in range(samples)],
        "pipeline_stages": [{"name": "answer", "endpoint_id": endpoint_id, "model": "m1",
                             "prompt_template": "{{ input }}", "params": {"temperature": 0.5}}],
        "scoring_config": [{"scorer": "length", "config": {"min_words": TARGET, "max_words": TARGET}}],
        "parameter_space": space or {"max_tokens": MAX_TOKENS},
    }
    response = client.post("/api/v1/experiments", json=doc)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def runs_of(client: TestClient, experiment_id: str) -> list[dict[str, Any]]:
    return list(client.get(f"/api/v1/experiments/{experiment_id}/runs", params={"limit": 200}).json()["items"])


def per_config_and_sample(server: LLMServer) -> Counter[tuple[Any, str]]:
    """Chat requests per (max_tokens, sample input): the calls one configuration made for one sample."""
    return Counter((body.get("max_tokens"), str(body["messages"][-1]["content"])[:3]) for body in server.requests)


def assert_never_twice(server: LLMServer) -> None:
    twice = {k: n for k, n in server.answered().items() if n > 1}
    assert not twice, f"a request answered more than once: {twice}"
    counts = per_config_and_sample(server)
    assert counts and max(counts.values()) == 1, counts


def test_halving_prunes_the_worst_and_never_calls_a_sample_twice(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server:
        experiment_id = landscape(admin, make_endpoint(admin, server.base_url))
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={
            "type": "grid", "concurrency": 3, "early_stopping": {"min_samples": MIN_SAMPLES, "eta": ETA}})
        assert started.status_code == 202, started.text
        assert started.json()["total_runs"] == len(MAX_TOKENS)
        wait_status(admin, experiment_id, timeout_s=120)
        runs = runs_of(admin, experiment_id)
        assert len(runs) == len(MAX_TOKENS), "a continued configuration is the same run, never a second one"
        best_case, worst_case = projected_calls(len(MAX_TOKENS), SAMPLES, MIN_SAMPLES, ETA, 1)
        assert server.calls == best_case < worst_case, (server.calls, best_case, worst_case)
        assert_never_twice(server)

        by_status = Counter(r["status"] for r in runs)
        assert by_status == {"pruned": 8, "completed": 1}, by_status
        sizes = rungs(SAMPLES, MIN_SAMPLES, ETA)  # [2, 6, 10]
        assert Counter(r["samples_evaluated"] for r in runs) == {sizes[0]: 6, sizes[1]: 2, sizes[2]: 1}
        assert min(r["samples_evaluated"] for r in runs) >= MIN_SAMPLES, "never pruned below min_samples"
        winner = next(r for r in runs if r["status"] == "completed")
        # Each rung kept the best: everything pruned at a rung scored below everything that went on.
        for size in sizes[:-1]:
            stopped = [r["weighted_score"] for r in runs if r["samples_evaluated"] == size]
            went_on = [r["weighted_score"] for r in runs if r["samples_evaluated"] > size]
            assert max(stopped) < min(went_on), (size, stopped, went_on)
        assert winner["weighted_score"] == max(r["weighted_score"] for r in runs)

        detail = admin.get(f"/api/v1/runs/{winner['id']}").json()
        assert sorted(s["sample_id"] for s in detail["stage_results"]) == sorted(f"s{i}" for i in range(SAMPLES))
        assert detail["llm_calls"] == SAMPLES and detail["llm_calls_paid"] == SAMPLES
        pruned = next(r for r in runs if r["status"] == "pruned" and r["samples_evaluated"] == sizes[1])
        pruned_detail = admin.get(f"/api/v1/runs/{pruned['id']}").json()
        assert sorted(s["sample_id"] for s in pruned_detail["stage_results"]) == [f"s{i}" for i in range(sizes[1])]
        assert pruned_detail["scores"]["length"] == pruned["weighted_score"], "its partial score"
        assert pruned["partial"] is True and winner["partial"] is False

        board = admin.get(f"/api/v1/experiments/{experiment_id}/leaderboard").json()["items"]
        assert [e["run_id"] for e in board] == [winner["id"]], "only runs scored on every sample rank"
        assert board[0]["pruned"] is False and board[0]["samples_evaluated"] == SAMPLES
        with_pruned = admin.get(f"/api/v1/experiments/{experiment_id}/leaderboard",
                                params={"include_pruned": "true", "limit": 50}).json()["items"]
        assert len(with_pruned) == len(MAX_TOKENS)
        assert Counter(e["pruned"] for e in with_pruned) == {True: 8, False: 1}

        completed = [e for e in wait_event(admin, experiment_id, "experiment.completed")
                     if e["type"] == "experiment.completed"]
        assert len(completed) == 1
        data = completed[0]["data"]
        assert data["total"] == len(MAX_TOKENS) and data["completed"] == len(MAX_TOKENS) and data["pruned"] == 8
        assert data["best_score"] == winner["weighted_score"]
        assert data["llm_calls"] == best_case


def test_min_samples_covering_every_sample_prunes_nothing(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server:
        experiment_id = landscape(admin, make_endpoint(admin, server.base_url), samples=3,
                                  space={"max_tokens": [5, 20, 40]})
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep",
                             json={"early_stopping": {"min_samples": 3, "eta": 2}})
        assert started.status_code == 202, started.text
        wait_status(admin, experiment_id, timeout_s=60)
        runs = runs_of(admin, experiment_id)
        assert {r["status"] for r in runs} == {"completed"} and {r["samples_evaluated"] for r in runs} == {3}
        assert server.calls == 9
        assert len(admin.get(f"/api/v1/experiments/{experiment_id}/leaderboard").json()["items"]) == 3


def test_a_budget_pauses_a_halving_sweep_and_stop_keeps_what_runs_evaluated(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server:
        experiment_id = landscape(admin, make_endpoint(admin, server.base_url))
        # A call pays 81 prompt tokens plus max_tokens: rung 0 (9 runs x 2 samples) pays 1732 tokens and
        # each continued run about 400 more, so a 2200-token budget runs out after the second one of rung 1.
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={
            "concurrency": 1, "budget": {"max_tokens": 2200},
            "early_stopping": {"min_samples": MIN_SAMPLES, "eta": ETA}})
        assert started.status_code == 202, started.text
        wait_status(admin, experiment_id, ("paused",), timeout_s=60)
        assert "budget.exhausted" in {e["type"] for e in wait_event(admin, experiment_id, "budget.exhausted")}
        assert server.calls == 9 * MIN_SAMPLES + 2 * 4, "rung 0, then two continued runs"
        assert_never_twice(server)
        stopped = admin.post(f"/api/v1/experiments/{experiment_id}/stop")
        assert stopped.status_code == 200, stopped.text
        runs = runs_of(admin, experiment_id)
        assert Counter(r["status"] for r in runs) == {"pruned": 6, "completed": 2, "cancelled": 1}, runs
        waiting = next(r for r in runs if r["status"] == "cancelled")
        assert waiting["samples_evaluated"] == MIN_SAMPLES, "a continued run stopped before it ran keeps rung 0"
        assert {r["samples_evaluated"] for r in runs if r["status"] == "completed"} == {6}
        board = admin.get(f"/api/v1/experiments/{experiment_id}/leaderboard").json()["items"]
        assert board == [], "no run was scored on every sample"


def test_pause_mid_rung_and_resume_completes_without_repeats(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server:
        experiment_id = landscape(admin, make_endpoint(admin, server.base_url))
        server.hold_after(9 * MIN_SAMPLES + 2)  # rung 0, then two calls of rung 1; the next one is held
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={
            "concurrency": 1, "early_stopping": {"min_samples": MIN_SAMPLES, "eta": ETA}})
        assert started.status_code == 202, started.text
        wait_until(lambda: server.in_flight == 1 and server.calls >= 9 * MIN_SAMPLES + 2, "held inside rung 1")
        assert admin.post(f"/api/v1/experiments/{experiment_id}/pause").status_code == 200
        server.release()
        wait_status(admin, experiment_id, ("paused",), timeout_s=60)
        paused_calls = server.calls
        best_case, _ = projected_calls(len(MAX_TOKENS), SAMPLES, MIN_SAMPLES, ETA, 1)
        assert paused_calls < best_case
        assert admin.post(f"/api/v1/experiments/{experiment_id}/resume").status_code == 200
        wait_status(admin, experiment_id, timeout_s=120)
        assert server.calls == best_case, "resume ran exactly what was left"
        assert_never_twice(server)
        assert Counter(r["status"] for r in runs_of(admin, experiment_id)) == {"pruned": 8, "completed": 1}


def test_guided_sweep_with_early_stopping_tells_the_sampler_and_never_repeats(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server:
        experiment_id = landscape(admin, make_endpoint(admin, server.base_url), samples=6,
                                  space={"max_tokens": {"min": 2, "max": 40, "type": "int"}})
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={
            "type": "guided", "seed": 4, "max_runs": 9, "concurrency": 3, "guided": {"n_startup": 3},
            "early_stopping": {"min_samples": 2, "eta": 3}})
        assert started.status_code == 202, started.text
        wait_status(admin, experiment_id, timeout_s=120)
        runs = runs_of(admin, experiment_id)
        assert len(runs) == 9 and len({r["config_hash"] for r in runs}) == 9
        by_status = Counter(r["status"] for r in runs)
        assert by_status == {"pruned": 6, "completed": 3}, "each batch of 3 keeps its best one"
        assert server.calls == 3 * (3 * 2 + 1 * 4)
        assert_never_twice(server)


def test_early_stopping_options_are_validated(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server:
        experiment_id = landscape(admin, make_endpoint(admin, server.base_url), samples=2)
        for body, loc in (({"early_stopping": {"min_samples": 0}}, ["body", "early_stopping", "min_samples"]),
                          ({"early_stopping": {"eta": 1}}, ["body", "early_stopping", "eta"]),
                          ({"early_stopping": {"eta": "x"}}, ["body", "early_stopping", "eta"]),
                          ({"early_stopping": {"rungs": 2}}, ["body", "early_stopping", "rungs"])):
            refused = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json=body)
            assert refused.status_code == 422, refused.text
            assert refused.json()["detail"][0]["loc"] == loc, refused.text
        assert server.calls == 0
        server.hold_after(0)  # every call parks: the sweep stays running
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep",
                             json={"early_stopping": {"min_samples": 1, "eta": 2}})
        assert started.status_code == 202, started.text
        redirect = admin.post(f"/api/v1/experiments/{experiment_id}/redirect",
                              json={"parameter_space": {"max_tokens": [5]}})
        assert redirect.status_code == 400 and redirect.json()["code"] == "unsupported_sweep_type", redirect.text
        assert admin.post(f"/api/v1/experiments/{experiment_id}/stop").status_code == 200
        server.release()


def test_estimate_projects_best_and_worst_calls_from_the_rungs(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        experiment = admin.get(f"/api/v1/experiments/{landscape(admin, endpoint_id)}").json()
        doc = {k: experiment[k] for k in ("name", "sample_data", "pipeline_stages", "scoring_config",
                                          "parameter_space")}
        plain = admin.post("/api/v1/experiments/estimate", json={"document": doc}).json()
        assert plain["early_stopping"] is None
        body = {"document": doc, "early_stopping": {"min_samples": MIN_SAMPLES, "eta": ETA}}
        answer = admin.post("/api/v1/experiments/estimate", json=body)
        assert answer.status_code == 200, answer.text
        halving = answer.json()["early_stopping"]
        best, worst = projected_calls(len(MAX_TOKENS), SAMPLES, MIN_SAMPLES, ETA, 1)
        assert halving == {"rungs": [2, 6, 10], "llm_calls_best": best, "llm_calls_worst": worst}
        assert worst == plain["llm_calls"] == 90 and best == 9 * 2 + 3 * 4 + 1 * 4
        batched = admin.post("/api/v1/experiments/estimate", json=body | {"halving_batch": 3}).json()
        assert batched["early_stopping"]["llm_calls_best"] == 3 * (3 * 2 + 1 * 8), "three batches of three"
        bad = admin.post("/api/v1/experiments/estimate", json=body | {"early_stopping": {"eta": 0}})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "early_stopping", "eta"]
        assert server.calls == 0
