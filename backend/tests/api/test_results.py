"""Runs, leaderboard, human scores, rejection, exports, cache invalidation and events."""

from __future__ import annotations

import time
import uuid

import yaml
from fastapi.testclient import TestClient

from tests.support.flows import make_endpoint, make_experiment, wait_event, wait_status
from tests.support.llm_server import LLMServer


def _swept(admin: TestClient, server: LLMServer) -> tuple[str, str]:
    endpoint_id = make_endpoint(admin, server.base_url, pricing={"m2": {"input_per_1m": 1.0, "output_per_1m": 2.0}})
    experiment_id = make_experiment(admin, endpoint_id, samples=2)
    admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid"})
    wait_status(admin, experiment_id)
    return endpoint_id, experiment_id


def test_runs_sorting_filtering_and_detail(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        _, experiment_id = _swept(admin, server)
        by_score = admin.get(f"/api/v1/experiments/{experiment_id}/runs", params={"sort": "-keyword"}).json()["items"]
        assert by_score[0]["scores"]["keyword"] >= by_score[-1]["scores"]["keyword"]
        ascending = admin.get(f"/api/v1/experiments/{experiment_id}/runs", params={"sort": "tokens_in"}).json()["items"]
        assert [r["tokens_in"] for r in ascending] == sorted(r["tokens_in"] for r in ascending)
        assert admin.get(f"/api/v1/experiments/{experiment_id}/runs", params={"status": "failed"}).json()["total"] == 0
        run = by_score[0]
        assert run["config_hash"] and len(run["config_hash"]) == 64 and run["cost_estimate"] > 0
        detail = admin.get(f"/api/v1/runs/{run['id']}").json()
        assert len(detail["stage_results"]) == 2
        stage = detail["stage_results"][0]
        assert stage["model_used"] == "m2" and stage["response_raw"] and "Answer:" in stage["prompt_sent"]
        assert stage["cached"] is False and stage["tokens_in"] > 0
        assert admin.get(f"/api/v1/runs/{uuid.uuid4()}").status_code == 404


def test_leaderboard_rejection_and_human_scores(admin: TestClient, anon: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        _, experiment_id = _swept(admin, server)
        board = admin.get(f"/api/v1/experiments/{experiment_id}/leaderboard", params={"limit": 10}).json()["items"]
        assert [e["rank"] for e in board] == [1, 2, 3, 4]
        assert board[0]["weighted_score"] >= board[-1]["weighted_score"]
        top = board[0]["run_id"]
        assert admin.put(f"/api/v1/runs/{top}", json={"rejected": True}).json()["rejected"] is True
        after = admin.get(f"/api/v1/experiments/{experiment_id}/leaderboard").json()["items"]
        assert top not in [e["run_id"] for e in after] and len(after) == 3
        rated = admin.post(f"/api/v1/runs/{top}/score", json={"rating": 5, "comment": "great"})
        assert rated.status_code == 200
        admin.post(f"/api/v1/runs/{top}/score", json={"thumbs": "down"})
        assert admin.get(f"/api/v1/runs/{top}").json()["scores"]["human_rating"] == 0.0, "one rating per user"
        admin.post(f"/api/v1/runs/{top}/score", json={"rating": 5, "comment": "great"})
        assert admin.post(f"/api/v1/runs/{top}/score", json={"rating": 9}).status_code == 422
        admin.put("/api/v1/admin/settings", json={"allow_guest_access": True})
        assert anon.get(f"/api/v1/runs/{top}").status_code == 200, "guests may read"
        assert anon.post(f"/api/v1/runs/{top}/score", json={"rating": 1}).status_code == 401, "guests cannot rate"
        details = admin.get(f"/api/v1/runs/{top}").json()["score_details"]
        rating = next(d for d in details if d["metadata"].get("rating") == 5)
        assert rating["comment"] == "great" and rating["metadata"]["rated_by"] == "admin"
        assert admin.post(f"/api/v1/runs/{top}/score", json={"rating": 3, "thumbs": "up"}).status_code == 422


def test_exports(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        _, experiment_id = _swept(admin, server)
        best = admin.get(f"/api/v1/experiments/{experiment_id}/export/best").json()
        assert best["model"] == "m2" and best["endpoint"] == server.base_url
        assert best["temperature"] in (0.1, 0.9) and best["prompt_template"] == "Answer: {{ input }}"
        assert best["score"] == 1.0 and best["experiment"] == "flow" and best["exported_at"].endswith("Z")
        env = admin.get(f"/api/v1/experiments/{experiment_id}/export/env").text
        assert "LLM_MODEL=m2\n" in env and f"LLM_API_URL={server.base_url}\n" in env
        assert "LLM_TEMPERATURE=" in env and "# Score: 1.0 | Experiment: flow" in env
        doc = yaml.safe_load(admin.get(f"/api/v1/experiments/{experiment_id}/export/yaml").text)
        assert doc["model"] == "m2" and "temperature" in doc["parameters"] and doc["metadata"]["score"] == 1.0
        report = admin.get(f"/api/v1/experiments/{experiment_id}/export/report").text
        assert report.startswith("# Experiment report: flow") and "| 1 |" in report


def test_export_without_runs_is_404(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url))
        response = admin.get(f"/api/v1/experiments/{experiment_id}/export/env")
        assert response.status_code == 404 and response.json()["code"] == "no_completed_runs"


def test_multi_stage_export_env(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        stages = [
            {"name": "extract", "endpoint_id": endpoint_id, "model": "m1", "prompt_template": "Facts: {{ input }}"},
            {"name": "summarize", "endpoint_id": endpoint_id, "model": "m2",
             "prompt_template": "Sum: {{ previous }} / {{ stages.extract.output }}"},
        ]
        experiment_id = make_experiment(admin, endpoint_id, samples=1, stages=stages,
                                        space={"stages.summarize.temperature": [0.2, 0.4]})
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={})
        wait_status(admin, experiment_id)
        env = admin.get(f"/api/v1/experiments/{experiment_id}/export/env").text
        assert "LLM_EXTRACT_MODEL=m1" in env and "LLM_SUMMARIZE_MODEL=m2" in env
        run = admin.get(f"/api/v1/experiments/{experiment_id}/runs").json()["items"][0]
        detail = admin.get(f"/api/v1/runs/{run['id']}").json()
        second = next(s for s in detail["stage_results"] if s["stage_index"] == 1)
        first = next(s for s in detail["stage_results"] if s["stage_index"] == 0)
        assert first["response_raw"] in second["prompt_sent"]


def test_adhoc_run_and_cache_invalidation(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=2)
        body = {"experiment_id": experiment_id, "overrides": {"model": "m2", "temperature": 0.3}}
        first = admin.post("/api/v1/runs", json=body)
        assert first.status_code == 201, first.text
        run = first.json()
        assert run["status"] == "completed" and run["config"]["stages"][0]["params"]["temperature"] == 0.3
        assert len(run["stage_results"]) == 2 and server.stats()["calls"] == 2
        again = admin.post("/api/v1/runs", json=body).json()
        assert again["status"] == "cached" and server.stats()["calls"] == 2
        cleared = admin.delete(f"/api/v1/runs/{run['id']}/cache")
        assert cleared.status_code == 200 and cleared.json()["deleted"] == 2
        third = admin.post("/api/v1/runs", json=body).json()
        assert third["status"] == "completed" and server.stats()["calls"] == 4
        assert admin.delete(f"/api/v1/experiments/{experiment_id}/cache").json()["deleted"] == 2
        bad = admin.post("/api/v1/runs", json={"experiment_id": experiment_id, "overrides": {"stages.nope.model": "x"}})
        assert bad.status_code == 400


def test_events_polling_and_websocket(admin: TestClient, admin_token: str) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=2)
        with admin.websocket_connect(f"/ws/experiments/{experiment_id}?token={admin_token}") as ws:
            admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={})
            received = []
            while True:
                message = ws.receive_json()
                received.append(message)
                if message["type"] == "experiment.completed":
                    break
        bus = admin.app.state.ctx.runtime.bus
        deadline = time.monotonic() + 5
        while bus.subscriber_count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert bus.subscriber_count == 0, "a closed WebSocket must be unsubscribed"
        types = [m["type"] for m in received]
        assert types[0] == "sweep.started"
        for expected in ("run.started", "stage.completed", "run.completed", "sweep.progress", "new_best_found"):
            assert expected in types
        progress = [m for m in received if m["type"] == "sweep.progress"][-1]["data"]
        assert progress["completed"] == progress["total"] == 4 and progress["tokens_in"] > 0
        assert set(progress) >= {"failed", "cached", "tokens_out", "cost_estimate", "eta_s"}
        assert all(m["experiment_id"] == experiment_id and m["ts"].endswith("Z") for m in received)
        polled = wait_event(admin, experiment_id, "experiment.completed")
        assert [e["type"] for e in polled] == types
        later = admin.get(f"/api/v1/experiments/{experiment_id}/events",
                          params={"after": polled[-3]["seq"]}).json()["items"]
        assert len(later) == 2


def test_global_events_latest_and_after(admin: TestClient, anon: TestClient) -> None:
    """GET /events: the dashboard's history (newest N, oldest first) and its polling fallback."""
    with LLMServer(models=["m1", "m2"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        first = make_experiment(admin, endpoint_id, samples=1)
        second = make_experiment(admin, endpoint_id, samples=1)
        for experiment_id in (first, second):
            admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={})
            wait_event(admin, experiment_id, "experiment.completed")
    everything = admin.get("/api/v1/events", params={"limit": 1000}).json()["items"]
    seqs = [e["seq"] for e in everything]
    assert seqs == sorted(seqs) and {e["experiment_id"] for e in everything} == {first, second}
    milestones = admin.get("/api/v1/events", params={"latest": "true", "limit": 3,
                                                     "type": ["experiment.completed", "sweep.started"]}).json()
    assert [e["type"] for e in milestones["items"]] == ["experiment.completed", "sweep.started", "experiment.completed"]
    assert milestones["items"][-1]["experiment_id"] == second
    assert milestones["next_after"] == max(seqs)
    after = admin.get("/api/v1/events", params={"after": seqs[-3]}).json()
    assert [e["seq"] for e in after["items"]] == seqs[-2:] and after["next_after"] == seqs[-1]
    assert admin.get("/api/v1/events", params={"limit": 0}).status_code == 422
    assert anon.get("/api/v1/events").status_code == 401


def test_websocket_rejects_missing_token(client: TestClient, admin_token: str) -> None:
    import pytest
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as excinfo, client.websocket_connect("/ws/dashboard") as ws:
        ws.receive_json()
    assert excinfo.value.code == 4401
