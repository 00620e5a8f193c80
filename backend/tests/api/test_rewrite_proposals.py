"""Prompt rewriting with approval (issue 16 items 4, 5) against the loopback LLM server as the optimizer.

The main flows run in every mode in `test_rewrite_modes.py`; these are the edits, checks and errors.

The server answers PromptLooper's meta-prompt with `<current prompt> <suffix>` rewrites (or scripted
garbage, `optimizer_mode`), and counts every request: nothing is spent on a proposal before it is
approved. SQLite and Postgres.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from tests.support.flows import make_endpoint, wait_event, wait_status
from tests.support.llm_server import REWRITE_SUFFIXES, LLMServer

PROMPT = "{{ input }}"
LONG_INPUT = " ".join(f"word{i}" for i in range(80))


def experiment(client: TestClient, endpoint_id: str) -> str:
    """One stage, one sample; the score depends on max_tokens (the server truncates its answer to it)."""
    project_id = client.post("/api/v1/projects", json={"name": "rewrite"}).json()["id"]
    doc = {
        "project_id": project_id, "name": "rewrite",
        "sample_data": [{"id": "s1", "input": LONG_INPUT}],
        "pipeline_stages": [{"name": "answer", "endpoint_id": endpoint_id, "model": "m1",
                             "prompt_template": PROMPT, "params": {"temperature": 0.5}}],
        "scoring_config": [{"scorer": "length", "config": {"min_words": 30, "max_words": 30}}],
        "parameter_space": {"max_tokens": {"min": 1, "max": 60, "type": "int"}},
    }
    response = client.post("/api/v1/experiments", json=doc)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def start(client: TestClient, experiment_id: str, endpoint_id: str, *, max_runs: int, every: int, candidates: int,
          approval: str) -> str:
    rewrite = {"endpoint_id": endpoint_id, "model": "optimizer", "every": every, "candidates": candidates,
               "approval": approval}
    started = client.post(f"/api/v1/experiments/{experiment_id}/sweep", json={
        "type": "guided", "seed": 3, "max_runs": max_runs, "concurrency": 2,
        "guided": {"n_startup": 2, "rewrite": rewrite}})
    assert started.status_code == 202, started.text
    return str(started.json()["sweep_id"])


def proposals(client: TestClient, sweep_id: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/sweeps/{sweep_id}/proposals", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def wait_idle_with_pending(client: TestClient, sweep_id: str, pending: int, timeout_s: float = 60.0) -> None:
    """Until the sweep has `pending` proposals waiting and no run left open."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sweep = client.get(f"/api/v1/sweeps/{sweep_id}").json()
        waiting = proposals(client, sweep_id, status="pending")
        if len(waiting) == pending and sweep["pending"] == 0 and sweep["running"] == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"the sweep did not settle with {pending} pending proposals: {sweep}")


def test_approve_with_an_edit_and_the_bad_inputs(admin: TestClient) -> None:
    with LLMServer(models=["m1", "optimizer"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        experiment_id = experiment(admin, endpoint_id)
        sweep_id = start(admin, experiment_id, endpoint_id, max_runs=2, every=2, candidates=1, approval="required")
        wait_idle_with_pending(admin, sweep_id, pending=1)
        (meta,) = [r for r in server.requests if "prompt optimizer" in r["messages"][0]["content"]]
        shown = meta["messages"][1]["content"]
        assert f"<current>\n{PROMPT}\n</current>" in shown, shown
        assert "word0 word1" in shown and "length 0." in shown, "inputs, outputs and the scorers' values"
        assert "Write 1 new" in shown and meta["model"] == "optimizer"
        (pending,) = proposals(admin, sweep_id, status="pending")
        undefined = admin.post(f"/api/v1/proposals/{pending['id']}/approve", json={"text": "{{ nowhere }}"})
        assert undefined.status_code == 422 and undefined.json()["detail"][0]["loc"] == ["body", "text"]
        empty = admin.post(f"/api/v1/proposals/{pending['id']}/approve", json={"text": ""})
        assert empty.status_code == 422
        unknown_field = admin.post(f"/api/v1/proposals/{pending['id']}/approve", json={"bogus": 1})
        assert unknown_field.status_code == 422
        assert admin.get(f"/api/v1/sweeps/{sweep_id}/proposals", params={"status": "nope"}).status_code == 422
        edited_text = "Summarize in thirty words: {{ input }}"
        edited = admin.post(f"/api/v1/proposals/{pending['id']}/approve", json={"text": edited_text})
        assert edited.status_code == 200, edited.text
        assert edited.json()["text"] == edited_text and edited.json()["proposed_text"] == pending["text"]
        wait_status(admin, experiment_id, timeout_s=60)
        run = admin.get(f"/api/v1/runs/{edited.json()['run_ids'][0]}").json()
        assert run["config"]["stages"][0]["prompt_template"] == edited_text and run["status"] == "completed"
        assert server.calls == 2 + 1 + 1


def test_approved_while_paused_runs_on_resume(admin: TestClient) -> None:
    with LLMServer(models=["m1", "optimizer"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        experiment_id = experiment(admin, endpoint_id)
        sweep_id = start(admin, experiment_id, endpoint_id, max_runs=2, every=2, candidates=1, approval="required")
        wait_idle_with_pending(admin, sweep_id, pending=1)
        assert admin.post(f"/api/v1/experiments/{experiment_id}/pause").status_code == 200
        (pending,) = proposals(admin, sweep_id, status="pending")
        approved = admin.post(f"/api/v1/proposals/{pending['id']}/approve").json()
        (run_id,) = approved["run_ids"]
        time.sleep(0.3)
        assert admin.get(f"/api/v1/runs/{run_id}").json()["status"] == "pending" and server.calls == 3
        assert admin.post(f"/api/v1/experiments/{experiment_id}/resume").status_code == 200
        wait_status(admin, experiment_id, timeout_s=60)
        assert admin.get(f"/api/v1/runs/{run_id}").json()["status"] == "completed" and server.calls == 4


def test_a_weak_optimizer_never_breaks_the_sweep(admin: TestClient) -> None:
    with LLMServer(models=["m1", "optimizer"]) as server:
        server.optimizer_mode = "mixed"  # empty, the same prompt, JSON, an undefined name, one good rewrite
        endpoint_id = make_endpoint(admin, server.base_url)
        experiment_id = experiment(admin, endpoint_id)
        sweep_id = start(admin, experiment_id, endpoint_id, max_runs=2, every=2, candidates=5, approval="required")
        wait_idle_with_pending(admin, sweep_id, pending=1)
        found = proposals(admin, sweep_id)
        dropped = {p["reason"].split(":")[0] for p in found if p["dropped"]}
        assert dropped == {"empty", "the current best prompt again", "JSON, not a prompt", "not a valid template"}
        assert all(p["status"] == "rejected" and p["run_ids"] == [] for p in found if p["dropped"])
        (good,) = [p for p in found if not p["dropped"]]
        assert good["text"] == f"{PROMPT} {REWRITE_SUFFIXES[0]}"
        rejected = admin.post(f"/api/v1/proposals/{good['id']}/reject")
        assert rejected.status_code == 200
        wait_status(admin, experiment_id, timeout_s=60)
        assert server.calls == 2 + 1, "garbage is never run"
        kinds = [e["type"] for e in wait_event(admin, experiment_id, "proposal.rejected")]
        assert kinds.count("proposal.created") == 1 and kinds.count("proposal.rejected") == 5


def test_a_failing_optimizer_is_reported_and_the_sweep_completes(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server, LLMServer(models=["optimizer"], required_api_key="sk-right") as optimizer:
        endpoint_id = make_endpoint(admin, server.base_url)
        wrong_key = make_endpoint(admin, optimizer.base_url, label="optimizer", api_key="sk-wrong")
        experiment_id = experiment(admin, endpoint_id)
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={
            "type": "guided", "seed": 3, "max_runs": 2, "concurrency": 2,
            "guided": {"rewrite": {"endpoint_id": wrong_key, "model": "optimizer", "every": 2}}})
        assert started.status_code == 202, started.text
        wait_status(admin, experiment_id, timeout_s=60)
        page = admin.get(f"/api/v1/sweeps/{started.json()['sweep_id']}/proposals").json()
        assert page["items"] == [] and len(page["rounds"]) == 1
        assert page["rounds"][0]["status"] == "failed"
        assert page["rounds"][0]["reason"].startswith("optimizer call failed"), page["rounds"][0]
        assert "sk-wrong" not in str(page), "a key is never shown"
        assert server.calls == 2 and optimizer.calls == 1


def test_rewrite_options_are_validated(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        experiment_id = experiment(admin, endpoint_id)
        base = {"endpoint_id": endpoint_id, "model": "optimizer"}
        for rewrite, loc in (({**base, "stage": "nope"}, ["body", "guided", "rewrite", "stage"]),
                             ({**base, "endpoint_id": "00000000-0000-0000-0000-000000000000"},
                              ["body", "guided", "rewrite", "endpoint_id"]),
                             ({**base, "meta_prompt": "{% for %}"}, ["body", "guided", "rewrite", "meta_prompt"]),
                             ({**base, "approval": "maybe"}, ["body", "guided", "rewrite", "approval"]),
                             ({**base, "every": 0}, ["body", "guided", "rewrite", "every"]),
                             ({**base, "params": {"stream": True}}, ["body", "guided", "rewrite", "params"]),
                             ({"model": "optimizer", "bogus": 1}, ["body", "guided", "rewrite", "bogus"])):
            refused = admin.post(f"/api/v1/experiments/{experiment_id}/sweep",
                                 json={"type": "guided", "guided": {"rewrite": rewrite}})
            assert refused.status_code == 422, refused.text
            assert refused.json()["detail"][0]["loc"] == loc, refused.text
        assert server.calls == 0
