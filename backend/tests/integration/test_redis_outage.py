"""Production mode survives a Redis outage (issue 11 §3).

Each test kills a `redis-server` of its own (never the shared one) and starts it again, empty:
- while Redis is down, starting or resuming a sweep answers 503 `queue_unavailable` and leaves
  the experiment exactly as it was (no sweep, no run, no `running` status);
- with a sweep under way on real workers, in-flight runs finish instead of failing, the workers
  reconnect instead of dying, the runs whose queue messages vanished with Redis are dispatched
  again, every run completes and every (config, sample) call reaches the endpoint exactly once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from promptlooper.main import create_app
from tests.support.environment import ADMIN, TEST_FERNET_KEY, base_settings, bearer, fresh_database
from tests.support.flows import make_endpoint, make_experiment
from tests.support.llm_server import LLMServer
from tests.support.redis_server import RedisServer
from tests.support.server import start_server
from tests.support.workers import production_env, start_workers

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def own_database() -> Iterator[str]:
    """A fresh migrated Postgres database of this test's own (no other test's workers watch it)."""
    with fresh_database("outage") as url:
        yield url


def _runs(client: TestClient | httpx2.Client, prefix: str, experiment_id: str) -> list[dict[str, object]]:
    items = client.get(f"{prefix}/experiments/{experiment_id}/runs", params={"limit": 500}).json()["items"]
    return list(items)


def test_start_and_resume_answer_503_and_change_nothing_while_redis_is_down(
        own_redis: RedisServer, own_database: str, tmp_path: Path) -> None:
    settings = base_settings(tmp_path, database_url=own_database, redis_url=own_redis.url)
    with LLMServer(models=["m1", "m2"]) as llm, TestClient(create_app(settings)) as client:
        client.headers.update(bearer(client.post("/api/v1/auth/setup", json=ADMIN).json()["access_token"]))
        endpoint_id = make_endpoint(client, llm.base_url)
        paused_id = make_experiment(client, endpoint_id, samples=1)
        # No worker consumes this stack's queue: the sweep stays pending until we pause it.
        assert client.post(f"/api/v1/experiments/{paused_id}/sweep", json={}).status_code == 202
        assert client.post(f"/api/v1/experiments/{paused_id}/pause").status_code == 200
        draft_id = make_experiment(client, endpoint_id, samples=1)
        stopped_id = make_experiment(client, endpoint_id, samples=1)  # its stopped sweep's leases are asked of Redis
        assert client.post(f"/api/v1/experiments/{stopped_id}/sweep", json={}).status_code == 202
        assert client.post(f"/api/v1/experiments/{stopped_id}/stop").status_code == 200

        own_redis.kill()
        started = client.post(f"/api/v1/experiments/{draft_id}/sweep", json={})
        assert started.status_code == 503, started.text
        assert started.json()["code"] == "queue_unavailable"
        assert "Redis" in started.json()["detail"]
        assert client.get(f"/api/v1/experiments/{draft_id}").json()["status"] == "draft"
        assert _runs(client, "/api/v1", draft_id) == [], "no run was committed for a sweep that was refused"

        after_stop = client.post(f"/api/v1/experiments/{stopped_id}/sweep", json={})
        assert after_stop.status_code == 503 and after_stop.json()["code"] == "queue_unavailable", after_stop.text
        assert client.get(f"/api/v1/experiments/{stopped_id}").json()["status"] == "completed"

        resumed = client.post(f"/api/v1/experiments/{paused_id}/resume")
        assert resumed.status_code == 503, resumed.text
        assert resumed.json()["code"] == "queue_unavailable"
        assert client.get(f"/api/v1/experiments/{paused_id}").json()["status"] == "paused"
        assert {r["status"] for r in _runs(client, "/api/v1", paused_id)} == {"pending"}
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["redis"].startswith("error")

        own_redis.start()
        # Redis is back: the same requests succeed (the API's clients reconnect by themselves).
        deadline = time.monotonic() + 15
        while (answer := client.post(f"/api/v1/experiments/{paused_id}/resume")).status_code == 503:
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.2)
        assert answer.status_code == 200 and answer.json()["status"] == "running", answer.text
        again = client.post(f"/api/v1/experiments/{draft_id}/sweep", json={})
        assert again.status_code == 202, again.text


def test_a_redis_outage_mid_sweep_loses_no_run_and_pays_no_call_twice(
        own_redis: RedisServer, own_database: str, tmp_path: Path) -> None:
    env = production_env(own_database, own_redis.url, TEST_FERNET_KEY, DATA_DIR=str(tmp_path))
    workers = start_workers(env, tmp_path, 2, concurrency=4)
    api = start_server(env, tmp_path / "api.log")
    http = httpx2.Client(base_url=api.url + "/api/v1", timeout=30)
    try:
        http.headers["Authorization"] = "Bearer " + http.post("/auth/setup", json=ADMIN).json()["access_token"]
        with LLMServer(models=["m1", "m2"], latency_s=0.05) as llm:
            endpoint = http.post("/endpoints", json={"label": "mock", "url": llm.base_url, "max_concurrency": 16})
            project = http.post("/projects", json={"name": f"p-{uuid.uuid4().hex[:6]}"}).json()["id"]
            doc = {
                "project_id": project, "name": "outage",
                "sample_data": [{"id": f"s{i}", "input": f"sample {i} about alpha"} for i in range(2)],
                "pipeline_stages": [{"name": "answer", "endpoint_id": endpoint.json()["id"], "model": "m1",
                                     "prompt_template": "Answer: {{ input }}"}],
                "scoring_config": [{"scorer": "keyword", "config": {"keywords": ["m2"], "mode": "any"}}],
                "parameter_space": {"model": ["m1", "m2"], "temperature": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]},
            }
            experiment_id = http.post("/experiments", json=doc).json()["id"]
            llm.hold_after(6)  # 6 calls are answered; the next ones wait inside the endpoint (in flight)
            started = http.post(f"/experiments/{experiment_id}/sweep", json={"type": "grid", "concurrency": 4})
            assert started.status_code == 202, started.text
            deadline = time.monotonic() + 60
            while sum(llm.answered().values()) < 6 or llm.in_flight < 2:
                assert time.monotonic() < deadline, "the sweep did not get under way"
                time.sleep(0.02)

            own_redis.kill()  # queue messages, leases, semaphores: all gone
            time.sleep(3.0)  # longer than a run lease (RUN_LEASE_S=2): renewals fail meanwhile
            health = httpx2.get(api.url + "/health")
            assert health.status_code == 503 and health.json()["redis"].startswith("error")
            own_redis.start()
            llm.release()  # the calls in flight through the outage now answer

            deadline = time.monotonic() + 120
            while (experiment := http.get(f"/experiments/{experiment_id}").json())["status"] != "completed":
                if time.monotonic() > deadline:
                    states = sorted(str(r["status"]) for r in _runs(http, "", experiment_id))
                    logs = "\n".join(w.log()[-4000:] for w in workers)
                    raise AssertionError(f"experiment stayed {experiment['status']}; runs {states}\n{logs}")
                time.sleep(0.2)
            runs = _runs(http, "", experiment_id)
            assert len(runs) == 12, "no run was lost"
            assert {r["status"] for r in runs} == {"completed"}, [(r["status"], r["error"]) for r in runs]
            answered = llm.answered()
            assert len(answered) == 24, "every (config, sample) call was answered"
            assert set(answered.values()) == {1}, f"calls paid twice: {[d for d, n in answered.items() if n > 1]}"
            assert llm.calls == 24, "no call reached the endpoint twice"
        for worker in workers:
            assert worker.proc.poll() is None, f"a worker died in the outage:\n{worker.log()[-4000:]}"
            assert "Unrecoverable error" not in worker.log()
        assert httpx2.get(api.url + "/health").json()["redis"] == "ok"
    finally:
        http.close()
        for worker in workers:
            worker.stop()
        api.stop()
