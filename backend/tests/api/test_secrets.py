"""Issue 11 §2, secrets stay secret: every item on SQLite and Postgres.

Webhooks admin-only and encrypted, scorer headers masked/encrypted/kept/sent, no credentials in
endpoint URLs, link-local and metadata targets refused, the endpoint test echoes no foreign body,
CORS "*" without credentials, WebSocket auth without the URL and closing on revocation.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from promptlooper.config import Settings
from promptlooper.main import create_app
from promptlooper.models import Experiment, WebhookConfig
from tests.support.environment import ADMIN, bearer
from tests.support.flows import make_endpoint, make_experiment
from tests.support.llm_server import LLMServer

SCORER_SECRET = "Bearer scorer-secret-9f1c"


@contextmanager
def plain_server(status: int, body: bytes, content_type: str = "text/html") -> Iterator[str]:
    """A loopback HTTP server that is not an LLM: every request gets the same answer. Yields its base URL."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            seen.append(dict(self.headers))
            if self.path.endswith("/score"):  # a webhook scorer: 1 only with the right Authorization header
                payload = json.loads(raw or b"{}")
                ok = self.headers.get("Authorization") == SCORER_SECRET and "output" in payload
                data, code, kind = json.dumps({"score": 1.0 if ok else 0.0}).encode(), 200, "application/json"
            else:
                data, code, kind = body, status, content_type
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _viewer_headers(admin: TestClient, anon: TestClient) -> dict[str, str]:
    assert admin.post("/api/v1/admin/users", json={"username": "viewer", "password": "viewer-password"}).status_code == 201
    token = anon.post("/api/v1/auth/login", json={"username": "viewer", "password": "viewer-password"}).json()
    return bearer(token["access_token"])


def _db(client: TestClient, fn: Any) -> Any:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]

    async def go() -> Any:
        async with ctx.sessionmaker() as session:
            return await fn(session)

    return client.portal.call(go)  # type: ignore[union-attr]


# ---- webhooks ------------------------------------------------------------------------------


def test_webhooks_are_admin_only_to_read(admin: TestClient, anon: TestClient) -> None:
    body = {"event_type": "new_best_found", "url": "https://hooks.example.test/x?token=hook-url-secret"}
    assert admin.post("/api/v1/webhooks", json=body).status_code == 201
    assert admin.put("/api/v1/admin/settings", json={"allow_guest_access": True}).status_code == 200
    assert anon.get("/api/v1/projects").status_code == 200  # guests can read the rest
    guest = anon.get("/api/v1/webhooks")
    assert guest.status_code == 401 and "hook-url-secret" not in guest.text
    viewer = anon.get("/api/v1/webhooks", headers=_viewer_headers(admin, anon))
    assert viewer.status_code == 403 and "hook-url-secret" not in viewer.text
    assert admin.get("/api/v1/webhooks").json()["total"] == 1


def test_webhook_header_values_are_encrypted_at_rest(admin: TestClient) -> None:
    body = {"event_type": "run.failed", "url": "https://hooks.example.test/x",
            "headers": {"Authorization": "Bearer hook-secret-at-rest"}}
    created = admin.post("/api/v1/webhooks", json=body)
    assert created.status_code == 201 and created.json()["header_names"] == ["Authorization"]
    stored = _db(admin, lambda s: s.scalar(select(WebhookConfig)))
    assert "hook-secret-at-rest" not in json.dumps(stored.headers)
    assert stored.headers["Authorization"].startswith("fernet:")
    from promptlooper.services.secrets import reveal

    assert reveal(admin.app.state.ctx, stored.headers["Authorization"]) == "Bearer hook-secret-at-rest"  # type: ignore[attr-defined]


# ---- URLs: credentials, link-local and metadata targets ----------------------------------------

BLOCKED_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://[fe80::1]:8000/v1",
    "http://[fd00:ec2::254]/latest",
    "http://100.100.100.200/latest/meta-data",
    "http://169.254.10.20:8000/v1",
    "http://2852039166/latest",  # 169.254.169.254 in the decimal form the C resolver accepts
    "http://[::ffff:169.254.169.254]/",
]


def test_endpoint_url_credentials_are_refused(admin: TestClient) -> None:
    url = "http://llmuser:s3cr3t-pass@127.0.0.1:8000/v1"
    created = admin.post("/api/v1/endpoints", json={"label": "creds", "url": url})
    assert created.status_code == 422 and "credentials" in created.text and "api_key" in created.text
    endpoint_id = make_endpoint(admin, "http://127.0.0.1:8000/v1")
    updated = admin.put(f"/api/v1/endpoints/{endpoint_id}", json={"url": url})
    assert updated.status_code == 422 and "credentials" in updated.text
    listed = admin.get("/api/v1/endpoints")
    assert "s3cr3t-pass" not in listed.text and listed.json()["items"][0]["url"] == "http://127.0.0.1:8000/v1"
    hook = admin.post("/api/v1/webhooks", json={"event_type": "run.failed", "url": "https://u:p@hooks.example.test/"})
    assert hook.status_code == 422 and "credentials" in hook.text


@pytest.mark.parametrize("url", BLOCKED_URLS)
def test_link_local_and_metadata_targets_are_refused_at_save(admin: TestClient, url: str) -> None:
    endpoint = admin.post("/api/v1/endpoints", json={"label": "meta", "url": url})
    assert endpoint.status_code == 422, endpoint.text
    assert "link-local" in endpoint.text or "metadata" in endpoint.text
    hook = admin.post("/api/v1/webhooks", json={"event_type": "run.failed", "url": url})
    assert hook.status_code == 422, hook.text
    endpoint_id = make_endpoint(admin, "http://127.0.0.1:8000/v1")
    scorer = [{"scorer": "webhook", "config": {"url": url}}]
    project_id = admin.post("/api/v1/projects", json={"name": "p"}).json()["id"]
    experiment = admin.post("/api/v1/experiments", json={
        "project_id": project_id, "name": "ssrf", "sample_data": [{"id": "s", "input": "x"}],
        "pipeline_stages": [{"name": "a", "endpoint_id": endpoint_id, "model": "m1", "prompt_template": "{{ input }}"}],
        "scoring_config": scorer, "parameter_space": {}})
    assert experiment.status_code == 422 and ("link-local" in experiment.text or "metadata" in experiment.text)


def test_loopback_and_private_endpoints_stay_allowed(admin: TestClient) -> None:
    for url in ("http://127.0.0.1:8000/v1", "http://localhost:11434/v1", "http://10.1.2.3:8000/v1",
                "http://192.168.1.20/v1", "http://[::1]:8000/v1", "http://vllm.internal:8000/v1"):
        assert admin.post("/api/v1/endpoints", json={"label": "ok", "url": url}).status_code == 201, url


def test_endpoint_test_does_not_echo_a_foreign_servers_body(admin: TestClient) -> None:
    leak = b"<html>internal-admin-token=leaky-bytes-7731</html>"
    for status in (500, 404, 200):
        with plain_server(status, leak) as base:
            endpoint_id = make_endpoint(admin, base + "/v1")
            answer = admin.post(f"/api/v1/endpoints/{endpoint_id}/test").json()
            assert answer["ok"] is False and "leaky-bytes" not in json.dumps(answer), answer
            assert (str(status) in answer["error"]) if status != 200 else ("not JSON" in answer["error"])


# ---- webhook scorer headers ---------------------------------------------------------------------


def test_webhook_scorer_headers_are_masked_encrypted_kept_and_sent(admin: TestClient, anon: TestClient) -> None:
    with LLMServer(models=["m1"]) as llm, plain_server(404, b"") as hooks:
        scoring = [{"scorer": "webhook", "config": {"url": hooks + "/score", "headers": {"Authorization": SCORER_SECRET}}}]
        experiment_id = make_experiment(admin, make_endpoint(admin, llm.base_url), samples=1, scoring=scoring,
                                        space={})
        shown = admin.get(f"/api/v1/experiments/{experiment_id}")
        assert "scorer-secret" not in shown.text
        assert shown.json()["scoring_config"][0]["config"]["headers"] == {"Authorization": "***"}
        assert admin.put("/api/v1/admin/settings", json={"allow_guest_access": True}).status_code == 200
        guest = anon.get(f"/api/v1/experiments/{experiment_id}")
        assert guest.status_code == 200 and "scorer-secret" not in guest.text
        viewer = anon.get(f"/api/v1/experiments/{experiment_id}", headers=_viewer_headers(admin, anon))
        assert viewer.status_code == 200 and "scorer-secret" not in viewer.text

        def stored(session: Any) -> Any:
            return session.scalar(select(Experiment.scoring_config))

        at_rest = _db(admin, stored)
        assert "scorer-secret" not in json.dumps(at_rest) and at_rest[0]["config"]["headers"]["Authorization"].startswith("fernet:")

        run = admin.post("/api/v1/runs", json={"experiment_id": experiment_id, "overrides": {}})
        assert run.status_code == 201, run.text
        assert run.json()["scores"]["webhook"] == 1.0  # the scorer decrypted the header at call time

        # The dashboard sends back what it read: the masked value keeps the stored secret (no re-score).
        resent = shown.json()["scoring_config"]
        again = admin.put(f"/api/v1/experiments/{experiment_id}", json={"scoring_config": resent})
        assert again.status_code == 200 and "scorer-secret" not in again.text
        assert _db(admin, stored) == at_rest
        # An entry resent without headers keeps them too; a changed value replaces them.
        bare = [{"scorer": "webhook", "config": {"url": hooks + "/score", "timeout_s": 5}}]
        assert admin.put(f"/api/v1/experiments/{experiment_id}", json={"scoring_config": bare}).status_code == 200
        kept = _db(admin, stored)[0]["config"]["headers"]["Authorization"]
        assert kept == at_rest[0]["config"]["headers"]["Authorization"]
        rerun = admin.post("/api/v1/runs", json={"experiment_id": experiment_id, "overrides": {"temperature": 0.3}})
        assert rerun.json()["scores"]["webhook"] == 1.0
        changed = [{"scorer": "webhook", "config": {"url": hooks + "/score", "headers": {"Authorization": "Bearer other"}}}]
        assert admin.put(f"/api/v1/experiments/{experiment_id}", json={"scoring_config": changed}).status_code == 200
        assert _db(admin, stored)[0]["config"]["headers"]["Authorization"] != kept
        wrong = admin.post("/api/v1/runs", json={"experiment_id": experiment_id, "overrides": {"temperature": 0.7}})
        assert wrong.json()["scores"]["webhook"] == 0.0


# ---- CORS ------------------------------------------------------------------------------------


def test_cors_wildcard_never_allows_credentials(settings: Settings) -> None:
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"}
    with TestClient(create_app(settings.model_copy(update={"cors_origins": ["*"]}))) as client:
        answer = client.options("/api/v1/projects", headers=preflight)
        assert answer.status_code == 200
        assert answer.headers.get("access-control-allow-credentials") is None
        assert answer.headers["access-control-allow-origin"] == "*"
        simple = client.get("/health", headers={"Origin": "https://evil.example"})
        assert simple.headers["access-control-allow-origin"] == "*"
        assert simple.headers.get("access-control-allow-credentials") is None
    listed = settings.model_copy(update={"cors_origins": ["https://dash.example"]})
    with TestClient(create_app(listed)) as client:
        ok = client.options("/api/v1/projects", headers=preflight | {"Origin": "https://dash.example"})
        assert ok.headers["access-control-allow-origin"] == "https://dash.example"
        assert ok.headers["access-control-allow-credentials"] == "true"
        assert "access-control-allow-origin" not in client.options("/api/v1/projects", headers=preflight).headers


# ---- WebSockets ----------------------------------------------------------------------------------


@pytest.fixture
def fast(settings: Settings) -> Iterator[TestClient]:
    """A client of an app whose sockets re-check their credential every 0.1 s, with the admin set up."""
    with TestClient(create_app(settings.model_copy(update={"ws_recheck_s": 0.1}))) as client:
        token = client.post("/api/v1/auth/setup", json=ADMIN).json()["access_token"]
        client.headers.update(bearer(token))
        yield client


# The revocation tests also run in production mode (Redis events, workers in other processes): the
# re-check reads the database, so a key revoked or a setting changed by any process closes the socket.


def _publish(client: TestClient) -> None:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    from promptlooper.events import types as ev

    progress = ev.SweepProgressed(completed=1, total=2, failed=0, cached=0, tokens_in=0, tokens_out=0, cost_estimate=0.0,
                                  eta_s=None)
    client.portal.call(lambda: ctx.runtime.publish(progress))  # type: ignore[union-attr]


def test_websocket_authenticates_by_subprotocol_and_still_by_query(fast: TestClient) -> None:
    token = fast.headers["Authorization"].removeprefix("Bearer ")
    anon = TestClient(fast.app)
    anon.portal = fast.portal
    with anon.websocket_connect("/ws/dashboard", subprotocols=["promptlooper.bearer", token]) as ws:
        assert ws.accepted_subprotocol == "promptlooper.bearer"
        _publish(fast)
        assert ws.receive_json()["type"] == "sweep.progress"
    with pytest.raises(WebSocketDisconnect) as refused, \
            anon.websocket_connect("/ws/dashboard", subprotocols=["promptlooper.bearer", "pl_not-a-key"]):
        pass
    assert refused.value.code == 4401
    with anon.websocket_connect(f"/ws/dashboard?token={token}") as old:  # old clients keep working
        _publish(fast)
        assert old.receive_json()["type"] == "sweep.progress"


@pytest.mark.parametrize("db_backend", ["sqlite", "postgres", "production"], indirect=True)
def test_websocket_closes_4401_when_its_api_key_is_revoked(fast: TestClient) -> None:
    created = fast.post("/api/v1/admin/api-keys", json={"name": "live"}).json()
    anon = TestClient(fast.app)
    anon.portal = fast.portal
    with anon.websocket_connect("/ws/dashboard", subprotocols=["promptlooper.bearer", created["key"]]) as ws:
        _publish(fast)
        assert ws.receive_json()["type"] == "sweep.progress"
        assert fast.delete(f"/api/v1/admin/api-keys/{created['id']}").status_code == 204
        time.sleep(0.5)  # a few re-checks
        _publish(fast)  # without the re-check, this event would arrive
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401


@pytest.mark.parametrize("db_backend", ["sqlite", "postgres", "production"], indirect=True)
def test_anonymous_websocket_closes_4403_when_guest_access_is_turned_off(fast: TestClient) -> None:
    assert fast.put("/api/v1/admin/settings", json={"allow_guest_access": True}).status_code == 200
    anon = TestClient(fast.app)
    anon.portal = fast.portal
    with anon.websocket_connect("/ws/dashboard") as ws:
        _publish(fast)
        assert ws.receive_json()["type"] == "sweep.progress"
        assert fast.put("/api/v1/admin/settings", json={"allow_guest_access": False}).status_code == 200
        time.sleep(0.5)
        _publish(fast)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4403


def test_default_endpoint_url_with_credentials_refuses_to_start(settings: Settings) -> None:
    from promptlooper.config import ConfigError

    bad = settings.model_copy(update={"default_endpoint_url": "http://llm:hunter2@127.0.0.1:8000/v1"})
    with pytest.raises(ConfigError, match="must not contain credentials") as refused, TestClient(create_app(bad)):
        pass
    assert "hunter2" not in str(refused.value)
