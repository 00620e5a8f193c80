"""Scorer catalogue, re-scoring from stored responses (zero chat calls) and judge agreement."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from promptlooper.tests.support.flows import make_endpoint, make_experiment, wait_event, wait_status
from promptlooper.tests.support.llm_server import LLMServer


def test_scorer_catalogue(admin: TestClient, anon: TestClient) -> None:
    listed = admin.get("/api/v1/scorers")
    assert listed.status_code == 200
    by_id = {s["id"]: s for s in listed.json()}
    assert {"keyword", "length"} <= set(by_id)
    assert "keywords" in by_id["keyword"]["config_schema"]["properties"]
    assert anon.get("/api/v1/scorers").status_code == 401


def test_new_scoring_config_rescores_every_run_without_a_chat_call(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=2)
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={})
        wait_status(admin, experiment_id)
        calls = server.stats()["calls"]
        before = {r["id"]: r for r in admin.get(f"/api/v1/experiments/{experiment_id}/runs").json()["items"]}
        assert {r["config"]["stages"][0]["model"] for r in before.values() if r["weighted_score"] == 1.0} == {"m2"}

        new_scoring = [{"scorer": "keyword", "name": "likes_m1", "config": {"keywords": ["m1"], "mode": "any"}}]
        updated = admin.put(f"/api/v1/experiments/{experiment_id}", json={"scoring_config": new_scoring})
        assert updated.status_code == 200
        wait_event(admin, experiment_id, "rescore.completed")
        after = admin.get(f"/api/v1/experiments/{experiment_id}/runs").json()["items"]
        assert server.stats()["calls"] == calls, "re-scoring must not call the endpoint"
        assert all(set(r["scores"]) == {"likes_m1"} for r in after)
        winners = {r["config"]["stages"][0]["model"] for r in after if r["weighted_score"] == 1.0}
        assert winners == {"m1"}

        again = admin.post(f"/api/v1/experiments/{experiment_id}/rescore")
        assert again.status_code == 202 and again.json()["runs"] == 4
        assert server.stats()["calls"] == calls
        assert admin.post(f"/api/v1/experiments/{uuid.uuid4()}/rescore").status_code == 404
