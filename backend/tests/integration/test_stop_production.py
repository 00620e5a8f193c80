"""Stop means stopped in production (issue 11 §4), across a restart of the API process.

Two runs hang inside the endpoint on a real worker; the API that started them is killed and started
again; the new one stops the sweep: the runs end `cancelled` at once and the experiment `completed`,
a new sweep is refused (409) while the worker still holds the runs, and accepted once the worker
noticed the stop and cancelled their calls (which are never retried nor answered).
"""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import httpx2
import pytest

from tests.support.environment import ADMIN, TEST_FERNET_KEY, fresh_database
from tests.support.llm_server import LLMServer
from tests.support.redis_server import RedisServer
from tests.support.server import ServerProcess, start_server
from tests.support.workers import production_env, start_workers

pytestmark = pytest.mark.timeout(240)


def _client(api: ServerProcess, token: str) -> httpx2.Client:
    return httpx2.Client(base_url=api.url + "/api/v1", timeout=30, headers={"Authorization": f"Bearer {token}"})


def _states(http: httpx2.Client, experiment_id: str, **params: str) -> list[str]:
    items = http.get(f"/experiments/{experiment_id}/runs", params={"limit": 500} | params).json()["items"]
    return sorted(str(r["status"]) for r in items)


def test_stop_cancels_hanging_runs_on_workers_across_an_api_restart(tmp_path: Path) -> None:
    hang_s = 60.0  # longer than a slow API restart on a loaded machine (one took 27 s)
    with RedisServer() as redis_server, fresh_database("stop") as database, \
            LLMServer(models=["m1"], hang_s=hang_s) as llm:
        # A lease of 6 s: while the worker is frozen below, its runs stay leased long enough to see the 409.
        env = production_env(database, redis_server.url, TEST_FERNET_KEY, DATA_DIR=str(tmp_path),
                             RUN_LEASE_S="6", LLM_TIMEOUT_S="90")
        workers = start_workers(env, tmp_path, 1, concurrency=4)
        api = start_server(env, tmp_path / "api-1.log")
        try:
            token = httpx2.post(api.url + "/api/v1/auth/setup", json=ADMIN).json()["access_token"]
            http = _client(api, token)
            endpoint = http.post("/endpoints", json={"label": "mock", "url": llm.base_url, "max_concurrency": 8})
            project = http.post("/projects", json={"name": f"p-{uuid.uuid4().hex[:6]}"}).json()["id"]
            doc = {
                "project_id": project, "name": "stop",
                "sample_data": [{"id": "s0", "input": "sample about alpha"}],
                "pipeline_stages": [{"name": "answer", "endpoint_id": endpoint.json()["id"], "model": "m1",
                                     "prompt_template": "Answer: {{ input }}"}],
                "scoring_config": [{"scorer": "keyword", "config": {"keywords": ["m1"], "mode": "any"}}],
                "parameter_space": {"temperature": [0.1, 0.2]},
            }
            experiment_id = http.post("/experiments", json=doc).json()["id"]
            llm.script(["hang", "hang"])
            assert http.post(f"/experiments/{experiment_id}/sweep", json={"concurrency": 2}).status_code == 202
            deadline = time.monotonic() + 60
            while llm.in_flight < 2 or _states(http, experiment_id) != ["running", "running"]:
                assert time.monotonic() < deadline, "the two runs did not get in flight"
                time.sleep(0.05)
            hung_at = time.monotonic()

            http.close()
            api.stop(signal.SIGKILL)
            api = start_server(env, tmp_path / "api-2.log")
            http = _client(api, token)

            worker = workers[0]
            worker.proc.send_signal(signal.SIGSTOP)  # it cannot notice the stop until it thaws
            try:
                stopped = http.post(f"/experiments/{experiment_id}/stop")
                assert stopped.status_code == 200 and stopped.json()["status"] == "completed", stopped.text
                assert _states(http, experiment_id) == ["cancelled", "cancelled"]
                refused = http.post(f"/experiments/{experiment_id}/sweep", json={"concurrency": 2})
                assert refused.status_code == 409, refused.text
                assert refused.json()["code"] == "runs_still_running"
            finally:
                worker.proc.send_signal(signal.SIGCONT)

            deadline = time.monotonic() + 15
            while (again := http.post(f"/experiments/{experiment_id}/sweep",
                                      json={"concurrency": 2})).status_code == 409:
                assert time.monotonic() < deadline, "the worker never released the stopped runs"
                time.sleep(0.1)
            assert again.status_code == 202, again.text
            deadline = time.monotonic() + 60
            while http.get(f"/experiments/{experiment_id}").json()["status"] != "completed":
                assert time.monotonic() < deadline, worker.log()[-4000:]
                time.sleep(0.1)
            assert _states(http, experiment_id, sweep_id=again.json()["sweep_id"]) == ["completed", "completed"]
            assert "'cancelled'" in worker.log(), "the worker's run task ended as cancelled"
            time.sleep(max(0.0, hung_at + hang_s + 1.5 - time.monotonic()))  # the hangs have ended now
            assert llm.calls == 4, "the two hanging calls were cancelled, never retried"
            assert _states(http, experiment_id).count("cancelled") == 2, "no outcome was persisted over cancelled"
            http.close()
        finally:
            for w in workers:
                w.stop()
            api.stop()
