"""Production mode for real: `promptlooper serve` and `promptlooper worker` processes on Postgres and Redis.

- a grid sweep's events, published by the workers, reach a WebSocket connected to the API process;
- a worker killed with SIGKILL mid-sweep loses no run, and no call it had completed is paid twice;
- a sweep's concurrency and an endpoint's max_concurrency hold across two workers;
- a 429 from the endpoint slows every worker down;
- /health names Redis or the workers when they are down.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from websockets.sync.client import connect

from tests.support.environment import ADMIN, TEST_FERNET_KEY, fresh_database
from tests.support.llm_server import LLMServer
from tests.support.server import ServerProcess, free_port, start_server
from tests.support.workers import WorkerProcess, production_env, start_workers

pytestmark = pytest.mark.timeout(240)


class Stack:
    """An API process, its workers and an admin HTTP client."""

    def __init__(self, api: ServerProcess, workers: list[WorkerProcess], env: dict[str, str], directory: Path) -> None:
        self.api = api
        self.workers = workers
        self.env = env
        self.directory = directory
        self.http = httpx2.Client(base_url=api.url + "/api/v1", timeout=30)
        token = self.http.post("/auth/setup", json=ADMIN).json()["access_token"]
        self.token = token
        self.http.headers["Authorization"] = f"Bearer {token}"

    def experiment(self, base_url: str, *, samples: int, temperatures: list[float], max_concurrency: int = 16,
                   models: list[str] | None = None) -> str:
        endpoint = self.http.post("/endpoints", json={"label": "mock", "url": base_url,
                                                       "max_concurrency": max_concurrency})
        assert endpoint.status_code == 201, endpoint.text
        project = self.http.post("/projects", json={"name": f"p-{uuid.uuid4().hex[:6]}"}).json()["id"]
        doc = {
            "project_id": project, "name": "prod",
            "sample_data": [{"id": f"s{i}", "input": f"sample {i} about alpha"} for i in range(samples)],
            "pipeline_stages": [{"name": "answer", "endpoint_id": endpoint.json()["id"], "model": "m1",
                                 "prompt_template": "Answer: {{ input }}"}],
            "scoring_config": [{"scorer": "keyword", "config": {"keywords": ["m2"], "mode": "any"}}],
            "parameter_space": {"model": models or ["m1", "m2"], "temperature": temperatures},
        }
        created = self.http.post("/experiments", json=doc)
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    def sweep(self, experiment_id: str, **options: Any) -> dict[str, Any]:
        started = self.http.post(f"/experiments/{experiment_id}/sweep", json={"type": "grid"} | options)
        assert started.status_code == 202, started.text
        return dict(started.json())

    def wait_completed(self, experiment_id: str, timeout_s: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            experiment = self.http.get(f"/experiments/{experiment_id}").json()
            if experiment["status"] == "completed":
                return dict(experiment)
            time.sleep(0.1)
        logs = "\n".join(w.log()[-3000:] for w in self.workers)
        states = [(r["id"][:8], r["status"]) for r in self.runs(experiment_id)["items"]]
        raise AssertionError(f"experiment stayed {experiment['status']}; runs {states}; worker logs:\n{logs}")

    def runs(self, experiment_id: str, **params: Any) -> dict[str, Any]:
        return dict(self.http.get(f"/experiments/{experiment_id}/runs", params={"limit": 500} | params).json())

    def close(self) -> None:
        self.http.close()
        for worker in self.workers:
            worker.stop()
        self.api.stop()


@contextmanager
def production_stack(directory: Path, redis_db_index: int) -> Iterator[Stack]:
    """A fresh database, a Redis database of its own, two workers and an API process.

    Two stacks alive at once (the module's and a test's own) must not share a Redis database: each
    one's workers would take the other's tasks from the one queue.
    """
    import redis

    from tests.support.environment import REDIS_URL

    redis_db = REDIS_URL.rsplit("/", 1)[0] + f"/{redis_db_index}"
    redis.Redis.from_url(redis_db).flushdb()
    with fresh_database("stack") as database:
        env = production_env(database, redis_db, TEST_FERNET_KEY, DATA_DIR=str(directory))
        workers = start_workers(env, directory, 2)
        built: Stack | None = None
        try:
            api = start_server(env, directory / "api.log")  # healthy once it sees a live worker
            built = Stack(api, workers, env, directory)
            yield built
        finally:
            if built is not None:
                built.close()
            for worker in workers:
                worker.stop()


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One production stack shared by the tests that only add experiments to it."""
    with production_stack(tmp_path_factory.mktemp("stack"), 13) as built:
        yield built


@pytest.fixture
def own_stack(redis_url: str, tmp_path: Path) -> Iterator[Stack]:
    """A production stack for a test that kills one of its workers."""
    with production_stack(tmp_path, 14) as built:
        yield built


def test_grid_sweep_events_reach_a_websocket_on_the_api_process(stack: Stack) -> None:
    with LLMServer(models=["m1", "m2"], latency_s=0.05) as server:
        experiment_id = stack.experiment(server.base_url, samples=3, temperatures=[0.1, 0.5, 0.9])
        ws_url = stack.api.url.replace("http", "ws") + f"/ws/experiments/{experiment_id}?token={stack.token}"
        received: list[dict[str, Any]] = []
        with connect(ws_url, open_timeout=10) as socket:
            total = stack.sweep(experiment_id, concurrency=4)["total_runs"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                event = json.loads(socket.recv(timeout=30))
                received.append(event)
                if event["type"] == "experiment.completed":
                    break
        types = [e["type"] for e in received]
        assert total == 6 and "experiment.completed" in types, types
        assert types.count("run.completed") == 6, "every run's completion, published by a worker, arrived live"
        assert types.count("stage.completed") == 18
        assert types.count("sweep.progress") == 6
        # Workers publish progress as they finish runs, so two may cross; the count only grows per worker.
        progress = [e["data"]["completed"] for e in received if e["type"] == "sweep.progress"]
        assert max(progress) == 6 and received[-1]["data"]["completed"] == 6
        seqs = [e["seq"] for e in received]
        assert len(set(seqs)) == len(seqs), "no event arrives twice"
        # Each worker persists, then publishes, so two workers' events may cross on the wire (the
        # dashboard folds them by seq); within one run the order holds.
        for run_id in {e["run_id"] for e in received if e["type"] == "run.completed"}:
            own = [e["type"] for e in received if e["run_id"] == run_id and e["type"] != "new_best_found"]
            assert own[0] == "run.started" and own[-1] == "run.completed" and own.count("stage.completed") == 3, own
        polled = stack.http.get(f"/experiments/{experiment_id}/events", params={"limit": 1000}).json()["items"]
        assert {e["seq"] for e in polled} >= set(seqs), "the same events are persisted for the polling fallback"
        runs = stack.runs(experiment_id)
        assert runs["total"] == 6 and {r["status"] for r in runs["items"]} == {"completed"}
        assert server.calls == 18
        health = httpx2.get(stack.api.url + "/health").json()
        assert health | {"version": "-"} == {"status": "ok", "database": "ok", "queue": "ok", "redis": "ok",
                                             "version": "-"}


def test_a_worker_killed_mid_sweep_loses_no_run_and_repeats_no_completed_call(own_stack: Stack) -> None:
    stack = own_stack
    with LLMServer(models=["m1", "m2"], latency_s=0.05) as server:
        experiment_id = stack.experiment(server.base_url, samples=2, temperatures=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
        server.hold_after(10)  # 10 calls are answered; later ones wait inside the endpoint
        total = stack.sweep(experiment_id, concurrency=6)["total_runs"]
        assert total == 12
        deadline = time.monotonic() + 30
        while sum(server.answered().values()) < 10 or _cache_entries(stack) < 10:
            assert time.monotonic() < deadline, "the first calls were not answered and cached"
            time.sleep(0.02)
        completed_before_kill = server.answered()
        victim = next(w for w in stack.workers if _holds_runs(stack, w))
        victim.kill()
        server.release()
        stack.wait_completed(experiment_id)
        runs = stack.runs(experiment_id)
        assert runs["total"] == 12, "no run was lost"
        assert {r["status"] for r in runs["items"]} <= {"completed", "cached"}, runs["items"]
        answered = server.answered()
        repeated = {d: answered[d] for d in completed_before_kill if answered[d] > 1}
        assert not repeated, f"calls completed before the kill were paid again: {repeated}"
        assert len(answered) == 24, "every distinct call was answered"
        survivor = next(w for w in stack.workers if w is not victim)
        assert "handed back to the queue" in survivor.log(), "the survivor's watchdog recovered the lost runs"
        deadline = time.monotonic() + 10  # the completing worker persists its events within ~50 ms
        while True:
            events = stack.http.get(f"/experiments/{experiment_id}/events", params={"limit": 1000}).json()["items"]
            completions = [e["type"] for e in events].count("experiment.completed")
            if completions or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert completions == 1, "exactly one worker announced the completion"


def _cache_entries(stack: Stack) -> int:
    return int(stack.http.get("/admin/stats").json()["cache"]["entries"])


def _holds_runs(stack: Stack, worker: WorkerProcess) -> bool:
    """Whether this worker holds a run lease right now (it is mid-run)."""
    import redis

    client = redis.Redis.from_url(stack.env["REDIS_URL"], decode_responses=True)
    try:
        return any(str(client.get(key) or "").endswith(f":{worker.proc.pid}")
                   for key in client.scan_iter("promptlooper:run:*"))
    finally:
        client.close()


def test_sweep_and_endpoint_concurrency_hold_across_two_workers(stack: Stack) -> None:
    with LLMServer(models=["m1", "m2"], latency_s=0.1) as server:
        experiment_id = stack.experiment(server.base_url, samples=3, temperatures=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
        stack.sweep(experiment_id, concurrency=3)
        stack.wait_completed(experiment_id)
        assert server.calls == 36
        assert server.peak_in_flight == 3, "the sweep's limit of 3 holds across 16 worker slots, and is used"
    with LLMServer(models=["m1", "m2"], latency_s=0.1) as server:
        experiment_id = stack.experiment(server.base_url, samples=3, temperatures=[0.1, 0.2, 0.3, 0.4],
                                         max_concurrency=2)
        stack.sweep(experiment_id, concurrency=8)
        stack.wait_completed(experiment_id)
        assert server.calls == 24
        assert server.peak_in_flight == 2, "the endpoint's max_concurrency holds across workers"


def test_a_429_slows_every_worker(stack: Stack) -> None:
    with LLMServer(models=["m1", "m2"], latency_s=0.05) as server:
        experiment_id = stack.experiment(server.base_url, samples=4, temperatures=[0.1, 0.2, 0.3, 0.4])
        server.hold_after(4)  # let both workers get going before the 429
        stack.sweep(experiment_id, concurrency=8)
        deadline = time.monotonic() + 20
        while server.calls < 6:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        scripted_at = time.monotonic()
        server.script(["429:1"])  # the next request to arrive gets 429 with Retry-After: 1
        server.release()
        stack.wait_completed(experiment_id)
        arrivals = server.arrivals()
        status_429_at = next(t for t, _ in arrivals if t > scripted_at)
        quiet = [t for t, _ in arrivals if status_429_at + 0.3 < t < status_429_at + 0.9]
        assert not quiet, f"{len(quiet)} request(s) reached the endpoint during the 1 s Retry-After"
        assert len({d for _, d in arrivals}) == 32 and stack.runs(experiment_id)["total"] == 8


def test_health_names_redis_or_the_workers_when_down(postgres_url: str, redis_url: str, tmp_path: Path) -> None:
    base = production_env(postgres_url, redis_url.rsplit("/", 1)[0] + "/12", TEST_FERNET_KEY, DATA_DIR=str(tmp_path))
    import redis

    redis.Redis.from_url(base["REDIS_URL"]).flushdb()
    api = start_server(base, tmp_path / "no-workers.log", expect_status=503)
    try:
        answer = httpx2.get(api.url + "/health")
        assert answer.status_code == 503
        assert answer.json()["queue"] == "no live worker" and answer.json()["redis"] == "ok"
    finally:
        api.stop()
    down = base | {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    api = start_server(down, tmp_path / "no-redis.log", expect_status=503)
    try:
        answer = httpx2.get(api.url + "/health")
        assert answer.status_code == 503 and answer.json()["redis"].startswith("error")
        assert answer.json()["code"] == "unhealthy"
    finally:
        api.stop()


def test_a_worker_killed_between_the_waves_of_a_strategy_loses_no_run(own_stack: Stack) -> None:
    """The second wave (chosen from the first's scores) is persisted, then its worker dies: the other finishes."""
    from tests.support.strategies import WAVE2_SIZE

    stack = own_stack
    samples, first_wave = 2, 4
    with LLMServer(models=["m1", "m2"], latency_s=0.02) as server:
        experiment_id = stack.experiment(server.base_url, samples=samples, temperatures=[0.1, 0.9])
        server.hold_after(samples * first_wave)  # wave 1 is answered; wave 2's calls are parked
        assert stack.sweep(experiment_id, type="two_wave", concurrency=2)["total_runs"] == first_wave
        deadline = time.monotonic() + 30
        while server.stats()["in_flight"] == 0:
            assert time.monotonic() < deadline, "the second wave did not start"
            time.sleep(0.02)
        victim = next(w for w in stack.workers if _holds_runs(stack, w))
        victim.kill()
        server.release()
        stack.wait_completed(experiment_id)
        runs = stack.runs(experiment_id)["items"]
        assert len(runs) == first_wave + WAVE2_SIZE, "no run lost, no wave proposed twice"
        assert {r["status"] for r in runs} <= {"completed", "cached"}, runs
        second = {r["config_hash"] for r in runs if r["repeat_index"] == 1}
        best = sorted((r for r in runs if r["repeat_index"] == 0), key=lambda r: -r["weighted_score"])[:WAVE2_SIZE]
        assert second == {r["config_hash"] for r in best}
        assert sum(r["llm_calls"] for r in runs) == samples * len(runs)
        deadline = time.monotonic() + 10
        while True:
            events = stack.http.get(f"/experiments/{experiment_id}/events", params={"limit": 1000}).json()["items"]
            completions = [e for e in events if e["type"] == "experiment.completed"]
            if completions or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(completions) == 1 and completions[0]["data"]["total"] == len(runs)


def test_a_worker_killed_mid_guided_sweep_loses_no_run_and_repays_no_completed_one(own_stack: Stack) -> None:
    """A guided sweep's third wave is persisted, then its worker dies: the other worker continues the study."""
    stack = own_stack
    samples, max_runs = 2, 8
    with LLMServer(models=["m1", "m2"], latency_s=0.02) as server:
        experiment_id = stack.experiment(server.base_url, samples=samples, temperatures=[0.1, 0.3, 0.5, 0.7, 0.9])
        server.hold_after(samples * 4)  # two waves of two are answered; the third's calls are parked
        started = stack.sweep(experiment_id, type="guided", seed=2, max_runs=max_runs, concurrency=2,
                              guided={"n_startup": 2})
        assert started["total_runs"] == 2
        deadline = time.monotonic() + 30
        while server.stats()["in_flight"] == 0:
            assert time.monotonic() < deadline, "the third wave did not start"
            time.sleep(0.02)
        victim = next(w for w in stack.workers if _holds_runs(stack, w))
        victim.kill()
        server.release()
        stack.wait_completed(experiment_id)
        runs = stack.runs(experiment_id)["items"]
        assert len(runs) == max_runs and len({r["config_hash"] for r in runs}) == max_runs
        assert {r["status"] for r in runs} <= {"completed", "cached"}, runs
        assert sum(r["llm_calls"] for r in runs) == samples * max_runs
        answered = sum(server.answered().values())
        assert samples * max_runs <= answered <= samples * max_runs + 2, "only the parked calls may be paid again"


def test_a_worker_killed_mid_rung_of_an_early_stopping_sweep_repays_nothing(own_stack: Stack) -> None:
    """Early stopping on workers: one dies inside rung 1, the other continues the halving from the database."""
    stack = own_stack
    samples = 4  # min_samples 1, eta 3: rungs 1 -> 3 -> 4; 6 configurations: 6 + 2 x 2 + 1 x 1 calls
    with LLMServer(models=["m1", "m2"], latency_s=0.05) as server:
        experiment_id = stack.experiment(server.base_url, samples=samples, temperatures=[0.1, 0.2, 0.3])
        server.hold_after(6 + 1)  # rung 0 and one call of rung 1 answered; the next ones are parked
        started = stack.sweep(experiment_id, concurrency=2, early_stopping={"min_samples": 1, "eta": 3})
        assert started["total_runs"] == 6
        deadline = time.monotonic() + 30
        while sum(server.answered().values()) < 7 or server.stats()["in_flight"] == 0 or _cache_entries(stack) < 7:
            assert time.monotonic() < deadline, "rung 1 did not start"
            time.sleep(0.02)
        answered_before = server.answered()
        victim = next(w for w in stack.workers if _holds_runs(stack, w))
        victim.kill()
        server.release()
        stack.wait_completed(experiment_id)
        runs = stack.runs(experiment_id)["items"]
        assert len(runs) == 6, "a continued configuration is the same run; none lost"
        assert sorted(r["status"] for r in runs) == ["completed"] + ["pruned"] * 5, runs
        assert sorted(r["samples_evaluated"] for r in runs) == [1, 1, 1, 1, 3, 4]
        for run in runs:
            detail = stack.http.get(f"/runs/{run['id']}").json()
            ids = [s["sample_id"] for s in detail["stage_results"]]
            assert len(ids) == len(set(ids)) == run["samples_evaluated"], "no sample twice in a run"
        answered = server.answered()
        repaid = {d for d, n in answered_before.items() if answered[d] != n}
        assert not repaid, "a call answered before the kill was made again"
        assert 11 <= sum(answered.values()) <= 11 + 2, "only the calls parked at the kill may be paid again"
