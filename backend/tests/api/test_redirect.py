"""Redirecting a running or paused sweep: done runs stay, pending runs outside the new space are
dropped, new configurations are added, nothing evaluated is paid for twice; a PUT of the space
during a sweep is 409.

On SQLite and Postgres with the in-process queue, and in production mode (Postgres, Redis and two
real `promptlooper worker` processes).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.flows import make_endpoint, make_experiment, wait_event, wait_status, wait_until
from tests.support.llm_server import LLMServer
from tests.support.webhook_receiver import WebhookReceiver, verify

Key = tuple[str, float]


@pytest.fixture(params=["sqlite", "postgres", "production"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """Sweeps run here, so a third time in production mode: Celery workers on Redis."""
    return str(request.param)


def key_of(run: dict[str, Any]) -> Key:
    stage = run["config"]["stages"][0]
    return str(stage["model"]), float(stage["params"]["temperature"])


def all_runs(client: TestClient, experiment_id: str) -> list[dict[str, Any]]:
    page = client.get(f"/api/v1/experiments/{experiment_id}/runs", params={"limit": 500}).json()
    assert page["total"] == len(page["items"])
    return list(page["items"])


def expected_change(runs: list[dict[str, Any]], models: list[str], temps: list[float]) -> tuple[int, int, set[Key]]:
    """What a redirect to models x temps should drop and add, and the configs the sweep then ends with."""
    wanted = {(m, t) for m in models for t in temps}
    dropped = [r for r in runs if r["status"] == "pending" and key_of(r) not in wanted]
    kept = {key_of(r) for r in runs if r not in dropped}
    added = wanted - kept
    return len(dropped), len(added), kept | added


def assert_each_call_once(server: LLMServer, final: set[Key]) -> None:
    """Every (config, sample) was answered exactly once (1 sample: one distinct request per config)."""
    answered = server.answered()
    assert set(answered.values()) == {1}, answered
    assert len(answered) == len(final)
    assert server.calls == len(final)


def test_redirect_mid_sweep_drops_adds_and_repays_nothing(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1,
                                        temperatures=[0.1, 0.2, 0.3, 0.4])
        server.hold_after(2)  # two runs finish, the third is held in flight: the sweep is mid-way
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid", "concurrency": 1})
        assert started.status_code == 202, started.text
        sweep_id = started.json()["sweep_id"]
        wait_until(lambda: server.in_flight == 1 and sum(r["status"] == "completed"
                                                         for r in all_runs(admin, experiment_id)) == 2,
                   "two runs done and one in flight")
        before = all_runs(admin, experiment_id)
        assert [r["status"] for r in before].count("pending") == 5
        # Keep the temperatures already evaluated or in flight, drop the others, add a new one.
        temps = [*sorted({key_of(r)[1] for r in before if r["status"] != "pending"}), 0.9]
        dropped, added, final = expected_change(before, ["m1", "m2"], temps)
        assert added >= 2 and dropped >= 1

        put = admin.put(f"/api/v1/experiments/{experiment_id}", json={"parameter_space": {"model": ["m1"]}})
        assert put.status_code == 409 and put.json()["code"] == "sweep_running"
        assert "redirect" in put.json()["detail"]
        same = admin.put(f"/api/v1/experiments/{experiment_id}", json={"description": "still editable"})
        assert same.status_code == 200, same.text
        bad = admin.post(f"/api/v1/experiments/{experiment_id}/redirect",
                         json={"parameter_space": {"model": "m1"}})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][:2] == ["body", "parameter_space"], bad.text
        big = admin.post(f"/api/v1/experiments/{experiment_id}/redirect",
                         json={"parameter_space": {"temperature": [i / 1000 for i in range(1000)],
                                                   "top_p": [i / 1000 for i in range(1000)]}})
        assert big.status_code == 422 and big.json()["code"] == "sweep_too_large", big.text

        redirected = admin.post(f"/api/v1/experiments/{experiment_id}/redirect",
                                json={"parameter_space": {"model": ["m1", "m2"], "temperature": temps}})
        assert redirected.status_code == 200, redirected.text
        assert redirected.json() == {"sweep_id": sweep_id, "dropped": dropped, "added": added,
                                     "total_runs": len(final)}
        experiment = admin.get(f"/api/v1/experiments/{experiment_id}").json()
        assert experiment["parameter_space"]["temperature"] == temps
        server.release()
        wait_status(admin, experiment_id)
        after = all_runs(admin, experiment_id)
        assert {key_of(r) for r in after} == final and len(after) == len(final)
        assert {r["status"] for r in after} == {"completed"}
        assert_each_call_once(server, final)
        found = wait_event(admin, experiment_id, "experiment.completed")  # events are persisted after the status
        event = next(e for e in found if e["type"] == "sweep.redirected")
        assert event["sweep_id"] == sweep_id
        assert event["data"] == {"dropped": dropped, "added": added, "total_runs": len(final)}
        later = [e for e in found if e["type"] == "sweep.progress" and e["seq"] > event["seq"]]
        assert later and all(e["data"]["total"] == len(final) for e in later), "progress counts the new runs"
        completed = next(e for e in found if e["type"] == "experiment.completed")
        assert completed["data"]["total"] == len(final) and completed["data"]["completed"] == len(final)

        again = admin.post(f"/api/v1/experiments/{experiment_id}/redirect",
                           json={"parameter_space": {"model": ["m1"]}})
        assert again.status_code == 409 and again.json()["code"] == "no_running_sweep"


def test_redirect_paused_sweep_keeps_new_runs_pending_until_resume(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"], latency_s=0.15) as server, WebhookReceiver() as hooks:
        hook = admin.post("/api/v1/webhooks", json={"event_type": "experiment.redirected", "url": hooks.url})
        assert hook.status_code == 201, hook.text
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1,
                                        temperatures=[0.1, 0.2, 0.3])
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid", "concurrency": 1})
        sweep_id = started.json()["sweep_id"]
        wait_until(lambda: any(r["status"] == "completed" for r in all_runs(admin, experiment_id)), "a run done")
        assert admin.post(f"/api/v1/experiments/{experiment_id}/pause").status_code == 200
        wait_until(lambda: not any(r["status"] == "running" for r in all_runs(admin, experiment_id)),
                   "the in-flight run to finish")
        before = all_runs(admin, experiment_id)
        calls_paused = server.calls
        assert 0 < calls_paused < 6
        # A new model and temperature; the evaluated configs are in the new space, so are kept.
        models, temps = ["m1", "m2"], sorted({key_of(r)[1] for r in before if r["status"] != "pending"} | {0.8})
        dropped, added, final = expected_change(before, models, temps)
        redirected = admin.post(f"/api/v1/experiments/{experiment_id}/redirect",
                                json={"parameter_space": {"model": models, "temperature": temps}})
        assert redirected.status_code == 200, redirected.text
        assert redirected.json() == {"sweep_id": sweep_id, "dropped": dropped, "added": added,
                                     "total_runs": len(final)}
        delivered = hooks.wait_for(lambda seen: len(seen) >= 1)
        assert [r.type for r in delivered] == ["experiment.redirected"] and verify(hook.json()["secret"], delivered[0])
        assert delivered[0].json["experiment_id"] == experiment_id
        assert delivered[0].json["data"] == {"dropped": dropped, "added": added, "total_runs": len(final),
                                             "sweep_id": sweep_id}
        time.sleep(0.3)
        assert server.calls == calls_paused, "a paused sweep runs nothing, redirected or not"
        assert admin.get(f"/api/v1/experiments/{experiment_id}").json()["status"] == "paused"
        pending = [r for r in all_runs(admin, experiment_id) if r["status"] == "pending"]
        assert len(pending) == len(final) - sum(r["status"] != "pending" for r in before)
        assert admin.post(f"/api/v1/experiments/{experiment_id}/resume").status_code == 200
        wait_status(admin, experiment_id)
        after = all_runs(admin, experiment_id)
        assert {key_of(r) for r in after} == final and {r["status"] for r in after} == {"completed"}
        assert_each_call_once(server, final)


def test_redirect_skips_configs_evaluated_by_an_earlier_sweep(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1,
                                        temperatures=[0.1])
        no_sweep = admin.post(f"/api/v1/experiments/{experiment_id}/redirect",
                              json={"parameter_space": {"model": ["m1"]}})
        assert no_sweep.status_code == 409 and no_sweep.json()["code"] == "no_running_sweep"
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid"})
        wait_status(admin, experiment_id)
        assert server.calls == 2  # (m1, 0.1), (m2, 0.1)
        assert admin.put(f"/api/v1/experiments/{experiment_id}",
                         json={"parameter_space": {"model": ["m1", "m2"], "temperature": [0.5]}}).status_code == 200
        server.hold_after(1)  # the second sweep holds its second call: it is running when redirected
        second = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid", "concurrency": 1})
        sweep_id = second.json()["sweep_id"]
        wait_until(lambda: server.in_flight == 1, "the second sweep's second call")
        # 0.1 was evaluated by the first sweep: only 0.7 is new.
        redirected = admin.post(f"/api/v1/experiments/{experiment_id}/redirect",
                                json={"parameter_space": {"model": ["m1", "m2"], "temperature": [0.1, 0.5, 0.7]}})
        assert redirected.status_code == 200, redirected.text
        assert redirected.json() == {"sweep_id": sweep_id, "dropped": 0, "added": 2, "total_runs": 4}
        server.release()
        wait_status(admin, experiment_id)
        runs = admin.get(f"/api/v1/experiments/{experiment_id}/runs",
                         params={"sweep_id": sweep_id, "limit": 100}).json()["items"]
        assert {key_of(r) for r in runs} == {(m, t) for m in ("m1", "m2") for t in (0.5, 0.7)}
        final = {(m, t) for m in ("m1", "m2") for t in (0.1, 0.5, 0.7)}
        assert_each_call_once(server, final)


def test_redirect_random_sweep_draws_from_the_new_space(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"]) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1,
                                        temperatures=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
        server.hold_after(1)  # one run done, the next held in flight
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep",
                             json={"type": "random", "max_runs": 5, "seed": 7, "concurrency": 1})
        assert started.status_code == 202 and started.json()["total_runs"] == 5, started.text
        wait_until(lambda: server.in_flight == 1, "the second run in flight")
        before = all_runs(admin, experiment_id)
        assert [r["status"] for r in before].count("pending") == 3
        # The new space is smaller than max_runs: the draw is all of it; no pending run is in it.
        dropped, added, final = expected_change(before, ["m1"], [0.7, 0.8])
        assert (dropped, added) == (3, 2)
        redirected = admin.post(f"/api/v1/experiments/{experiment_id}/redirect",
                                json={"parameter_space": {"model": ["m1"], "temperature": [0.7, 0.8]}})
        assert redirected.status_code == 200, redirected.text
        assert redirected.json() == {"sweep_id": started.json()["sweep_id"], "dropped": 3, "added": 2,
                                     "total_runs": 4}
        server.release()
        wait_status(admin, experiment_id)
        after = all_runs(admin, experiment_id)
        assert {key_of(r) for r in after} == final and {r["status"] for r in after} == {"completed"}
        assert_each_call_once(server, final)


def test_redirect_that_drops_every_pending_run_then_resume_completes(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"], latency_s=0.15) as server:
        experiment_id = make_experiment(admin, make_endpoint(admin, server.base_url), samples=1,
                                        temperatures=[0.1, 0.2, 0.3])
        admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid", "concurrency": 1})
        wait_until(lambda: any(r["status"] == "completed" for r in all_runs(admin, experiment_id)), "a run done")
        assert admin.post(f"/api/v1/experiments/{experiment_id}/pause").status_code == 200
        wait_until(lambda: not any(r["status"] == "running" for r in all_runs(admin, experiment_id)),
                   "the in-flight run to finish")
        done = [r for r in all_runs(admin, experiment_id) if r["status"] == "completed"]
        pending = [r for r in all_runs(admin, experiment_id) if r["status"] == "pending"]
        # Only what is done: every pending run goes, nothing is added.
        models = sorted({key_of(r)[0] for r in done})
        space = {"model": models, "temperature": sorted({key_of(r)[1] for r in done})}
        dropped, added, final = expected_change(done + pending, models, space["temperature"])
        assert dropped == len(pending) - sum(key_of(r) in final for r in pending) and added == 0
        redirected = admin.post(f"/api/v1/experiments/{experiment_id}/redirect", json={"parameter_space": space})
        assert redirected.status_code == 200, redirected.text
        assert redirected.json()["added"] == 0 and redirected.json()["dropped"] == dropped
        assert admin.post(f"/api/v1/experiments/{experiment_id}/resume").status_code == 200
        wait_status(admin, experiment_id)
        after = all_runs(admin, experiment_id)
        assert {key_of(r) for r in after} == final and {r["status"] for r in after} == {"completed"}
        assert_each_call_once(server, final)
