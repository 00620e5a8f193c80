"""A linked choice in a real sweep: exactly its configurations run, and per-sample scorers score only theirs.

On SQLite and Postgres with the in-process queue, and in production mode (Celery workers on Redis).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.flows import make_endpoint, make_experiment, wait_status
from tests.support.llm_server import LLMServer


@pytest.fixture(params=["sqlite", "postgres", "production"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """Like test_sweeps.py: a third run in production mode."""
    return str(request.param)


def test_linked_choice_runs_exactly_its_values_and_restricted_scorers(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2", "m3"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        linked = [{"model": "m1", "params": {"temperature": 0.1}},
                  {"model": "m2", "params": {"temperature": 0.9, "max_tokens": 3}},
                  {"model": "m3", "params": {"top_p": 0.5}}]
        scoring = [{"scorer": "keyword", "name": "s0 says m2", "samples": ["s0"], "config": {"keywords": ["m2"]}},
                   {"scorer": "keyword", "name": "all say number", "config": {"keywords": ["number"]}}]
        experiment_id = make_experiment(admin, endpoint_id, samples=2, scoring=scoring,
                                        space={"stages.answer": linked})
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid"})
        assert started.status_code == 202 and started.json()["total_runs"] == 3, started.text
        wait_status(admin, experiment_id)
        assert server.stats()["calls"] == 6  # 3 configurations x 2 samples, not 3 models x 2 temperatures x ...
        runs = admin.get(f"/api/v1/experiments/{experiment_id}/runs").json()["items"]
        by_model = {r["config"]["stages"][0]["model"]: r for r in runs}
        assert by_model["m1"]["config"]["stages"][0]["params"] == {"temperature": 0.1}
        assert by_model["m2"]["config"]["stages"][0]["params"] == {"temperature": 0.9, "max_tokens": 3}
        assert by_model["m3"]["config"]["stages"][0]["params"] == {"temperature": 0.5, "top_p": 0.5}
        m2 = admin.get(f"/api/v1/runs/{by_model['m2']['id']}").json()
        details = {d["name"]: d["metadata"]["per_sample"] for d in m2["score_details"]}
        assert details["s0 says m2"] == {"s0": 1.0}  # only the sample it applies to
        assert details["all say number"] == {"s0": 0.0, "s1": 0.0}  # 3 words: "m2 t=0.9: Answer:"
        assert by_model["m1"]["scores"] == {"s0 says m2": 0.0, "all say number": 1.0}
