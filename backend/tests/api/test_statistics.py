"""Intervals, paired tests against the leader and judge calibration over REST and MCP, in every mode.

The landscape: twelve samples, a keyword scorer looking for "gold", and three prompt templates. The
loopback server echoes the prompt, so per sample the score is known in advance:
- `{{ input }} gold` finds it everywhere (1.0 on all twelve): the leader;
- `{{ input }}` finds it in eleven inputs (one says "silver"): a difference that is noise;
- `{{ input | length }}` sends a number and never finds it: clearly worse.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient
from scipy import stats as sps

from promptlooper.mcp.http import start_mcp_http
from tests.support.flows import make_endpoint, wait_status
from tests.support.llm_server import LLMServer
from tests.support.mcp_client import call, http_session

SAMPLES = [f"s{i:02d}" for i in range(12)]  # sorted as the service sorts them: the bootstrap's order
LEADER, NOISE, WORSE = "{{ input }} gold", "{{ input }}", "{{ input | length }}"


@pytest.fixture(params=["sqlite", "postgres", "production"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """Sweeps run a third time in production mode: Celery workers on Redis."""
    return str(request.param)


def _experiment(client: TestClient, endpoint_id: str) -> str:
    project_id = client.post("/api/v1/projects", json={"name": "stats"}).json()["id"]
    doc = {
        "project_id": project_id, "name": "stats",
        "sample_data": [{"id": sid, "input": f"item {sid} is {'silver' if sid == 's05' else 'gold'}"}
                        for sid in SAMPLES],
        "pipeline_stages": [{"name": "answer", "endpoint_id": endpoint_id, "model": "m1",
                             "prompt_template": LEADER, "params": {"temperature": 0.5}}],
        "scoring_config": [{"scorer": "keyword", "weight": 1.0, "config": {"keywords": ["gold"], "mode": "any"}}],
        "parameter_space": {"prompt_template": [LEADER, NOISE, WORSE]},
    }
    response = client.post("/api/v1/experiments", json=doc)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _expected() -> dict[str, list[float]]:
    return {LEADER: [1.0] * 12, NOISE: [0.0 if s == "s05" else 1.0 for s in SAMPLES], WORSE: [0.0] * 12}


def _interval(values: list[float]) -> tuple[float, float]:
    ci = sps.bootstrap((np.asarray(values),), np.mean, n_resamples=999, confidence_level=0.95,
                       method="percentile", vectorized=True, rng=np.random.default_rng(16)).confidence_interval
    return float(ci.low), float(ci.high)


def _check_board(items: list[dict[str, Any]]) -> None:
    by_template = {e["config"]["stages"][0]["prompt_template"]: e for e in items}
    expected = _expected()
    leader, noise, worse = by_template[LEADER], by_template[NOISE], by_template[WORSE]
    assert [e["rank"] for e in items] == [1, 2, 3] and items[0] is leader
    assert leader["tied_with_best"] is True and leader["p_value"] is None
    assert (leader["ci_low"], leader["ci_high"], leader["mean_score"]) == (1.0, 1.0, 1.0)
    low, high = _interval(expected[NOISE])
    assert noise["ci_low"] == pytest.approx(low, abs=1e-6) and noise["ci_high"] == pytest.approx(high, abs=1e-6)
    assert noise["mean_score"] == pytest.approx(11 / 12, abs=1e-6) and noise["samples"] == 12
    raw = {t: float(sps.wilcoxon(expected[LEADER], expected[t]).pvalue) for t in (NOISE, WORSE)}
    assert noise["p_value"] == pytest.approx(raw[NOISE], abs=1e-6)
    assert worse["p_value"] == pytest.approx(raw[WORSE], abs=1e-6)
    # Holm over two tests: the smaller p doubled, the larger kept (never below the smaller's adjustment)
    assert worse["p_adjusted"] == pytest.approx(2 * raw[WORSE], abs=1e-6)
    assert noise["p_adjusted"] == pytest.approx(max(raw[NOISE], 2 * raw[WORSE]), abs=1e-6)
    assert noise["tied_with_best"] is True, "one sample of twelve is noise"
    assert worse["tied_with_best"] is False, "losing on every sample is not"
    assert (worse["ci_low"], worse["ci_high"]) == (0.0, 0.0)


def _mcp_board(client: TestClient, experiment_id: str) -> dict[str, Any]:
    """get_leaderboard over the MCP server of the very app the test client runs (same database, same mode)."""
    handle = client.portal.call(start_mcp_http, client.app.state.ctx, "127.0.0.1", 0)  # type: ignore[attr-defined,union-attr]
    token = str(client.headers["Authorization"]).removeprefix("Bearer ")

    async def ask() -> dict[str, Any]:
        async with http_session(handle.url, token) as session:
            board: dict[str, Any] = await call(session, "get_leaderboard", experiment_id=experiment_id, limit=10)
            return board

    try:
        return asyncio.run(ask())
    finally:
        client.portal.call(handle.stop)  # type: ignore[union-attr]


def test_intervals_and_ties_over_rest_and_mcp(admin: TestClient) -> None:
    with LLMServer(models=["m1"]) as server:
        experiment_id = _experiment(admin, make_endpoint(admin, server.base_url))
        started = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid"})
        assert started.status_code == 202, started.text
        wait_status(admin, experiment_id)
        board = admin.get(f"/api/v1/experiments/{experiment_id}/leaderboard").json()["items"]
        _check_board(board)
        _check_board(_mcp_board(admin, experiment_id)["items"])

        runs = admin.get(f"/api/v1/experiments/{experiment_id}/runs").json()["items"]
        by_template = {r["config"]["stages"][0]["prompt_template"]: r for r in runs}
        assert by_template[LEADER]["tied_with_best"] is True and by_template[WORSE]["tied_with_best"] is False
        assert by_template[NOISE]["ci_low"] == pytest.approx(_interval(_expected()[NOISE])[0], abs=1e-6)
        detail = admin.get(f"/api/v1/runs/{by_template[NOISE]['id']}").json()
        assert detail["sample_scores"] == dict(zip(SAMPLES, _expected()[NOISE], strict=True))
        assert detail["tied_with_best"] is True and detail["ci_high"] == board[1]["ci_high"]

        paired = admin.get(f"/api/v1/runs/{by_template[LEADER]['id']}/paired-difference/"
                           f"{by_template[WORSE]['id']}").json()
        assert paired["samples"] == 12 and paired["diff"] == -1.0 and paired["significant"] is True
        assert (paired["ci_low"], paired["ci_high"]) == (-1.0, -1.0)
        assert paired["p_value"] == pytest.approx(sps.wilcoxon([1.0] * 12, [0.0] * 12).pvalue, abs=1e-6)
        missing = admin.get(f"/api/v1/runs/{by_template[LEADER]['id']}/paired-difference/{experiment_id}")
        assert missing.status_code == 404 and missing.json()["code"]

        best = admin.get(f"/api/v1/experiments/{experiment_id}/export/best").json()
        significance = best["significance"]
        assert significance["runner_up_run_id"] == by_template[NOISE]["id"] and significance["samples"] == 12
        assert significance["p_value"] == pytest.approx(
            sps.wilcoxon(_expected()[NOISE], _expected()[LEADER]).pvalue, abs=1e-6)
        assert significance["significantly_better"] is False, "the runner-up differs on one sample: noise"
        assert significance["diff"] == pytest.approx(1 / 12, abs=1e-6)
        report = admin.get(f"/api/v1/experiments/{experiment_id}/export/report").text
        assert "Significance: NOT significantly better than the runner-up" in report
        assert "| tied (p=" in report and "| worse (p=" in report
        env = admin.get(f"/api/v1/experiments/{experiment_id}/export/env").text
        assert "# Significance: NOT significantly better" in env
        doc = yaml.safe_load(admin.get(f"/api/v1/experiments/{experiment_id}/export/yaml").text)
        assert doc["metadata"]["significance"]["significantly_better"] is False

        # Exporting the clearly worse configuration: against the leader it is significantly NOT better.
        worse = admin.get(f"/api/v1/experiments/{experiment_id}/export/best",
                          params={"run_id": by_template[WORSE]["id"]}).json()["significance"]
        assert worse["runner_up_run_id"] == by_template[LEADER]["id"] and worse["diff"] == -1.0
        assert worse["p_value"] < 0.05 and worse["significantly_better"] is False

        # Repeats: a configuration's samples average over its runs; the interval stays over the 12 samples.
        again = admin.post(f"/api/v1/experiments/{experiment_id}/sweep", json={"type": "grid", "repeats": 2})
        assert again.status_code == 202, again.text
        wait_status(admin, experiment_id)
        repeated = admin.get(f"/api/v1/experiments/{experiment_id}/leaderboard").json()["items"]
        assert all(e["runs"] >= 2 for e in repeated)
        assert [(e["samples"], e["ci_low"], e["ci_high"], e["tied_with_best"]) for e in repeated] == [
            (e["samples"], e["ci_low"], e["ci_high"], e["tied_with_best"]) for e in board]
