"""Prompt rewriting with `"approval": "auto"`: unattended, on SQLite, Postgres and production (Celery + Redis)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.test_rewrite_proposals import experiment, proposals, start
from tests.support.flows import make_endpoint, wait_event, wait_status
from tests.support.llm_server import LLMServer
from tests.support.webhook_receiver import WebhookReceiver, verify


@pytest.fixture(params=["sqlite", "postgres", "production"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """The auto-approval path runs in production mode too: Celery workers on Redis."""
    return str(request.param)


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
        completed = [e for e in wait_event(admin, experiment_id, "experiment.completed")
                     if e["type"] == "experiment.completed"]
        assert completed[-1]["data"]["llm_calls"] == server.calls, "the optimizer's calls count as spent"
        assert server.calls == len(runs) + server.optimizer_calls

        # Webhooks get the proposal events, signed (in production the workers send them).
        seen = hooks.wait_for(lambda got: len([r for r in got if r.type == "proposal.approved"]) >= len(approved)
                              and any(r.type == "proposal.created" for r in got))
        for request in (r for r in seen if r.type.startswith("proposal.")):
            assert verify(hook.json()["secret"], request)
            assert request.json["data"]["proposal_id"] in {p["id"] for p in found}
        delivered = {r.json["data"]["proposal_id"] for r in seen if r.type == "proposal.approved"}
        assert delivered == {p["id"] for p in approved}
