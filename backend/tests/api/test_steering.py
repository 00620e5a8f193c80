"""Steering and project memory: fork from a run (unchanged calls are cache hits), approve and reject
driving exports, saved configurations, export history and notes.

On SQLite and Postgres with the in-process queue, and in production mode (Postgres, Redis and two
real `promptlooper worker` processes), since every test here runs sweeps.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.environment import bearer
from tests.support.flows import make_endpoint, make_experiment, wait_event, wait_status
from tests.support.llm_server import LLMServer


@pytest.fixture(params=["sqlite", "postgres", "production"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """Sweeps run here, so a third time in production mode: Celery workers on Redis."""
    return str(request.param)


def two_stage_experiment(client: TestClient, endpoint_id: str) -> str:
    """Draft then polish (stage 2 reads stage 1's output), 2 samples, 2 temperatures: 2 runs, 8 calls."""
    stages = [
        {"name": "draft", "endpoint_id": endpoint_id, "model": "m1", "prompt_template": "Draft: {{ input }}",
         "params": {"temperature": 0.5}},
        {"name": "polish", "endpoint_id": endpoint_id, "model": "m2", "prompt_template": "Polish: {{ previous }}",
         "params": {"temperature": 0.5}},
    ]
    return make_experiment(client, endpoint_id, samples=2, stages=stages,
                           space={"stages.draft.temperature": [0.1, 0.9], "vars.tone": ["dry"]})


def sweep(client: TestClient, experiment_id: str) -> list[dict[str, Any]]:
    started = client.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid"})
    assert started.status_code == 202, started.text
    wait_status(client, experiment_id)
    runs = client.get(f"/api/v1/experiments/{experiment_id}/runs",
                      params={"sweep_id": started.json()["sweep_id"]}).json()["items"]
    return list(runs)


def test_fork_pays_only_for_the_calls_its_changes_touch(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        source_id = two_stage_experiment(admin, endpoint_id)
        sweep(admin, source_id)
        assert server.calls == 8
        best = admin.get(f"/api/v1/experiments/{source_id}/leaderboard", params={"limit": 1}).json()["items"][0]

        # Only stage 2's prompt changes: stage 1's two calls hit the cache, stage 2's two are paid.
        forked = admin.post(f"/api/v1/experiments/{source_id}/fork", json={
            "name": "polish harder",
            "changes": {"pipeline_stages": [{"name": "polish", "prompt_template": "Polish hard: {{ previous }}"}]},
        })
        assert forked.status_code == 201, forked.text
        fork = forked.json()
        assert fork["status"] == "draft" and fork["name"] == "polish harder"
        assert fork["forked_from"] == {"experiment_id": source_id, "run_id": best["run_id"]}
        assert fork["grid_size"] == 1 and fork["parameter_space"] == {"vars.tone": ["dry"]}
        draft, polish = fork["pipeline_stages"]
        assert draft == best["config"]["stages"][0] | {"name": "draft"}
        assert polish["prompt_template"] == "Polish hard: {{ previous }}" and polish["model"] == "m2"
        assert admin.get(f"/api/v1/experiments/{fork['id']}").json()["forked_from"]["run_id"] == best["run_id"]
        [run] = sweep(admin, fork["id"])
        assert server.calls == 10, "only the changed stage's calls (one per sample) are paid"
        assert run["cache_hits"] == 2 and run["status"] == "completed"
        assert run["config"]["stages"][0] == best["config"]["stages"][0]
        assert run["config"]["vars"] == {"tone": "dry"}

        # Stage 1's prompt changes: its output changes, so stage 2's input does too: all four are paid.
        first = admin.post(f"/api/v1/experiments/{source_id}/fork", json={
            "name": "new draft", "run_id": best["run_id"],
            "changes": {"pipeline_stages": [{"name": "draft", "prompt_template": "Draft well: {{ input }}"}]},
        }).json()
        [run] = sweep(admin, first["id"])
        assert server.calls == 14 and run["cache_hits"] == 0

        # No change at all: every call is a hit and the run is `cached`.
        same = admin.post(f"/api/v1/experiments/{source_id}/fork", json={"name": "same"}).json()
        [run] = sweep(admin, same["id"])
        assert server.calls == 14 and run["status"] == "cached" and run["weighted_score"] == best["weighted_score"]

        # A new parameter space sweeps the fork: the run equal to the source's best is a hit.
        wider = admin.post(f"/api/v1/experiments/{source_id}/fork", json={
            "name": "models", "parameter_space": {"stages.polish.model": ["m1", "m2"]}}).json()
        assert wider["grid_size"] == 2 and wider["parameter_space"]["vars.tone"] == ["dry"]
        runs = sweep(admin, wider["id"])
        assert {r["status"] for r in runs} == {"completed", "cached"}
        assert server.calls == 16


def test_fork_refuses_what_cannot_be_forked(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        empty = make_experiment(admin, endpoint_id, samples=1)
        none = admin.post(f"/api/v1/experiments/{empty}/fork", json={"name": "x"})
        assert none.status_code == 404 and none.json()["code"] == "no_completed_runs"
        source = make_experiment(admin, endpoint_id, samples=1, models=["m1"], temperatures=[0.1])
        [run] = sweep(admin, source)
        other = admin.post(f"/api/v1/experiments/{empty}/fork", json={"name": "x", "run_id": run["id"]})
        assert other.status_code == 404 and other.json()["code"] == "run_not_found"
        bad = admin.post(f"/api/v1/experiments/{source}/fork", json={
            "name": "x", "changes": {"pipeline_stages": [{"name": "answer", "prompt_template": "{{ nope }}"}]}})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][:3] == ["body", "pipeline_stages", 0]
        unknown = admin.post(f"/api/v1/experiments/{source}/fork", json={"name": "x", "changes": {"colour": 1}})
        assert unknown.status_code == 422
        missing = admin.post("/api/v1/experiments/00000000-0000-0000-0000-000000000000/fork", json={"name": "x"})
        assert missing.status_code == 404 and missing.json()["code"] == "experiment_not_found"
        assert server.calls == 1


def test_approve_and_reject_drive_exports_and_project_memory(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=2)
        project_id = admin.get(f"/api/v1/experiments/{experiment_id}").json()["project_id"]
        runs = sweep(admin, experiment_id)
        best = max(runs, key=lambda r: r["weighted_score"])
        worse = next(r for r in runs if r["config"]["stages"][0]["model"] == "m1")
        assert best["config"]["stages"][0]["model"] == "m2"
        assert admin.get(f"/api/v1/experiments/{experiment_id}/export/best").json()["run_id"] == best["id"]

        approved = admin.post(f"/api/v1/runs/{worse['id']}/approve", json={"name": "house style", "note": "cheaper"})
        assert approved.status_code == 201, approved.text
        saved = approved.json()
        assert {k: saved[k] for k in ("project_id", "experiment_id", "run_id", "name", "note", "config_hash",
                                     "approved_by")} == {
            "project_id": project_id, "experiment_id": experiment_id, "run_id": worse["id"], "name": "house style",
            "note": "cheaper", "config_hash": worse["config_hash"], "approved_by": "admin"}
        assert saved["config"] == worse["config"] and saved["score"] == worse["weighted_score"]
        assert saved["approved_at"].endswith("Z")
        event = next(e for e in wait_event(admin, experiment_id, "config.approved") if e["type"] == "config.approved")
        assert event["run_id"] == worse["id"] and event["data"]["saved_config_id"] == saved["id"]

        # The experiment's exports now serve the approved configuration, in every format.
        exported = admin.get(f"/api/v1/experiments/{experiment_id}/export/best").json()
        assert exported["run_id"] == worse["id"] and exported["saved_config_id"] == saved["id"]
        assert "LLM_MODEL=m1" in admin.get(f"/api/v1/experiments/{experiment_id}/export/env").text.splitlines()
        assert "model: m1" in admin.get(f"/api/v1/experiments/{experiment_id}/export/yaml").text
        assert "(approved configuration)" in admin.get(f"/api/v1/experiments/{experiment_id}/export/report").text
        by_run = admin.get(f"/api/v1/experiments/{experiment_id}/export/best", params={"run_id": best["id"]})
        assert by_run.json()["run_id"] == best["id"] and "saved_config_id" not in by_run.json()
        by_saved = admin.get(f"/api/v1/experiments/{experiment_id}/export/env", params={"saved_config_id": saved["id"]})
        assert "LLM_MODEL=m1" in by_saved.text.splitlines()
        both = admin.get(f"/api/v1/experiments/{experiment_id}/export/best",
                         params={"saved_config_id": saved["id"], "run_id": best["id"]})
        assert both.status_code == 400 and both.json()["code"] == "ambiguous_export"

        # Rejecting the approved configuration takes it out of exports; the best run is served again.
        assert admin.put(f"/api/v1/runs/{worse['id']}", json={"rejected": True}).status_code == 200
        assert admin.get(f"/api/v1/experiments/{experiment_id}/export/best").json()["run_id"] == best["id"]
        refused = admin.get(f"/api/v1/experiments/{experiment_id}/export/best", params={"run_id": worse["id"]})
        assert refused.status_code == 409 and refused.json()["code"] == "config_rejected"
        again = admin.post(f"/api/v1/runs/{worse['id']}/approve", json={})
        assert again.status_code == 409 and again.json()["code"] == "config_rejected"
        assert admin.put(f"/api/v1/runs/{worse['id']}", json={"rejected": False}).status_code == 200
        assert admin.get(f"/api/v1/experiments/{experiment_id}/export/best").json()["saved_config_id"] == saved["id"]

        # A later approval wins; the project lists both, latest first.
        later = admin.post(f"/api/v1/runs/{best['id']}/approve", json={}).json()
        assert later["name"] == "flow" and later["note"] is None
        assert admin.get(f"/api/v1/experiments/{experiment_id}/export/best").json()["saved_config_id"] == later["id"]
        configs = admin.get(f"/api/v1/projects/{project_id}/configs").json()
        assert configs["total"] == 2 and [c["id"] for c in configs["items"]] == [later["id"], saved["id"]]
        assert admin.get(f"/api/v1/configs/{saved['id']}").json()["name"] == "house style"

        # One history row per export served (refused ones are not), newest first.
        history = admin.get(f"/api/v1/projects/{project_id}/exports", params={"limit": 100}).json()
        assert history["total"] == 10
        assert [h["format"] for h in history["items"]][::-1] == [
            "json", "json", "env", "yaml", "report", "json", "env", "json", "json", "json"]
        newest = history["items"][0]
        assert newest == newest | {"experiment_id": experiment_id, "run_id": best["id"], "saved_config_id": later["id"],
                                   "config_hash": best["config_hash"], "user": "admin"}
        assert history["items"][-1]["saved_config_id"] is None

        assert admin.post("/api/v1/runs/00000000-0000-0000-0000-000000000000/approve", json={}).status_code == 404
        other_project = admin.post("/api/v1/projects", json={"name": "other"}).json()["id"]
        assert admin.get(f"/api/v1/projects/{other_project}/configs").json()["total"] == 0
        foreign = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1)
        cross = admin.get(f"/api/v1/experiments/{foreign}/export/best", params={"saved_config_id": saved["id"]})
        assert cross.status_code == 404 and cross.json()["code"] == "saved_configuration_not_found"


def test_project_notes_are_kept_and_read(admin: TestClient, anon: TestClient) -> None:
    project_id = admin.post("/api/v1/projects", json={"name": "memory"}).json()["id"]
    updated = admin.put(f"/api/v1/projects/{project_id}", json={"notes": "m2 wins; keep temperature low"})
    assert updated.status_code == 200 and updated.json()["notes"] == "m2 wins; keep temperature low"
    assert admin.get(f"/api/v1/projects/{project_id}").json()["notes"] == "m2 wins; keep temperature low"
    assert admin.get(f"/api/v1/projects/{project_id}/exports").json() == {
        "items": [], "total": 0, "limit": 50, "offset": 0}
    assert anon.get(f"/api/v1/projects/{project_id}/configs").status_code == 401


def test_read_only_users_read_memory_and_export_but_cannot_fork_or_approve(admin: TestClient, anon: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1, models=["m1"],
                                        temperatures=[0.1])
        project_id = admin.get(f"/api/v1/experiments/{experiment_id}").json()["project_id"]
        [run] = sweep(admin, experiment_id)
        assert admin.post("/api/v1/admin/users", json={"username": "viewer", "password": "viewer-password"}).status_code == 201
        token = anon.post("/api/v1/auth/login", json={"username": "viewer", "password": "viewer-password"}).json()
        viewer = bearer(token["access_token"])
        fork = anon.post(f"/api/v1/experiments/{experiment_id}/fork", json={"name": "x"}, headers=viewer)
        assert fork.status_code == 403 and fork.json()["code"] == "forbidden"
        assert anon.post(f"/api/v1/runs/{run['id']}/approve", json={}, headers=viewer).status_code == 403
        assert anon.get(f"/api/v1/experiments/{experiment_id}/export/yaml", headers=viewer).status_code == 200
        assert anon.get(f"/api/v1/projects/{project_id}/configs", headers=viewer).json()["total"] == 0
        [row] = anon.get(f"/api/v1/projects/{project_id}/exports", headers=viewer).json()["items"]
        assert row | {"format": "yaml", "user": "viewer", "run_id": run["id"], "saved_config_id": None} == row


def test_a_rejected_configuration_is_not_exported_through_its_cached_twin(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1, temperatures=[0.1])
        first = sweep(admin, experiment_id)
        sweep(admin, experiment_id)  # the same two configurations again, all cached
        best = next(r for r in first if r["config"]["stages"][0]["model"] == "m2")
        assert admin.put(f"/api/v1/runs/{best['id']}", json={"rejected": True}).status_code == 200
        exported = admin.get(f"/api/v1/experiments/{experiment_id}/export/best").json()
        assert exported["model"] == "m1" and exported["config_hash"] != best["config_hash"]
        forked = admin.post(f"/api/v1/experiments/{experiment_id}/fork", json={"name": "f"}).json()
        assert forked["pipeline_stages"][0]["model"] == "m1", "a fork's default run skips rejected configurations"
        assert admin.put(f"/api/v1/runs/{best['id']}", json={"rejected": False}).status_code == 200
        assert admin.get(f"/api/v1/experiments/{experiment_id}/export/best").json()["model"] == "m2"
