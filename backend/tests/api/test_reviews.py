"""Ratings per output: PUT/DELETE /runs/{id}/samples/{sample}/rating, GET /runs/{id}/ratings and the
review queue, on a real sweep against the loopback LLM."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.support.flows import make_endpoint, make_experiment, wait_status
from tests.support.llm_server import LLMServer


def _swept(admin: TestClient, server: LLMServer) -> str:
    endpoint_id = make_endpoint(admin, server.base_url)
    experiment_id = make_experiment(admin, endpoint_id, samples=2)
    admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid"})
    wait_status(admin, experiment_id)
    return experiment_id


def test_one_editable_rating_per_person_and_output_and_the_run_mean(admin: TestClient, anon: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = _swept(admin, server)
        board = admin.get(f"/api/v1/experiments/{experiment_id}/leaderboard").json()["items"]
        top = board[0]["run_id"]
        url = f"/api/v1/runs/{top}/samples/s0/rating"

        first = admin.put(url, json={"rating": 4})
        assert first.status_code == 200, first.text
        assert first.json()["count"] == 1 and first.json()["human_score"] == 0.75
        assert first.json()["items"][0] | {"updated_at": None} == {
            "run_id": top, "sample_id": "s0", "rating": 4, "rater": "admin", "comment": None, "updated_at": None,
            "mine": True}
        # A second rating by the same person replaces the first: it does not stack.
        again = admin.put(url, json={"rating": 2, "comment": "vague"}).json()
        assert again["count"] == 1 and again["human_score"] == 0.25 and again["items"][0]["comment"] == "vague"
        # The run's human score is the mean of its outputs' ratings: (2 + 5) / 2 = 3.5 -> 0.625.
        both = admin.put(f"/api/v1/runs/{top}/samples/s1/rating", json={"rating": 5}).json()
        assert both["count"] == 2 and both["human_score"] == 0.625
        run = admin.get(f"/api/v1/runs/{top}").json()
        assert run["scores"]["human_rating"] == 0.625
        detail = next(d for d in run["score_details"] if d["name"] == "human_rating")
        assert detail["metadata"]["source"] == "outputs" and detail["metadata"]["ratings"] == 2

        # A second admin's rating of the same output is theirs alone; the mean takes every rating.
        assert admin.post("/api/v1/admin/users", json={"username": "rev2", "password": "second-reviewer-pw",
                                                         "is_admin": True}).status_code == 201
        token = anon.post("/api/v1/auth/login", json={"username": "rev2", "password": "second-reviewer-pw"}).json()
        other = {"Authorization": f"Bearer {token['access_token']}"}
        theirs = anon.put(url, json={"rating": 5}, headers=other).json()
        assert theirs["count"] == 3 and theirs["human_score"] == round(((2 + 5 + 5) / 3 - 1) / 4, 6)
        assert {(i["rater"], i["mine"]) for i in theirs["items"] if i["sample_id"] == "s0"} == {
            ("admin", False), ("rev2", True)}

        # Taking a rating back.
        cleared = admin.delete(url).json()
        assert cleared["count"] == 2 and {i["rater"] for i in cleared["items"] if i["sample_id"] == "s0"} == {"rev2"}
        assert admin.get(f"/api/v1/runs/{top}/ratings").json()["count"] == 2

        # Errors: no such output, bad rating, guests, missing run.
        assert admin.put(f"/api/v1/runs/{top}/samples/nope/rating", json={"rating": 3}).status_code == 404
        assert admin.put(url, json={"rating": 6}).status_code == 422
        assert admin.put(url, json={"rating": 3, "extra": 1}).status_code == 422
        assert anon.put(url, json={"rating": 3}).status_code == 401
        assert admin.get(f"/api/v1/runs/{uuid.uuid4()}/ratings").status_code == 404
        for bad in ("a%00b", "%0A"):  # NUL and newline in the path: refused up front, never a 500
            assert admin.delete(f"/api/v1/runs/{top}/samples/{bad}/rating").status_code == 422
            assert admin.put(f"/api/v1/runs/{top}/samples/{bad}/rating", json={"rating": 3}).status_code == 422
        # The run-level rating of CONTRACT still works beside them.
        assert admin.post(f"/api/v1/runs/{top}/score", json={"rating": 5}).status_code == 200


def test_review_queue_walks_unrated_outputs_of_the_top_runs(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = _swept(admin, server)
        queue_url = f"/api/v1/experiments/{experiment_id}/review-queue"
        queue = admin.get(queue_url, params={"top": 2}).json()
        assert queue["runs"] == 2 and queue["total_unrated"] == 4
        board = admin.get(f"/api/v1/experiments/{experiment_id}/leaderboard").json()["items"]
        assert [(i["run_id"], i["sample_id"], i["rank"]) for i in queue["items"]] == [
            (board[0]["run_id"], "s0", 1), (board[0]["run_id"], "s1", 1),
            (board[1]["run_id"], "s0", 2), (board[1]["run_id"], "s1", 2)]
        first = queue["items"][0]
        assert first["input"] == "sample number 0 about alpha" and first["output"] and first["error"] is None
        admin.put(f"/api/v1/runs/{first['run_id']}/samples/s0/rating", json={"rating": 3})
        after = admin.get(queue_url, params={"top": 2, "limit": 1}).json()
        assert after["total_unrated"] == 3 and len(after["items"]) == 1
        assert (after["items"][0]["run_id"], after["items"][0]["sample_id"]) == (first["run_id"], "s1")
        assert admin.get(f"/api/v1/experiments/{uuid.uuid4()}/review-queue").status_code == 404
        assert admin.get(queue_url, params={"top": 0}).status_code == 422
