"""Production mode: the workers send webhooks, and a delivery in flight when they die is sent by a new one."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from tests.integration.test_production import production_stack
from tests.support.llm_server import LLMServer
from tests.support.webhook_receiver import WebhookReceiver, verify
from tests.support.workers import start_workers

pytestmark = pytest.mark.timeout(240)


def test_delivery_in_flight_when_the_workers_die_is_sent_by_a_new_worker(redis_url: str, tmp_path: Path) -> None:
    with production_stack(tmp_path, 12) as stack, LLMServer(models=["m1"]) as llm, WebhookReceiver() as hooks:
        hook = stack.http.post("/webhooks", json={"event_type": "experiment.started", "url": hooks.url}).json()
        experiment_id = stack.experiment(llm.base_url, samples=1, temperatures=[0.1], models=["m1"])
        hooks.park()
        stack.sweep(experiment_id)
        assert hooks.parked.wait(30), "no worker sent the delivery"
        for worker in stack.workers:  # whichever worker holds the POST, it dies before learning the answer
            worker.kill()
        hooks.hold.set()
        first = hooks.requests[0]
        replacement = start_workers(stack.env, tmp_path, 1)
        try:
            requests = hooks.wait_for(lambda seen: len(seen) >= 2, timeout_s=60)
            assert requests[1].delivery == first.delivery and requests[1].body == first.body
            assert verify(hook["secret"], requests[1])
            log = stack.http.get(f"/webhooks/{hook['id']}/deliveries").json()
            assert log["total"] == 1 and log["items"][0]["id"] == first.delivery
            assert log["items"][0]["delivered"] is True
            assert httpx2.get(stack.api.url + "/health").status_code == 200
        finally:
            for worker in replacement:
                worker.stop()
