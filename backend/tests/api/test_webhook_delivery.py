"""Webhooks are delivered: every event type from a real sweep, signed, retried, logged.

A real loopback receiver (`tests.support.webhook_receiver`) gets the POSTs. On SQLite and Postgres
the API process sends them; in production mode the two session-wide Celery workers do.
"""

from __future__ import annotations

import itertools
import time
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.flows import make_endpoint, make_experiment, wait_status
from tests.support.llm_server import LLMServer
from tests.support.webhook_receiver import Received, WebhookReceiver, verify

BODY_KEYS = {"id", "type", "experiment_id", "data", "created_at"}


@pytest.fixture(params=["sqlite", "postgres", "production"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """In production mode the workers send the deliveries."""
    return str(request.param)


def make_hook(client: TestClient, url: str, event_type: str = "*") -> tuple[str, str]:
    created = client.post("/api/v1/webhooks", json={"event_type": event_type, "url": url,
                                                   "headers": {"X-Team": "tuning"}})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["has_secret"] is True
    return str(body["id"]), str(body["secret"])


def deliveries(client: TestClient, hook_id: str) -> list[dict[str, Any]]:
    page = client.get(f"/api/v1/webhooks/{hook_id}/deliveries", params={"limit": 200})
    assert page.status_code == 200, page.text
    return list(page.json()["items"])


def settled(client: TestClient, hook_id: str, count: int, timeout_s: float = 20.0) -> list[dict[str, Any]]:
    """The log once `count` deliveries are recorded as finished (the receiver sees a POST before its sender
    records the answer)."""
    deadline = time.monotonic() + timeout_s
    while True:
        log = deliveries(client, hook_id)
        if len(log) >= count and all(d["next_attempt_at"] is None for d in log):
            return log
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries not settled: {log}")
        time.sleep(0.05)


def agreed(client: TestClient, hook_id: str, receiver: WebhookReceiver, timeout_s: float = 20.0,
           ) -> list[dict[str, Any]]:
    """The delivery log once it is settled and names exactly the deliveries the receiver got."""
    deadline = time.monotonic() + timeout_s
    while True:
        log = deliveries(client, hook_id)
        got = {r.delivery for r in receiver.requests}
        if got and all(d["next_attempt_at"] is None for d in log) and {d["id"] for d in log} == got:
            assert len(log) == len(receiver.requests), "one POST per delivery when the receiver answers 200"
            return log
        if time.monotonic() > deadline:
            raise AssertionError(f"log {[(d['event_type'], d['id']) for d in log]} vs received {sorted(got)}")
        time.sleep(0.05)


def types_seen(requests: list[Received]) -> set[str]:
    return {r.type for r in requests if r.status == 200}


def test_every_event_type_of_a_real_sweep_is_delivered_signed(admin: TestClient) -> None:
    spec_types = {"experiment.started", "new_best_found", "run.failed", "experiment.completed",
                  "budget.exhausted", "experiment.paused", "experiment.resumed"}
    with LLMServer(models=["m1", "m2"]) as llm, WebhookReceiver() as hooks, WebhookReceiver() as budget_only:
        hook_id, secret = make_hook(admin, hooks.url)
        budget_hook, budget_secret = make_hook(admin, budget_only.url, "budget.exhausted")
        endpoint_id = make_endpoint(admin, llm.base_url)
        llm.script(["401"])  # the first run fails: run.failed
        first = make_experiment(admin, endpoint_id, samples=1, models=["m1", "m2"], temperatures=[0.1, 0.9])
        assert admin.post(f"/api/v1/experiments/{first}/sweep", json={"concurrency": 1}).status_code == 202
        wait_status(admin, first)
        second = make_experiment(admin, endpoint_id, samples=2, temperatures=[0.1, 0.2, 0.3, 0.4, 0.5])
        admin.post(f"/api/v1/experiments/{second}/sweep", json={"concurrency": 1, "budget": {"max_tokens": 60}})
        wait_status(admin, second, ("paused",))
        hooks.wait_for(lambda seen: {"budget.exhausted", "experiment.paused"} <= types_seen(seen))
        assert admin.post(f"/api/v1/experiments/{second}/resume").status_code == 200
        requests = hooks.wait_for(lambda seen: spec_types <= types_seen(seen)
                                  and len(hooks.of_type("experiment.completed")) >= 1
                                  and any(r.json["experiment_id"] == second for r in hooks.of_type("experiment.resumed")))

        internal = {"run.started", "run.completed", "sweep.progress", "stage.completed", "sweep.started"}
        assert not types_seen(requests) & internal, "per-run chatter is not sent to webhooks"
        for request in requests:
            assert verify(secret, request), f"bad signature on {request.type}"
            assert not verify(budget_secret, request)
            body = request.json
            assert set(body) == BODY_KEYS and body["type"] == request.type
            assert body["id"].startswith("evt_") and request.headers["x-team"] == "tuning"
            assert request.headers["content-type"] == "application/json"
            datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
        by_type = {t: [r.json for r in requests if r.type == t] for t in spec_types}
        started = next(b for b in by_type["experiment.started"] if b["experiment_id"] == first)
        assert started["data"]["sweep"]["type"] == "grid" and started["data"]["sweep"]["total_runs"] == 4
        failed = by_type["run.failed"][0]
        assert failed["experiment_id"] == first and "401" in failed["data"]["error"] and failed["data"]["run_id"]
        best = by_type["new_best_found"][-1]["data"]
        assert best["run_id"] and isinstance(best["scores"], dict) and best["config"]["stages"]
        completed = next(b for b in by_type["experiment.completed"] if b["experiment_id"] == first)
        assert completed["data"]["best"]["config"]["stages"][0]["model"] == "m2"
        assert completed["data"]["best"]["weighted_score"] == completed["data"]["best_score"]
        assert set(completed["data"]["best"]["scores"]) == {"keyword", "length"}
        assert completed["data"]["total"] == 4 and completed["data"]["failed"] == 1  # summary stats
        exhausted = by_type["budget.exhausted"][0]["data"]
        assert exhausted["token_count"] > 0 and "cost" in exhausted
        assert by_type["experiment.paused"][0]["data"]["reason"] == "budget"

        # A webhook of one event type gets only that type, signed with its own secret.
        only = budget_only.wait_for(lambda seen: len(seen) >= 1)
        assert {r.type for r in only} == {"budget.exhausted"} and all(verify(budget_secret, r) for r in only)

        # Every delivery has its own id, and the log shows each as delivered on the first try. (The
        # resumed sweep may still hit its budget again meanwhile, so compare once both sides agree.)
        assert len({r.delivery for r in requests}) == len(requests)
        for hook, receiver in ((hook_id, hooks), (budget_hook, budget_only)):
            log = agreed(admin, hook, receiver)
            assert all(d["delivered"] and d["attempt"] == 1 and d["status_code"] == 200
                       and d["next_attempt_at"] is None for d in log)


def test_500_twice_then_200_is_retried_with_the_same_delivery_id(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as llm, WebhookReceiver() as hooks:
        hooks.script(500, 500)
        hook_id, secret = make_hook(admin, hooks.url, "experiment.started")
        experiment_id = make_experiment(admin, make_endpoint(admin, llm.base_url), samples=1, models=["m1"],
                                        temperatures=[0.1])
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={})
        requests = hooks.wait_for(lambda seen: len(seen) >= 3)
        assert [r.status for r in requests] == [500, 500, 200]
        assert len({r.delivery for r in requests}) == 1, "every attempt carries the same delivery id"
        assert len({r.body for r in requests}) == 1 and all(verify(secret, r) for r in requests)
        gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
        assert gaps[0] >= 0.18 and gaps[1] >= 0.38, f"exponential backoff: {gaps}"
        wait_status(admin, experiment_id)
        (row,) = settled(admin, hook_id, 1)
        assert row["id"] == requests[0].delivery and row["delivered"] is True and row["attempt"] == 3
        assert [a["status_code"] for a in row["attempts"]] == [500, 500, 200]
        assert row["attempts"][0]["error"] == "HTTP 500"
        time.sleep(0.5)
        assert len(hooks.requests) == 3, "a delivered webhook is not sent again"


def test_4xx_is_not_retried_and_429_honours_retry_after(admin: TestClient) -> None:
    with WebhookReceiver() as hooks:
        hook_id, _ = make_hook(admin, hooks.url)
        hooks.script(410)
        gone = admin.post(f"/api/v1/webhooks/{hook_id}/test")
        assert gone.status_code == 200, gone.text
        assert gone.json()["status_code"] == 410 and gone.json()["next_attempt_at"] is None
        time.sleep(1.0)
        assert len(hooks.requests) == 1, "a 4xx other than 429 is final"
        (row,) = settled(admin, hook_id, 1)
        assert row["delivered"] is False and row["attempt"] == 1 and row["error"] == "HTTP 410"

        hooks.script((429, {"Retry-After": "1"}))
        limited = admin.post(f"/api/v1/webhooks/{hook_id}/test").json()
        assert limited["status_code"] == 429 and limited["next_attempt_at"] is not None
        requests = hooks.wait_for(lambda seen: len(seen) >= 3)
        assert requests[2].delivery == requests[1].delivery and requests[2].type == "ping"
        assert requests[2].at - requests[1].at >= 0.95, "Retry-After beats the 0.2 s backoff"


def test_ping_rotate_and_secret_shown_once(admin: TestClient, anon: TestClient) -> None:
    with WebhookReceiver() as hooks:
        hook_id, secret = make_hook(admin, hooks.url, "human_needed")
        listed = admin.get("/api/v1/webhooks").json()["items"]
        assert listed[0]["has_secret"] is True and "secret" not in listed[0] and secret not in str(listed)
        ping = admin.post(f"/api/v1/webhooks/{hook_id}/test")
        assert ping.status_code == 200 and ping.json()["delivered"] is True and ping.json()["event_type"] == "ping"
        (received,) = hooks.requests
        assert verify(secret, received) and received.json["type"] == "ping" and received.json["experiment_id"] is None
        assert received.json["data"]["webhook_id"] == hook_id

        rotated = admin.post(f"/api/v1/webhooks/{hook_id}/rotate-secret")
        assert rotated.status_code == 200
        new_secret = rotated.json()["secret"]
        assert new_secret.startswith("whsec_") and new_secret != secret
        admin.post(f"/api/v1/webhooks/{hook_id}/test")
        assert verify(new_secret, hooks.requests[1]) and not verify(secret, hooks.requests[1])
        assert not verify(new_secret, Received(hooks.requests[1].headers | {"x-promptlooper-timestamp": "1"},
                                               hooks.requests[1].body, 200, 0)), "an old timestamp is a replay"

        assert anon.post(f"/api/v1/webhooks/{hook_id}/test").status_code == 401
        admin.post("/api/v1/admin/users", json={"username": "viewer", "password": "viewer-password"})
        token = anon.post("/api/v1/auth/login", json={"username": "viewer", "password": "viewer-password"}).json()
        viewer = {"Authorization": f"Bearer {token['access_token']}"}
        assert anon.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=viewer).status_code == 403
        assert anon.post(f"/api/v1/webhooks/{hook_id}/test", headers=viewer).status_code == 403
        assert anon.post(f"/api/v1/webhooks/{hook_id}/rotate-secret", headers=viewer).status_code == 403
        assert anon.post(f"/api/v1/webhooks/{hook_id}/rotate-secret").status_code == 401
        missing = admin.get("/api/v1/webhooks/00000000-0000-0000-0000-000000000000/deliveries")
        assert missing.status_code == 404 and missing.json()["code"] == "webhook_not_found"
        assert admin.post("/api/v1/webhooks/00000000-0000-0000-0000-000000000000/test").status_code == 404
        assert admin.delete(f"/api/v1/webhooks/{hook_id}").status_code == 204
        assert admin.get(f"/api/v1/webhooks/{hook_id}/deliveries").status_code == 404


def test_a_timeout_is_retried_and_a_refused_connection_too(admin: TestClient) -> None:
    with WebhookReceiver() as hooks:
        hook_id, secret = make_hook(admin, hooks.url)
        hooks.park()  # no answer within webhook_timeout_s (3 s in tests)
        slow = admin.post(f"/api/v1/webhooks/{hook_id}/test").json()
        assert slow["status_code"] is None and slow["error"].startswith("timed out after 3 s")
        assert slow["next_attempt_at"] is not None
        hooks.hold.set()
        requests = hooks.wait_for(lambda seen: len(seen) >= 2)
        assert requests[1].delivery == requests[0].delivery and verify(secret, requests[1])
        (row,) = settled(admin, hook_id, 1)
        assert row["delivered"] is True and row["attempt"] == 2

    closed = admin.post("/api/v1/webhooks", json={"event_type": "*", "url": hooks.url}).json()  # nobody listens now
    refused = admin.post(f"/api/v1/webhooks/{closed['id']}/test").json()
    assert refused["status_code"] is None and refused["error"].startswith("ConnectError")
    assert refused["next_attempt_at"] is not None, "a refused connection is retried"


def test_own_headers_cannot_replace_the_signature_or_the_request_framing(admin: TestClient) -> None:
    with WebhookReceiver() as hooks:
        created = admin.post("/api/v1/webhooks", json={"event_type": "*", "url": hooks.url, "headers": {
            "Host": "metadata.internal", "Content-Type": "text/plain", "X-PromptLooper-Signature": "sha256=forged",
            "X-PromptLooper-Event": "experiment.completed", "Authorization": "Bearer receiver-token"}}).json()
        assert admin.post(f"/api/v1/webhooks/{created['id']}/test").json()["delivered"] is True
        (received,) = hooks.requests
        assert received.headers["host"].startswith("127.0.0.1:")
        assert received.headers["content-type"] == "application/json"
        assert received.headers["x-promptlooper-event"] == "ping" and verify(created["secret"], received)
        assert received.headers["authorization"] == "Bearer receiver-token"
