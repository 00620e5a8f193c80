"""Webhook configurations."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient


def test_webhook_crud_hides_header_values(admin: TestClient, anon: TestClient) -> None:
    body = {"event_type": "new_best_found", "url": "https://hooks.example.test/x",
            "headers": {"Authorization": "Bearer hook-secret"}}
    created = admin.post("/api/v1/webhooks", json=body)
    assert created.status_code == 201
    assert created.json()["header_names"] == ["Authorization"] and "hook-secret" not in created.text
    listed = admin.get("/api/v1/webhooks").json()
    assert listed["total"] == 1
    assert admin.post("/api/v1/webhooks", json=body | {"event_type": "nope"}).status_code == 422
    assert anon.post("/api/v1/webhooks", json=body).status_code == 401
    assert admin.delete(f"/api/v1/webhooks/{created.json()['id']}").status_code == 204
    assert admin.delete(f"/api/v1/webhooks/{uuid.uuid4()}").status_code == 404
