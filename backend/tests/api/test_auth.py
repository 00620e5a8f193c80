"""Auth: first-boot setup, login (JSON and form), tokens, API keys, guests and throttling."""

from __future__ import annotations

from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.support.environment import ADMIN, bearer


def test_setup_creates_admin_once(client: TestClient) -> None:
    assert client.get("/api/v1/auth/status").json() == {"setup_required": True, "guest_access": False}
    first = client.post("/api/v1/auth/setup", json=ADMIN)
    assert client.get("/api/v1/auth/status").json() == {"setup_required": False, "guest_access": False}
    assert first.status_code == 201
    body = first.json()
    assert body["token_type"] == "bearer" and body["access_token"]
    assert body["user"]["username"] == "admin" and body["user"]["role"] == "admin" and body["user"]["is_admin"]
    again = client.post("/api/v1/auth/setup", json={"username": "other", "password": "another-password"})
    assert again.status_code == 409
    assert again.json()["code"] == "setup_already_done"


def test_setup_rejects_short_password_and_bad_json(client: TestClient) -> None:
    short = client.post("/api/v1/auth/setup", json={"username": "admin", "password": "x"})
    assert short.status_code == 422 and short.json()["code"] == "validation_error"
    assert short.json()["detail"][0]["loc"][-1] == "password"
    broken = client.post("/api/v1/auth/setup", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 422 and broken.json()["code"] == "validation_error"


def test_login_json_and_form_and_me(client: TestClient, admin_token: str) -> None:
    as_json = client.post("/api/v1/auth/login", json=ADMIN)
    assert as_json.status_code == 200
    as_form = client.post("/api/v1/auth/login", data=ADMIN)
    assert as_form.status_code == 200
    me = client.get("/api/v1/auth/me", headers=bearer(as_form.json()["access_token"]))
    assert me.status_code == 200
    assert me.json()["username"] == "admin" and me.json()["role"] == "admin"


def test_login_wrong_password_is_401_then_429(client: TestClient, admin_token: str) -> None:
    wrong = {"username": "admin", "password": "wrong-password"}
    for _ in range(5):
        response = client.post("/api/v1/auth/login", json=wrong)
        assert response.status_code == 401 and response.json()["code"] == "invalid_credentials"
    locked = client.post("/api/v1/auth/login", json=ADMIN)
    assert locked.status_code == 429
    assert locked.json()["code"] == "too_many_login_attempts"
    assert int(locked.headers["Retry-After"]) > 0


def test_login_missing_fields_is_422(client: TestClient) -> None:
    response = client.post("/api/v1/auth/login", json={"username": "admin"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "password"]


def test_me_needs_credentials(client: TestClient, admin_token: str) -> None:
    assert client.get("/api/v1/auth/me").status_code == 401
    bad = client.get("/api/v1/auth/me", headers=bearer("not-a-jwt"))
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_token"
    forged = client.get("/api/v1/auth/me", headers=bearer("pl_forged"))
    assert forged.status_code == 401 and forged.json()["code"] == "invalid_api_key"


def test_api_keys_shown_once_stored_hashed_revocable(admin: TestClient, anon: TestClient) -> None:
    created = admin.post("/api/v1/admin/api-keys", json={"name": "ci"})
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("pl_") and len(key) > 40
    page = admin.get("/api/v1/admin/api-keys").json()
    assert page["total"] == 1 and page["limit"] == 50 and page["offset"] == 0
    listed = page["items"]
    assert [k["name"] for k in listed] == ["ci"] and "key" not in listed[0]
    assert anon.get("/api/v1/projects", headers=bearer(key)).status_code == 200
    assert anon.post("/api/v1/projects", json={"name": "by key"}, headers=bearer(key)).status_code == 201
    assert admin.delete(f"/api/v1/admin/api-keys/{created.json()['id']}").status_code == 204
    assert anon.get("/api/v1/projects", headers=bearer(key)).status_code == 401
    assert admin.delete(f"/api/v1/admin/api-keys/{created.json()['id']}").status_code == 404


def test_api_key_never_stored_in_clear(admin: TestClient, settings) -> None:
    import asyncio

    from sqlalchemy import select

    from promptlooper.db import create_engine, make_sessionmaker
    from promptlooper.models import ApiKey

    key = admin.post("/api/v1/admin/api-keys", json={"name": "x"}).json()["key"]

    async def stored() -> list[str]:
        engine = create_engine(settings)
        async with make_sessionmaker(engine)() as session:
            rows = (await session.scalars(select(ApiKey))).all()
            values = [r.key_hash for r in rows] + [r.prefix for r in rows]
        await engine.dispose()
        return values

    values = asyncio.run(stored())
    assert key not in values and len(values[0]) == 64


def test_static_api_key(settings, tmp_path) -> None:
    from promptlooper.main import create_app

    static = settings.model_copy(update={"api_key": SecretStr("static-admin-key-123")})
    with TestClient(create_app(static)) as client:
        assert client.post("/api/v1/projects", json={"name": "p"}, headers=bearer("static-admin-key-123")).status_code == 201
        me = client.get("/api/v1/auth/me", headers=bearer("static-admin-key-123")).json()
        assert me["role"] == "admin"
        assert client.get("/api/v1/projects", headers=bearer("static-admin-key-12")).status_code == 401


def test_guest_access_read_only(admin: TestClient, anon: TestClient) -> None:
    assert anon.get("/api/v1/projects").status_code == 401
    assert admin.put("/api/v1/admin/settings", json={"allow_guest_access": True}).json()["allow_guest_access"]
    assert anon.get("/api/v1/projects").status_code == 200
    assert anon.get("/api/v1/auth/me").json()["role"] == "guest"
    write = anon.post("/api/v1/projects", json={"name": "nope"})
    assert write.status_code == 401
    assert anon.get("/api/v1/admin/settings").status_code == 401  # anonymous: no credentials


def test_read_only_user_gets_403_on_writes(admin: TestClient, anon: TestClient) -> None:
    created = admin.post("/api/v1/admin/users", json={"username": "viewer", "password": "viewer-password"})
    assert created.status_code == 201 and created.json()["role"] == "guest"
    token = anon.post("/api/v1/auth/login", json={"username": "viewer", "password": "viewer-password"}).json()
    headers = bearer(token["access_token"])
    assert anon.get("/api/v1/projects", headers=headers).status_code == 200
    denied = anon.post("/api/v1/projects", json={"name": "x"}, headers=headers)
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
    assert admin.post("/api/v1/admin/users", json={"username": "viewer", "password": "viewer-password"}).status_code == 409
    users = admin.get("/api/v1/admin/users").json()["items"]
    assert {u["username"] for u in users} == {"admin", "viewer"}
    me_id = next(u["id"] for u in users if u["username"] == "admin")
    assert admin.delete(f"/api/v1/admin/users/{me_id}").status_code == 409
