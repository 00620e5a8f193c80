"""Prompt rewriting in both modes: SQLite, Postgres and production (Celery workers + Redis).

Required approval (a proposal waits, spends nothing, joins the sweep once approved, is cached after)
and auto approval (unattended, webhooks delivered by the workers in production).
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from tests.api.test_rewrite_proposals import PROMPT, experiment, proposals, start, wait_idle_with_pending
from tests.support.flows import make_endpoint, wait_event, wait_status
from tests.support.llm_server import REWRITE_SUFFIXES, LLMServer
from tests.support.webhook_receiver import WebhookReceiver, verify


@pytest.fixture(params=["sqlite", "postgres", "production"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """The auto-approval path runs in production mode too: Celery workers on Redis."""
    return str(request.param)


def test_a_proposal_waits_spends_nothing_until_approved_then_joins_the_sweep(admin: TestClient) -> None:
    with LLMServer(models=["m1", "optimizer"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        experiment_id = experiment(admin, endpoint_id)
        sweep_id = start(admin, experiment_id, endpoint_id, max_runs=6, every=4, candidates=2, approval="required")
        wait_idle_with_pending(admin, sweep_id, pending=2)
        assert server.optimizer_calls == 1, "one round: 6 runs // every 4"
        spent = server.calls
        assert spent == 6 + 1, "six runs of one sample, one optimizer call"
        found = proposals(admin, sweep_id)
        assert [p["text"] for p in sorted(found, key=lambda p: p["text"])] == sorted(
            f"{PROMPT} {suffix}" for suffix in REWRITE_SUFFIXES[:2])
        for item in found:
            assert item["status"] == "pending" and item["stage"] == "answer" and item["field"] == "prompt_template"
            assert item["diff_base"] == PROMPT and item["dropped"] is False and item["run_ids"] == []
            assert item["projected_calls"] == 1 and item["projected_tokens"] > 0 and item["base_run_id"]
        waiting = admin.get(f"/api/v1/sweeps/{sweep_id}").json()
        assert waiting["status"] == "running" and waiting["pending_proposals"] == 2, "it waits for the approval"
        (round_,) = admin.get(f"/api/v1/sweeps/{sweep_id}/proposals").json()["rounds"]
        assert round_["round"] == 1 and round_["status"] == "done" and round_["reason"] is None
        assert round_["cached"] is False and round_["tokens_in"] > 0 and round_["tokens_out"] > 0
        time.sleep(0.5)
        assert server.calls == spent, "nothing is spent on a pending proposal"

        first, second = sorted(found, key=lambda p: p["text"])
        approved = admin.post(f"/api/v1/proposals/{first['id']}/approve")
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved" and len(approved.json()["run_ids"]) == 1
        rejected = admin.post(f"/api/v1/proposals/{second['id']}/reject", json={"reason": "too vague"})
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
        assert rejected.json()["reason"] == "too vague" and rejected.json()["run_ids"] == []
        again = admin.post(f"/api/v1/proposals/{first['id']}/approve")
        assert again.status_code == 409 and again.json()["code"] == "proposal_not_pending"
        missing = admin.post("/api/v1/proposals/00000000-0000-0000-0000-000000000000/reject")
        assert missing.status_code == 404 and missing.json()["code"] == "proposal_not_found"

        wait_status(admin, experiment_id, timeout_s=60)
        assert server.calls == spent + 1, "the approved variant ran once, the rejected one never"
        run = admin.get(f"/api/v1/runs/{approved.json()['run_ids'][0]}").json()
        assert run["status"] == "completed" and run["origin"] == "rewrite"
        assert run["config"]["stages"][0]["prompt_template"] == first["text"]
        space = admin.get(f"/api/v1/experiments/{experiment_id}").json()["parameter_space"]
        assert space["stages.answer.prompt_template"] == [PROMPT, first["text"]], "it joined the search space"
        kinds = [e["type"] for e in wait_event(admin, experiment_id, "experiment.completed")]
        assert kinds.count("proposal.created") == 2 and kinds.count("proposal.approved") == 1
        assert kinds.count("proposal.rejected") == 1

        # Cached thereafter: the same configuration again pays for nothing.
        overrides = {"max_tokens": run["config"]["stages"][0]["params"]["max_tokens"],
                     "stages.answer.prompt_template": first["text"]}
        rerun = admin.post("/api/v1/runs", json={"experiment_id": experiment_id, "overrides": overrides})
        assert rerun.status_code in (200, 201), rerun.text
        assert rerun.json()["status"] == "cached" and server.calls == spent + 1


def test_auto_approval_runs_unattended(admin: TestClient) -> None:
    with LLMServer(models=["m1", "optimizer"]) as server, WebhookReceiver() as hooks:
        hook = admin.post("/api/v1/webhooks", json={"event_type": "*", "url": hooks.url})
        assert hook.status_code == 201, hook.text
        endpoint_id = make_endpoint(admin, server.base_url)
        experiment_id = experiment(admin, endpoint_id)
        sweep_id = start(admin, experiment_id, endpoint_id, max_runs=4, every=2, candidates=2, approval="auto")
        wait_status(admin, experiment_id, timeout_s=90)
        found = proposals(admin, sweep_id)
        approved = [p for p in found if p["status"] == "approved"]
        assert approved and not [p for p in found if p["status"] == "pending"]
        assert all(p["decided_by"] == "auto" and len(p["run_ids"]) == 1 for p in approved)
        for item in approved:
            run = admin.get(f"/api/v1/runs/{item['run_ids'][0]}").json()
            assert run["status"] == "completed" and run["config"]["stages"][0]["prompt_template"] == item["text"]
        assert 1 <= server.optimizer_calls <= 2, "at most max_runs // every rounds"
        runs = admin.get(f"/api/v1/experiments/{experiment_id}/runs", params={"limit": 100}).json()["items"]
        assert len(runs) == 4 + len(approved)
        history = wait_event(admin, experiment_id, "experiment.completed")
        completed = [e for e in history if e["type"] == "experiment.completed"]
        assert completed[-1]["data"]["llm_calls"] == server.calls, "the optimizer's calls count as spent"
        assert completed[-1]["data"]["total"] == len(runs)
        progress = [e["data"] for e in history if e["type"] == "sweep.progress"]
        assert all(p["completed"] <= p["total"] for p in progress), "approved runs count in the total"
        assert server.calls == len(runs) + server.optimizer_calls

        # Webhooks get the proposal events, signed (in production the workers send them).
        seen = hooks.wait_for(lambda got: len([r for r in got if r.type == "proposal.approved"]) >= len(approved)
                              and any(r.type == "proposal.created" for r in got))
        for request in (r for r in seen if r.type.startswith("proposal.")):
            assert verify(hook.json()["secret"], request)
            assert request.json["data"]["proposal_id"] in {p["id"] for p in found}
        delivered = {r.json["data"]["proposal_id"] for r in seen if r.type == "proposal.approved"}
        assert delivered == {p["id"] for p in approved}
