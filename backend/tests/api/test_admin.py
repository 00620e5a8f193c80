"""Admin settings, stats and health."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient


def test_settings_defaults_and_update(admin: TestClient) -> None:
    current = admin.get("/api/v1/admin/settings").json()
    assert current == {"allow_guest_access": False, "default_endpoint_id": None,
                       "max_concurrent_runs": 4, "max_tokens_per_sweep": 0}
    updated = admin.put("/api/v1/admin/settings", json={"max_concurrent_runs": 8, "max_tokens_per_sweep": 1000})
    assert updated.status_code == 200
    assert updated.json()["max_concurrent_runs"] == 8 and updated.json()["max_tokens_per_sweep"] == 1000
    assert admin.get("/api/v1/admin/settings").json()["max_concurrent_runs"] == 8


def test_settings_validation(admin: TestClient, anon: TestClient) -> None:
    assert admin.put("/api/v1/admin/settings", json={"max_concurrent_runs": 0}).status_code == 422
    assert admin.put("/api/v1/admin/settings", json={"unknown": 1}).status_code == 422
    missing = admin.put("/api/v1/admin/settings", json={"default_endpoint_id": str(uuid.uuid4())})
    assert missing.status_code == 400 and missing.json()["code"] == "endpoint_not_found"
    assert anon.put("/api/v1/admin/settings", json={"max_concurrent_runs": 2}).status_code == 401


def test_default_endpoint_setting(admin: TestClient) -> None:
    endpoint = admin.post("/api/v1/endpoints", json={"label": "e", "url": "http://127.0.0.1:9/v1"}).json()
    answer = admin.put("/api/v1/admin/settings", json={"default_endpoint_id": endpoint["id"]})
    assert answer.json()["default_endpoint_id"] == endpoint["id"]
    assert admin.delete(f"/api/v1/endpoints/{endpoint['id']}").status_code == 204
    assert admin.get("/api/v1/admin/settings").json()["default_endpoint_id"] is None


def test_stats(admin: TestClient, anon: TestClient) -> None:
    admin.post("/api/v1/projects", json={"name": "p"})
    stats = admin.get("/api/v1/admin/stats").json()
    assert stats["users"] == 1 and stats["projects"] == 1 and stats["runs"] == 0
    assert stats["cache"]["entries"] == 0 and stats["cache"]["hit_rate"] == 0.0
    assert anon.get("/api/v1/admin/stats").status_code == 401


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["queue"] == "in-process" and body["redis"] == "disabled" and body["version"]


def test_unknown_route_and_method_shapes(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found", "code": "not_found"}
    wrong = client.patch("/health")
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"


def test_oversized_body_is_413(admin: TestClient) -> None:
    huge = "x" * (11 * 1024 * 1024)
    response = admin.post("/api/v1/projects", content=('{"name": "' + huge + '"}').encode(),
                          headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"


def test_nul_and_nan_rejected(admin: TestClient) -> None:
    nul = admin.post("/api/v1/projects", json={"name": "a\x00b"})
    assert nul.status_code == 422
    nan = admin.post("/api/v1/endpoints", content=b'{"label":"x","url":"http://h/v1","pricing":{"m":{"input_per_1m":NaN}}}',
                     headers={"content-type": "application/json"})
    assert nan.status_code == 422
