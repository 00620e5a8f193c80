"""Honest numbers outside the sweep engine (issue 11 §6): project counts, one rating per user, the
report's cells, stages without an endpoint, the first endpoint as default, and the estimate's scorer
and cached calls. On SQLite and Postgres.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support.flows import make_endpoint, make_experiment, wait_status
from tests.support.llm_server import LLMServer


def test_put_project_answers_the_real_experiment_count(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        experiment_id = make_experiment(admin, endpoint_id)
        project_id = admin.get(f"/api/v1/experiments/{experiment_id}").json()["project_id"]
        doc = admin.get(f"/api/v1/experiments/{experiment_id}").json()
        for name in ("second", "third"):
            body = {k: doc[k] for k in ("sample_data", "pipeline_stages", "scoring_config", "parameter_space")}
            assert admin.post("/api/v1/experiments", json=body | {"project_id": project_id, "name": name}).status_code == 201
        updated = admin.put(f"/api/v1/projects/{project_id}", json={"description": "renamed"})
        assert updated.status_code == 200 and updated.json()["experiment_count"] == 3
        assert admin.get(f"/api/v1/projects/{project_id}").json()["experiment_count"] == 3


def _login_second_admin(admin: TestClient) -> dict[str, str]:
    created = admin.post("/api/v1/admin/users", json={"username": "second", "password": "second-password-1",
                                                       "is_admin": True})
    assert created.status_code == 201, created.text
    other = TestClient(admin.app)
    other.portal = admin.portal  # type: ignore[attr-defined]
    token = other.post("/api/v1/auth/login", json={"username": "second", "password": "second-password-1"})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_a_users_second_rating_replaces_the_first_and_users_average(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1, models=["m1"],
                                        temperatures=[0.1])
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={})
        wait_status(admin, experiment_id)
        run_id = admin.get(f"/api/v1/experiments/{experiment_id}/runs").json()["items"][0]["id"]
        assert admin.post(f"/api/v1/runs/{run_id}/score", json={"value": 1.0}).status_code == 200
        second = admin.post(f"/api/v1/runs/{run_id}/score", json={"value": 0.75})
        assert second.status_code == 200
        assert second.json()["scores"]["human_rating"] == 0.75, "the second rating replaces the first (not 0.875)"
        ratings = [d for d in second.json()["score_details"] if d["name"] == "human_rating"]
        assert len(ratings) == 1 and ratings[0]["value"] == 0.75
        other = admin.post(f"/api/v1/runs/{run_id}/score", json={"value": 0.25}, headers=_login_second_admin(admin))
        assert other.status_code == 200, other.text
        assert other.json()["scores"]["human_rating"] == 0.5, "different users' ratings average"


def test_report_says_not_rated_and_shows_swept_prompt_variants(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        scoring = [{"scorer": "length", "weight": 1.0, "config": {"max_words": 40}},
                   {"scorer": "human_rating", "weight": 1.0}]
        space = {"prompt_template": ["Answer: {{ input }}", "Reply | briefly: {{ input }}"]}
        experiment_id = make_experiment(admin, endpoint_id, samples=1, scoring=scoring, space=space)
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={})
        wait_status(admin, experiment_id)
        report = admin.get(f"/api/v1/experiments/{experiment_id}/export/report").text
        assert "nan" not in report
        rows = [line for line in report.splitlines() if line.startswith("| 1 |") or line.startswith("| 2 |")]
        assert len(rows) == 2 and all("not rated" in row for row in rows)
        header = next(line for line in report.splitlines() if line.startswith("| rank |"))
        assert "human_rating" in header and "prompt_template" in header
        assert any("Answer: {{ input }}" in row for row in rows)
        assert any("Reply \\| briefly: {{ input }}" in row for row in rows), "pipes in a prompt are escaped"


def _doc_without_endpoint(project_id: str) -> dict[str, Any]:
    return {
        "project_id": project_id, "name": "no endpoint",
        "sample_data": [{"id": "s1", "input": "alpha"}],
        "pipeline_stages": [{"name": "answer", "model": "m1", "prompt_template": "Answer: {{ input }}"}],
    }


def test_a_stage_without_endpoint_is_refused_on_save_until_a_default_exists(admin: TestClient) -> None:
    project_id = admin.post("/api/v1/projects", json={"name": "p"}).json()["id"]
    refused = admin.post("/api/v1/experiments", json=_doc_without_endpoint(project_id))
    assert refused.status_code == 422
    assert [e["loc"] for e in refused.json()["detail"]] == [["body", "pipeline_stages", 0, "endpoint_id"]]
    assert refused.json()["detail"][0]["type"] == "missing_endpoint"
    # A parameter space that sets the endpoint of every config is enough.
    with LLMServer(models=["m1"]) as server:
        assert admin.get("/api/v1/admin/settings").json()["default_endpoint_id"] is None
        first = make_endpoint(admin, server.base_url)
        assert admin.get("/api/v1/admin/settings").json()["default_endpoint_id"] == first, "the first is the default"
        make_endpoint(admin, server.base_url, label="second")
        assert admin.get("/api/v1/admin/settings").json()["default_endpoint_id"] == first, "a second one is not"
        saved = admin.post("/api/v1/experiments", json=_doc_without_endpoint(project_id))
        assert saved.status_code == 201, saved.text
        experiment_id = saved.json()["id"]
        assert admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={}).status_code == 202
        wait_status(admin, experiment_id)
        runs = admin.get(f"/api/v1/experiments/{experiment_id}/runs").json()["items"]
        assert [r["status"] for r in runs] == ["completed"] and server.stats()["calls"] == 1
        # With the default gone, such a stage cannot run: a sweep is refused on the stage, not failed.
        assert admin.put("/api/v1/admin/settings", json={"default_endpoint_id": None}).status_code == 200
        again = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={})
        assert again.status_code == 422
        assert again.json()["detail"][0]["loc"] == ["body", "pipeline_stages", 0, "endpoint_id"]
        swept = _doc_without_endpoint(project_id) | {"parameter_space": {"endpoint_id": [first]}}
        assert admin.post("/api/v1/experiments", json=swept).status_code == 201


def test_estimate_counts_scorer_calls_and_what_is_already_cached(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        pricing = {"m1": {"input_per_1m": 1000.0, "output_per_1m": 1000.0},
                   "m2": {"input_per_1m": 1000.0, "output_per_1m": 1000.0}}
        endpoint_id = make_endpoint(admin, server.base_url, pricing=pricing)
        scoring = [
            {"scorer": "length", "weight": 1.0, "config": {"max_words": 40}},
            {"scorer": "llm_judge", "weight": 1.0,
             "config": {"model": "m1", "prompt": "Rate {{ output }} as {\"score\": x}"}},
        ]
        experiment_id = make_experiment(admin, endpoint_id, samples=3, scoring=scoring)
        experiment = admin.get(f"/api/v1/experiments/{experiment_id}").json()
        doc = {k: experiment[k] for k in ("name", "sample_data", "pipeline_stages", "scoring_config",
                                          "parameter_space")}
        before = admin.post("/api/v1/experiments/estimate", json={"document": doc})
        assert before.status_code == 200, before.text
        body = before.json()
        assert body["runs"] == 4 and body["llm_calls"] == 12 and body["scorer_calls"] == 12
        assert body["calls"] == 24, "stage calls and judge calls"
        assert body["cached_calls"] == 0 and body["cache_checked"] == 12
        assert body["cost_usd_uncached"] == body["cost"] > 0

        admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={})
        wait_status(admin, experiment_id)
        assert server.stats()["calls"] == 24, "the estimate's call count was right"
        after = admin.post("/api/v1/experiments/estimate", json={"document": doc}).json()
        assert after["cached_calls"] == 12 and after["cost_usd_uncached"] == 0
        assert after["cost"] == body["cost"], "the cost of the answers is unchanged; what is left to pay is 0"
