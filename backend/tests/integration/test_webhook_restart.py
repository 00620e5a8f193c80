"""A webhook delivery survives the server: killed between the event and the delivery, it is sent after restart."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx2
import pytest

from tests.support.environment import ADMIN, FAST_WEBHOOKS, TEST_FERNET_KEY, bearer
from tests.support.llm_server import LLMServer
from tests.support.server import start_server
from tests.support.webhook_receiver import WebhookReceiver, verify


def _env(db_backend: str, data_dir: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    env = {"DATA_DIR": str(data_dir), "AUTO_MIGRATE": "true", "LOG_LEVEL": "INFO"}
    env |= {k.upper(): str(v) for k, v in FAST_WEBHOOKS.items()} | {"WEBHOOK_TIMEOUT_S": "1"}  # claim lease: 3 s
    if db_backend == "postgres":
        env |= {"DATABASE_URL": request.getfixturevalue("postgres_url"), "JWT_SECRET": "restart-test-secret",
                "ENCRYPTION_KEY": TEST_FERNET_KEY}
        request.getfixturevalue("settings")  # truncates the shared test database
    else:
        env |= {"DATABASE_URL": ""}
    return env


def test_delivery_in_flight_when_killed_is_sent_after_restart(db_backend: str, tmp_path: Path,
                                                              request: pytest.FixtureRequest) -> None:
    env = _env(db_backend, tmp_path / "data", request)
    with LLMServer(models=["m1"]) as llm, WebhookReceiver() as hooks:
        server = start_server(env, tmp_path / "first.log")
        try:
            token = httpx2.post(server.url + "/api/v1/auth/setup", json=ADMIN).json()["access_token"]
            auth = bearer(token)
            hook = httpx2.post(server.url + "/api/v1/webhooks", headers=auth,
                              json={"event_type": "experiment.started", "url": hooks.url}).json()
            endpoint = httpx2.post(server.url + "/api/v1/endpoints", headers=auth,
                                  json={"label": "mock", "url": llm.base_url}).json()
            project = httpx2.post(server.url + "/api/v1/projects", headers=auth, json={"name": "p"}).json()
            experiment = httpx2.post(server.url + "/api/v1/experiments", headers=auth, json={
                "project_id": project["id"], "name": "e", "sample_data": [{"id": "s", "input": "alpha"}],
                "pipeline_stages": [{"name": "a", "endpoint_id": endpoint["id"], "model": "m1",
                                     "prompt_template": "Say {{ input }}"}],
                "scoring_config": [{"scorer": "length", "config": {"max_words": 40}}],
            }).json()
            hooks.park()  # the first POST arrives and is never answered
            assert httpx2.post(server.url + f"/api/v1/experiments/{experiment['id']}/sweep", headers=auth,
                              json={}).status_code == 202
            assert hooks.parked.wait(20), "the first attempt never arrived"
        finally:
            server.stop(signal.SIGKILL)  # mid-delivery: the sender never learns the outcome
        hooks.hold.set()
        first = hooks.requests[0]

        again = start_server(env, tmp_path / "second.log")
        try:
            requests = hooks.wait_for(lambda seen: len(seen) >= 2, timeout_s=30)
            assert requests[1].delivery == first.delivery, "the same delivery id, so the receiver can drop repeats"
            assert requests[1].body == first.body and verify(hook["secret"], requests[1])
            log = httpx2.get(again.url + f"/api/v1/webhooks/{hook['id']}/deliveries", headers=auth).json()
            assert log["total"] == 1
        finally:
            again.stop()
