"""GET /experiments/{id}/importance: Optuna's PED-ANOVA over the scored runs of a real sweep."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.support.flows import make_endpoint, make_experiment, wait_status
from tests.support.llm_server import LLMServer

LONG_A = "Answer in one short sentence, and never mention anything but the answer itself: {{ input }}"
LONG_B = "Think about the question below step by step, then give the final answer on its own line: {{ input }}"


def test_importance_names_the_parameter_that_decides_the_score(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2", "m3"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        # The mock answers "{model} t={temperature}: ...": the keyword scorer scores 1 only for m2, so
        # the model explains every difference; temperature and the prompt variant explain none.
        experiment_id = make_experiment(
            admin, endpoint_id, samples=1,
            scoring=[{"scorer": "keyword", "weight": 1.0, "config": {"keywords": ["m2"], "mode": "any"}}],
            space={"model": ["m1", "m2", "m3"], "temperature": [0.1, 0.5, 0.9], "prompt_template": [LONG_A, LONG_B]},
        )
        before = admin.get(f"/api/v1/experiments/{experiment_id}/importance").json()
        assert before["items"] == [] and before["runs_used"] == 0 and "at least 4" in before["reason"]

        assert admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid"}).status_code in (200, 201, 202)
        wait_status(admin, experiment_id)
        response = admin.get(f"/api/v1/experiments/{experiment_id}/importance")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["evaluator"] == "ped_anova" and body["metric"] == "weighted_score"
        assert body["runs_used"] == 18
        importances = {item["key"]: item["importance"] for item in body["items"]}
        assert set(importances) == {"model", "temperature", "prompt_template"}
        assert body["items"][0]["key"] == "model", body
        assert importances["model"] > 0.8
        assert abs(sum(importances.values()) - 1.0) < 1e-6
        assert importances["prompt_template"] < 0.1

        sweep_id = admin.get(f"/api/v1/experiments/{experiment_id}/runs", params={"limit": 1}).json()["items"][0]["sweep_id"]
        one = admin.get(f"/api/v1/experiments/{experiment_id}/importance", params={"sweep_id": sweep_id}).json()
        assert one["runs_used"] == 18
        other = admin.get(f"/api/v1/experiments/{experiment_id}/importance", params={"sweep_id": str(uuid.uuid4())}).json()
        assert other["runs_used"] == 0 and other["items"] == []


def test_importance_of_a_missing_experiment_or_bad_id(admin: TestClient) -> None:
    missing = admin.get(f"/api/v1/experiments/{uuid.uuid4()}/importance")
    assert missing.status_code == 404 and missing.json()["code"]
    assert admin.get("/api/v1/experiments/not-a-uuid/importance").status_code == 422
    assert admin.get(f"/api/v1/experiments/{uuid.uuid4()}/importance", params={"sweep_id": "x"}).status_code == 422
