"""Bad bytes and oversized bodies are a 4xx on every route, never a 500 (SQLite and Postgres)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from promptlooper.main import create_app
from tests.support.flows import make_endpoint, make_experiment


@pytest.mark.parametrize("query", ["sort=%00", "status=%00", "sort=created_at%00", "unknown=%00", "%00=1",
                                   "limit=1&offset=0&sort=%C0%AF", "sort=%ED%A0%80"])
def test_nul_and_invalid_utf8_in_any_query_parameter_is_a_422(admin: TestClient, query: str) -> None:
    experiment_id = make_experiment(admin, make_endpoint(admin, "http://127.0.0.1:9/v1"), samples=1)
    for path in (f"/api/v1/experiments/{experiment_id}/runs", f"/api/v1/experiments/{experiment_id}/leaderboard",
                 "/api/v1/experiments", "/api/v1/projects", f"/api/v1/experiments/{experiment_id}/events",
                 "/api/v1/endpoints", "/health"):
        answer = admin.get(f"{path}?{query}")
        assert answer.status_code == 422, f"{path}?{query}: {answer.status_code} {answer.text}"
        body = answer.json()
        assert body["code"] == "validation_error" and body["detail"][0]["type"] == "invalid_characters"
        assert body["detail"][0]["loc"][0] == "query"


def test_guests_get_a_422_too_and_ordinary_queries_still_work(admin: TestClient, anon: TestClient) -> None:
    admin.put("/api/v1/admin/settings", json={"allow_guest_access": True})
    experiment_id = make_experiment(admin, make_endpoint(admin, "http://127.0.0.1:9/v1"), samples=1)
    assert anon.get(f"/api/v1/experiments/{experiment_id}/runs?sort=%00").status_code == 422
    assert admin.get(f"/api/v1/experiments/{experiment_id}/runs?sort=created_at&q=caf%C3%A9").status_code == 200


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b" " * piece


@pytest.fixture
def small_body_client(settings) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(settings.model_copy(update={"max_body_bytes": 256 * 1024}))) as client:
        yield client


def test_a_chunked_body_over_the_limit_is_413_and_one_under_it_works(small_body_client: TestClient) -> None:
    client = small_body_client
    headers = {"content-type": "application/json"}
    for path in ("/api/v1/auth/setup", "/api/v1/auth/login"):  # a body model (FastAPI parses) and a raw body
        over = client.post(path, content=_chunks(300 * 1024), headers=headers)
        assert over.status_code == 413 and over.json()["code"] == "payload_too_large", over.text
        assert "content-length" not in over.request.headers  # sent chunked
        declared = client.post(path, content=b" " * (300 * 1024), headers=headers)
        assert declared.status_code == 413

    def setup_body() -> Iterator[bytes]:
        yield b'{"username": "admin", '
        yield b'"password": "correct-horse-battery"}'

    assert client.post("/api/v1/auth/setup", content=setup_body(), headers=headers).status_code == 201

    def body() -> Iterator[bytes]:
        yield b'{"username": "admin", '
        yield b'"password": "correct-horse-battery"}'

    under = client.post("/api/v1/auth/login", content=body(), headers=headers)
    assert under.status_code == 200, under.text
