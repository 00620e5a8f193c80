"""Scorer catalogue, re-scoring from stored responses (zero chat calls) and judge agreement."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.support.flows import make_endpoint, make_experiment, wait_event, wait_status
from tests.support.llm_server import LLMServer


def test_scorer_catalogue(admin: TestClient, anon: TestClient) -> None:
    listed = admin.get("/api/v1/scorers")
    assert listed.status_code == 200
    assert listed.json()["total"] == len(listed.json()["items"])
    by_id = {s["id"]: s for s in listed.json()["items"]}
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


def _judge_experiment(admin: TestClient, endpoint_id: str) -> str:
    scoring = [
        {"scorer": "llm_judge", "name": "judge",
         "config": {"endpoint_id": endpoint_id, "model": "m1", "prompt": "{{ output[5:8] }}/1"}},
        {"scorer": "human_rating", "weight": 1.0},
    ]
    return make_experiment(admin, endpoint_id, samples=1, models=["m1"], temperatures=[0.1, 0.5, 0.9],
                           scoring=scoring)


def test_llm_judge_and_judge_agreement(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = _judge_experiment(admin, make_endpoint(admin, server.base_url))
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={})
        wait_status(admin, experiment_id)
        runs = admin.get(f"/api/v1/experiments/{experiment_id}/runs").json()["items"]
        judged = {r["id"]: r["scores"]["judge"] for r in runs}
        assert sorted(judged.values()) == [0.1, 0.5, 0.9]
        empty = admin.get(f"/api/v1/experiments/{experiment_id}/judge-agreement").json()
        assert empty["human_rated_runs"] == 0 and empty["judges"][0]["spearman"] is None
        for run_id, value in judged.items():
            assert admin.post(f"/api/v1/runs/{run_id}/score", json={"value": value}).status_code == 200
        agreement = admin.get(f"/api/v1/experiments/{experiment_id}/judge-agreement").json()
        judge = agreement["judges"][0]
        assert agreement["human_rated_runs"] == 3 and judge["runs"] == 3
        assert judge["spearman"] == 1.0 and judge["mean_abs_diff"] == 0.0
        calls = server.stats()["calls"]
        admin.post(f"/api/v1/experiments/{experiment_id}/rescore")
        wait_event(admin, experiment_id, "rescore.completed")
        assert server.stats()["calls"] == calls, "judge calls are cached like responses"
        rated = admin.get(f"/api/v1/runs/{runs[0]['id']}").json()
        assert rated["weighted_score"] == rated["scores"]["judge"], "human value equals the judge's"


def test_python_scorer_in_a_sweep(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        code = "def score(input, output, context):\n    return 1.0 if output.startswith('m2') else 0.25\n"
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1,
                                        scoring=[{"scorer": "python", "config": {"code": code}}])
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={})
        wait_status(admin, experiment_id)
        runs = admin.get(f"/api/v1/experiments/{experiment_id}/runs").json()["items"]
        values = {r["config"]["stages"][0]["model"]: r["scores"]["python"] for r in runs}
        assert values == {"m1": 0.25, "m2": 1.0}


def test_judge_calibration_kappa_bias_and_warning(admin: TestClient) -> None:
    from promptlooper.engine.stats import quadratic_weighted_kappa

    with LLMServer(models=["m1"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        scoring = [{"scorer": "llm_judge", "name": "judge",
                    "config": {"endpoint_id": endpoint_id, "model": "m1", "prompt": "{{ output[5:8] }}/1"}}]
        # the judge's score is the answer's temperature: 0.1 (level 1 of 5) and 0.9 (level 5 of 5)
        experiment_id = make_experiment(admin, endpoint_id, samples=6, models=["m1"], temperatures=[0.1, 0.9],
                                        scoring=scoring)
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={})
        wait_status(admin, experiment_id)
        runs = {r["config"]["stages"][0]["params"]["temperature"]: r["id"]
                for r in admin.get(f"/api/v1/experiments/{experiment_id}/runs").json()["items"]}

        def rate(low: int, high: int) -> dict[str, object]:
            for temperature, rating in ((0.1, low), (0.9, high)):
                for i in range(6):
                    put = admin.put(f"/api/v1/runs/{runs[temperature]}/samples/s{i}/rating", json={"rating": rating})
                    assert put.status_code == 200, put.text
            judges = admin.get(f"/api/v1/experiments/{experiment_id}/judge-agreement").json()["judges"]
            return dict(judges[0])

        # People rate the outputs the judge calls worst 5 and the ones it calls best 2: it disagrees.
        judge = rate(5, 2)
        expected = quadratic_weighted_kappa([0] * 6 + [4] * 6, [4] * 6 + [1] * 6, 5)
        assert expected is not None and expected < 0.4
        assert judge["pairs"] == 12 and judge["kappa"] == round(expected, 4) and judge["warning"] is True
        assert judge["bias"] == round((0.1 + 0.9) / 2 - (1.0 + 0.25) / 2, 4)
        # They agree: kappa 1, no warning, no bias.
        judge = rate(1, 5)
        assert judge["kappa"] == 1.0 and judge["warning"] is False and judge["bias"] == 0.0
        # Too few pairs for a warning, however much they disagree.
        for i in range(1, 6):
            for temperature in (0.1, 0.9):
                admin.delete(f"/api/v1/runs/{runs[temperature]}/samples/s{i}/rating")
        admin.put(f"/api/v1/runs/{runs[0.1]}/samples/s0/rating", json={"rating": 5})
        admin.put(f"/api/v1/runs/{runs[0.9]}/samples/s0/rating", json={"rating": 1})
        judge = dict(admin.get(f"/api/v1/experiments/{experiment_id}/judge-agreement").json()["judges"][0])
        assert judge["pairs"] == 2 and judge["kappa"] == -1.0 and judge["warning"] is False
        # A run rated as a whole pairs with the judge's run score.
        assert admin.post(f"/api/v1/runs/{runs[0.9]}/score", json={"rating": 1}).status_code == 200
        judge = dict(admin.get(f"/api/v1/experiments/{experiment_id}/judge-agreement").json()["judges"][0])
        assert judge["pairs"] == 3 and judge["bias"] == round((0.1 + 0.9 + 0.9) / 3 - (1.0 + 0.0 + 0.0) / 3, 4)
