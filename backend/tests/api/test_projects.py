"""Projects CRUD, pagination and errors."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient


def test_project_crud(admin: TestClient) -> None:
    created = admin.post("/api/v1/projects", json={"name": "Chrysopedia", "description": "extraction"})
    assert created.status_code == 201
    project = created.json()
    assert project["name"] == "Chrysopedia" and project["created_at"].endswith("Z")
    uuid.UUID(project["id"])
    detail = admin.get(f"/api/v1/projects/{project['id']}").json()
    assert detail["experiments"] == [] and detail["experiment_count"] == 0
    updated = admin.put(f"/api/v1/projects/{project['id']}", json={"notes": "try qwen"})
    assert updated.status_code == 200 and updated.json()["notes"] == "try qwen"
    assert updated.json()["name"] == "Chrysopedia"
    assert admin.delete(f"/api/v1/projects/{project['id']}").status_code == 204
    gone = admin.get(f"/api/v1/projects/{project['id']}")
    assert gone.status_code == 404 and gone.json()["code"] == "project_not_found"


def test_project_pagination(admin: TestClient) -> None:
    for index in range(5):
        admin.post("/api/v1/projects", json={"name": f"p{index}"})
    page = admin.get("/api/v1/projects", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 1 and len(page["items"]) == 2
    assert admin.get("/api/v1/projects", params={"limit": 0}).status_code == 422
    assert admin.get("/api/v1/projects", params={"limit": "many"}).status_code == 422


def test_project_errors(admin: TestClient, anon: TestClient) -> None:
    assert admin.post("/api/v1/projects", json={}).status_code == 422
    assert admin.post("/api/v1/projects", json={"name": ""}).status_code == 422
    assert admin.post("/api/v1/projects", json={"name": 5}).status_code == 422
    assert admin.get("/api/v1/projects/not-a-uuid").status_code == 422
    assert admin.put(f"/api/v1/projects/{uuid.uuid4()}", json={"name": "x"}).status_code == 404
    assert admin.delete(f"/api/v1/projects/{uuid.uuid4()}").status_code == 404
    assert anon.get("/api/v1/projects").status_code == 401
    assert anon.post("/api/v1/projects", json={"name": "x"}).status_code == 401
