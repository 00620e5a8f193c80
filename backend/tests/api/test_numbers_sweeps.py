"""Honest sweep numbers (issue 11 §6): a cache hit costs nothing, budgets count what was paid,
the leaderboard shows one row per configuration.

On SQLite and Postgres with the in-process queue, and in production mode (Postgres, Redis and two
real `promptlooper worker` processes), like `test_sweeps.py`.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.flows import events, make_endpoint, make_experiment, wait_event, wait_status
from tests.support.llm_server import LLMServer

PRICING = {"m1": {"input_per_1m": 1000.0, "output_per_1m": 2000.0},
           "m2": {"input_per_1m": 1000.0, "output_per_1m": 2000.0}}


@pytest.fixture(params=["sqlite", "postgres", "production"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """Sweep numbers are computed by the engine: check them in production mode too."""
    return str(request.param)


def _sweep(admin: TestClient, experiment_id: str, **body: Any) -> str:
    started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid"} | body)
    assert started.status_code == 202, started.text
    wait_status(admin, experiment_id, ("completed", "paused"))
    return str(started.json()["sweep_id"])


def _runs(admin: TestClient, experiment_id: str, sweep_id: str) -> list[dict[str, Any]]:
    page = admin.get(f"/api/v1/experiments/{experiment_id}/runs", params={"sweep_id": sweep_id, "limit": 100})
    return list(page.json()["items"])


def _last_progress(admin: TestClient, experiment_id: str, sweep_id: str) -> dict[str, Any]:
    found = [e for e in wait_event(admin, experiment_id, "experiment.completed", sweep_id=sweep_id)
             if e["type"] == "sweep.progress" and e["sweep_id"] == sweep_id]
    assert found, "the sweep published progress"
    return dict(max(found, key=lambda e: e["data"]["completed"])["data"])


def test_cached_rerun_spends_nothing_and_says_what_it_saved(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url, pricing=PRICING)
        experiment_id = make_experiment(admin, endpoint_id, samples=3)
        first = _sweep(admin, experiment_id)
        paid = _runs(admin, experiment_id, first)
        assert all(r["cost_spent"] == pytest.approx(r["cost_estimate"]) and r["cost_spent"] > 0 for r in paid)
        assert all(r["llm_calls_paid"] == 3 and r["tokens_in_spent"] == r["tokens_in"] > 0 for r in paid)
        first_cost = sum(r["cost_estimate"] for r in paid)
        first_tokens = sum(r["tokens_in"] + r["tokens_out"] for r in paid)
        progress = _last_progress(admin, experiment_id, first)
        assert progress["cost_spent"] == pytest.approx(first_cost, rel=1e-6) and progress["cost_saved"] == 0
        assert progress["llm_calls"] == 12 and progress["cache_hits"] == 0

        second = _sweep(admin, experiment_id)
        assert server.stats()["calls"] == 12, "the re-run is answered from the cache"
        cached = _runs(admin, experiment_id, second)
        assert {r["status"] for r in cached} == {"cached"}
        # What the answers contain stays (configs compare); what was paid is zero.
        assert all(r["cost_estimate"] > 0 and r["tokens_in"] > 0 for r in cached)
        assert all(r["cost_spent"] == 0 and r["tokens_in_spent"] == 0 and r["tokens_out_spent"] == 0 for r in cached)
        assert all(r["llm_calls_paid"] == 0 and r["cache_hits"] == 3 for r in cached)
        progress = _last_progress(admin, experiment_id, second)
        assert progress["cost_spent"] == 0 and progress["tokens_in_spent"] == 0 and progress["llm_calls"] == 0
        assert progress["cost_saved"] == pytest.approx(first_cost, rel=1e-6)
        assert progress["tokens_saved"] == first_tokens and progress["cache_hits"] == 12
        completed = next(e for e in events(admin, experiment_id)
                         if e["type"] == "experiment.completed" and e["sweep_id"] == second)
        assert completed["data"]["cost_spent"] == 0

        stats = admin.get("/api/v1/admin/stats").json()
        assert stats["llm_calls"] == 12, "LLM calls count the calls paid for; hits are apart"
        assert stats["cache"]["hits"] == 12
        assert stats["cost_spent"] == pytest.approx(first_cost, rel=1e-6)
        assert stats["cost_saved"] == pytest.approx(first_cost, rel=1e-6)
        assert stats["tokens_spent"] == first_tokens and stats["tokens_saved"] == first_tokens

        board = admin.get(f"/api/v1/experiments/{experiment_id}/leaderboard").json()["items"]
        assert len(board) == 4 and all(e["runs"] == 2 for e in board), "one row per configuration"
        assert sum(e["cost_spent"] for e in board) == pytest.approx(first_cost, rel=1e-6)
        assert sum(e["cost_saved"] for e in board) == pytest.approx(first_cost, rel=1e-6)
        assert all(e["llm_calls_paid"] == 3 and e["cache_hits"] == 3 for e in board)

        report = admin.get(f"/api/v1/experiments/{experiment_id}/export/report").text
        assert f"spent ${first_cost:.4f}" in report and f"saved by the cache ${first_cost:.4f}" in report
        assert "12 LLM calls paid, 12 answered from the cache" in report


def test_cost_budget_counts_what_was_paid_not_what_the_cache_saved(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url, pricing=PRICING)
        experiment_id = make_experiment(admin, endpoint_id, samples=2)
        first = _sweep(admin, experiment_id, concurrency=1)
        cost = sum(r["cost_estimate"] for r in _runs(admin, experiment_id, first))
        assert cost > 0
        # The cached re-run's answers are "worth" more than the budget, but cost nothing.
        second = _sweep(admin, experiment_id, concurrency=1, budget={"max_cost_usd": cost / 10})
        assert admin.get(f"/api/v1/experiments/{experiment_id}").json()["status"] == "completed"
        assert {r["status"] for r in _runs(admin, experiment_id, second)} == {"cached"}
        assert not [e for e in events(admin, experiment_id) if e["type"] == "budget.exhausted"]
        assert server.stats()["calls"] == 8


def test_leaderboard_one_row_per_config_reject_excludes_the_config_and_unreject_restores(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1)
        _sweep(admin, experiment_id)
        _sweep(admin, experiment_id)  # every configuration again, from the cache
        url = f"/api/v1/experiments/{experiment_id}/leaderboard"
        board = admin.get(url, params={"limit": 10}).json()["items"]
        assert len(board) == 4 and len({e["config_hash"] for e in board}) == 4
        assert [e["rank"] for e in board] == [1, 2, 3, 4] and all(e["runs"] == 2 for e in board)
        top = board[0]
        rejected = admin.put(f"/api/v1/runs/{top['run_id']}", json={"rejected": True})
        assert rejected.status_code == 200 and rejected.json()["rejected"] is True
        after = admin.get(url, params={"limit": 10}).json()["items"]
        assert top["config_hash"] not in {e["config_hash"] for e in after}, "its cached twin is excluded too"
        assert len(after) == 3 and after[0]["config_hash"] == board[1]["config_hash"]
        twins = [r for r in admin.get(f"/api/v1/experiments/{experiment_id}/runs", params={"limit": 100}).json()["items"]
                 if r["config_hash"] == top["config_hash"]]
        assert len(twins) == 2 and all(r["rejected"] for r in twins)
        best = admin.get(f"/api/v1/experiments/{experiment_id}/export/best").json()
        assert best["run_id"] != top["run_id"] and best["run_id"] not in {r["id"] for r in twins}
        # Un-reject through the twin: the whole configuration is back, still one row.
        twin = next(r for r in twins if r["id"] != top["run_id"])
        restored = admin.put(f"/api/v1/runs/{twin['id']}", json={"rejected": False})
        assert restored.status_code == 200 and restored.json()["rejected"] is False
        again = admin.get(url, params={"limit": 10}).json()["items"]
        assert len(again) == 4 and again[0]["config_hash"] == top["config_hash"] and again[0]["runs"] == 2
