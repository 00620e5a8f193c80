"""Sweeps kept apart: GET /experiments/{id}/sweeps and the `sweep_id` filter of the leaderboard,
runs, importance and exports, after a re-run of the same grid."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.support.flows import make_endpoint, make_experiment, wait_status
from tests.support.llm_server import LLMServer


def test_a_rerun_is_its_own_sweep_and_every_view_can_show_one(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        experiment_id = make_experiment(admin, endpoint_id, samples=1)
        base = f"/api/v1/experiments/{experiment_id}"
        assert admin.get(f"{base}/sweeps").json() == []
        for _ in range(2):
            assert admin.post(f"{base}/sweep", json={"type": "grid"}).status_code == 202
            wait_status(admin, experiment_id)
        sweeps = admin.get(f"{base}/sweeps").json()
        assert [s["number"] for s in sweeps] == [2, 1], "newest first, numbered from the first"
        assert all(s["total_runs"] == 4 and s["type"] == "grid" for s in sweeps)
        latest, first = sweeps[0]["id"], sweeps[1]["id"]

        assert admin.get(f"{base}/runs").json()["total"] == 8
        assert admin.get(f"{base}/runs", params={"sweep_id": latest}).json()["total"] == 4
        everything = admin.get(f"{base}/leaderboard", params={"limit": 50}).json()["items"]
        one = admin.get(f"{base}/leaderboard", params={"limit": 50, "sweep_id": latest}).json()["items"]
        latest_runs = {r["id"] for r in admin.get(f"{base}/runs", params={"sweep_id": latest}).json()["items"]}
        assert len(one) == 4 and {e["run_id"] for e in one} <= latest_runs
        assert len(everything) == 4, "one row per configuration across both sweeps"
        first_runs = {r["id"] for r in admin.get(f"{base}/runs", params={"sweep_id": first}).json()["items"]}
        best_first = admin.get(f"{base}/export/best", params={"sweep_id": first}).json()
        assert best_first["run_id"] in first_runs
        best_latest = admin.get(f"{base}/export/best", params={"sweep_id": latest}).json()
        assert best_latest["run_id"] in latest_runs
        report = admin.get(f"{base}/export/report", params={"sweep_id": latest}).text
        assert "Experiment report" in report
        assert admin.get(f"{base}/importance", params={"sweep_id": latest}).json()["runs_used"] == 4
        none = admin.get(f"{base}/export/best", params={"sweep_id": str(uuid.uuid4())})
        assert none.status_code == 404 and none.json()["code"] == "no_completed_runs"
        assert admin.get(f"/api/v1/experiments/{uuid.uuid4()}/sweeps").status_code == 404
