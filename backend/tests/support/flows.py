"""Helpers that drive the API through common flows in tests."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient


def make_endpoint(client: TestClient, base_url: str, **extra: Any) -> str:
    """Register a loopback endpoint and answer its id."""
    body = {"label": "mock", "url": base_url, "max_concurrency": 16} | extra
    response = client.post("/api/v1/endpoints", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def make_experiment(client: TestClient, endpoint_id: str, *, samples: int = 3, models: list[str] | None = None,
                    temperatures: list[float] | None = None, stages: list[dict[str, Any]] | None = None,
                    scoring: list[dict[str, Any]] | None = None, space: dict[str, Any] | None = None) -> str:
    """Create a project and an experiment on the endpoint; answer the experiment id."""
    project_id = client.post("/api/v1/projects", json={"name": "flow"}).json()["id"]
    doc = {
        "project_id": project_id, "name": "flow",
        "sample_data": [{"id": f"s{i}", "input": f"sample number {i} about alpha"} for i in range(samples)],
        "pipeline_stages": stages or [{"name": "answer", "endpoint_id": endpoint_id, "model": "m1",
                                       "prompt_template": "Answer: {{ input }}", "params": {"temperature": 0.5}}],
        "scoring_config": scoring if scoring is not None else [
            {"scorer": "keyword", "weight": 1.0, "config": {"keywords": ["m2"], "mode": "any"}},
            {"scorer": "length", "weight": 1.0, "config": {"max_words": 40}},
        ],
        "parameter_space": space if space is not None else {
            "model": models or ["m1", "m2"], "temperature": temperatures or [0.1, 0.9]},
    }
    response = client.post("/api/v1/experiments", json=doc)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def wait_status(client: TestClient, experiment_id: str, wanted: tuple[str, ...] = ("completed",),
                timeout_s: float = 60.0) -> dict[str, Any]:
    """Poll the experiment until its status is one of `wanted`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        experiment = client.get(f"/api/v1/experiments/{experiment_id}").json()
        if experiment["status"] in wanted:
            return dict(experiment)
        time.sleep(0.05)
    raise AssertionError(f"experiment stayed {experiment['status']} (wanted {wanted})")


def events(client: TestClient, experiment_id: str, after: int = 0) -> list[dict[str, Any]]:
    """Every persisted event of an experiment."""
    out: list[dict[str, Any]] = []
    while True:
        page = client.get(f"/api/v1/experiments/{experiment_id}/events", params={"after": after, "limit": 1000}).json()
        out.extend(page["items"])
        if not page["items"]:
            return out
        after = page["next_after"]


def wait_event(client: TestClient, experiment_id: str, event_type: str, timeout_s: float = 10.0,
               sweep_id: str | None = None) -> list[dict[str, Any]]:
    """Poll the events until one of the given type (of `sweep_id`, when given) is persisted; answer them all."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = events(client, experiment_id)
        if any(e["type"] == event_type and sweep_id in (None, e.get("sweep_id")) for e in found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {event_type} event within {timeout_s}s")


def wait_until(predicate: Any, what: str, timeout_s: float = 30.0) -> None:
    """Poll `predicate` every 20 ms until it is true; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
