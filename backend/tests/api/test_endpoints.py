"""LLM endpoints: keys encrypted and never returned; the connectivity test in words."""

from __future__ import annotations

import socket
import uuid

from fastapi.testclient import TestClient

from tests.support.llm_server import LLMServer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_endpoint_crud_never_returns_key(admin: TestClient) -> None:
    body = {"label": "local vllm", "url": "http://127.0.0.1:8000/v1/", "api_key": "sk-secret-value",
            "max_concurrency": 8, "pricing": {"m1": {"input_per_1m": 0.5, "output_per_1m": 1.5}}}
    created = admin.post("/api/v1/endpoints", json=body)
    assert created.status_code == 201
    endpoint = created.json()
    assert endpoint["has_api_key"] is True and "api_key" not in endpoint and "sk-secret-value" not in created.text
    assert endpoint["url"] == "http://127.0.0.1:8000/v1"
    assert endpoint["pricing"]["m1"]["output_per_1m"] == 1.5
    listed = admin.get("/api/v1/endpoints")
    assert listed.json()["total"] == 1 and "sk-secret-value" not in listed.text
    cleared = admin.put(f"/api/v1/endpoints/{endpoint['id']}", json={"api_key": "", "label": "renamed"})
    assert cleared.json()["has_api_key"] is False and cleared.json()["label"] == "renamed"
    assert admin.delete(f"/api/v1/endpoints/{endpoint['id']}").status_code == 204
    assert admin.get(f"/api/v1/endpoints/{endpoint['id']}").status_code == 404


def test_endpoint_key_encrypted_at_rest(admin: TestClient, settings) -> None:
    import asyncio

    from sqlalchemy import text

    from promptlooper.db import create_engine

    admin.post("/api/v1/endpoints", json={"label": "e", "url": "http://h/v1", "api_key": "sk-plain-text-key"})

    async def raw() -> str:
        engine = create_engine(settings)
        async with engine.connect() as conn:
            value = (await conn.execute(text("SELECT api_key_encrypted FROM llm_endpoints"))).scalar_one()
        await engine.dispose()
        return str(value)

    stored = asyncio.run(raw())
    assert "sk-plain-text-key" not in stored and len(stored) > 40


def test_endpoint_validation(admin: TestClient, anon: TestClient) -> None:
    assert admin.post("/api/v1/endpoints", json={"label": "x", "url": "not a url"}).status_code == 422
    assert admin.post("/api/v1/endpoints", json={"label": "x", "url": "http://h", "max_concurrency": 0}).status_code == 422
    negative = {"label": "x", "url": "http://h", "pricing": {"m": {"input_per_1m": -1}}}
    assert admin.post("/api/v1/endpoints", json=negative).status_code == 422
    assert admin.post(f"/api/v1/endpoints/{uuid.uuid4()}/test").status_code == 404
    assert anon.post("/api/v1/endpoints", json={"label": "x", "url": "http://h"}).status_code == 401


def test_endpoint_test_ok_against_loopback_server(admin: TestClient) -> None:
    with LLMServer(models=["m1", "m2"], required_api_key="sk-good") as server:
        endpoint = admin.post("/api/v1/endpoints",
                              json={"label": "mock", "url": server.base_url, "api_key": "sk-good"}).json()
        result = admin.post(f"/api/v1/endpoints/{endpoint['id']}/test")
        assert result.status_code == 200
        body = result.json()
        assert body["ok"] is True and body["models"] == ["m1", "m2"] and body["latency_ms"] >= 0


def test_endpoint_test_reports_401_in_words(admin: TestClient) -> None:
    with LLMServer(models=["m1"], required_api_key="sk-good") as server:
        endpoint = admin.post("/api/v1/endpoints",
                              json={"label": "mock", "url": server.base_url, "api_key": "sk-bad"}).json()
        body = admin.post(f"/api/v1/endpoints/{endpoint['id']}/test").json()
        assert body["ok"] is False and "401" in body["error"] and "key" in body["error"].lower()


def test_endpoint_test_reports_refused_connection(admin: TestClient) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    endpoint = admin.post("/api/v1/endpoints", json={"label": "down", "url": url}).json()
    body = admin.post(f"/api/v1/endpoints/{endpoint['id']}/test").json()
    assert body["ok"] is False and "refused" in body["error"].lower()


def test_endpoint_test_reports_timeout(admin: TestClient) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections, never answers
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        endpoint = admin.post("/api/v1/endpoints", json={"label": "silent", "url": url}).json()
        body = admin.post(f"/api/v1/endpoints/{endpoint['id']}/test").json()
        assert body["ok"] is False and "timed out" in body["error"].lower()
    finally:
        listener.close()
