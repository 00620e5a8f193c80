"""The Docker deployment files follow the project's conventions and cover every setting.

No Docker engine is needed: docker-compose.yml, .env.example, the Dockerfile, nginx.conf and the
entrypoint are read as text/YAML (schema validation and hadolint run in `make lint`).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptlooper.config import DEFAULT_SECRET_VALUES, Settings
from promptlooper.queue import coordination

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
NGINX = ROOT / "docker" / "nginx.conf"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
DOCKERIGNORE = ROOT / ".dockerignore"

SERVICES = {"promptlooper-db", "promptlooper-redis", "promptlooper-api", "promptlooper-worker", "promptlooper-web"}
BIND_PREFIX = "/vmPool/r/services/promptlooper_"
SETTINGS_VARS = {name.upper() for name in Settings.model_fields}
# Variables only docker-compose.yml reads (interpolation), documented in .env.example too.
COMPOSE_ONLY_VARS = {"POSTGRES_PASSWORD", "WORKER_EXTRA_REPLICAS"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment is written as a mapping"
    return {key: str(value) for key, value in env.items()}


def example_vars() -> dict[str, str]:
    """NAME -> value of every `NAME=value` line of .env.example, commented out or not."""
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#?\s?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found.setdefault(match.group(1), match.group(2))
    return found


def stages() -> list[tuple[str, str, list[str]]]:
    """(image, stage name, instructions) of every FROM in the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    result: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)$", line, re.IGNORECASE)
        if match:
            result.append((match.group(1), match.group(2), []))
        elif result:
            result[-1][2].append(line)
    return result


# ---- docker-compose.yml ---------------------------------------------------------------------


def test_project_name_and_network(compose: dict[str, Any]) -> None:
    assert compose["name"] == "xpltd_promptlooper"
    network = compose["networks"]["promptlooper"]
    assert network["name"] == "promptlooper"
    assert network.get("driver", "bridge") == "bridge"
    assert [c["subnet"] for c in network["ipam"]["config"]] == ["172.33.0.0/24"]


def test_services_and_container_names(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == SERVICES | {"promptlooper-worker-scale"}
    for name, service in services.items():
        assert service.get("networks") == ["promptlooper"], name
        assert service.get("restart") == "unless-stopped", name
        if name == "promptlooper-worker-scale":
            # Extra workers, opt-in: Docker cannot give several containers one name.
            assert "container_name" not in service and service["profiles"] == ["scale"]
            assert service["deploy"]["replicas"] == "${WORKER_EXTRA_REPLICAS:-1}"
            assert {k: v for k, v in service.items() if k not in ("profiles", "deploy")} == {
                k: v for k, v in services["promptlooper-worker"].items() if k != "container_name"}
        else:
            assert service["container_name"] == name
            assert "profiles" not in service


def test_images_and_ports(services: dict[str, dict[str, Any]]) -> None:
    assert services["promptlooper-db"]["image"] == "postgres:16-alpine"
    assert services["promptlooper-db"]["ports"] == ["5434:5432"]
    assert services["promptlooper-redis"]["image"] == "redis:7-alpine"
    assert "ports" not in services["promptlooper-redis"]
    assert services["promptlooper-web"]["ports"] == ["8400:80"]
    assert services["promptlooper-api"]["ports"] == ["8401:8401"]  # MCP; HTTP goes through the web
    assert "ports" not in services["promptlooper-worker"]
    published = [p.split(":")[-2] for s in services.values() for p in s.get("ports", [])]
    assert sorted(published) == ["5434", "8400", "8401"]


def test_app_image_and_commands(services: dict[str, dict[str, Any]]) -> None:
    api, worker, web = services["promptlooper-api"], services["promptlooper-worker"], services["promptlooper-web"]
    for service in (api, worker, web):
        assert service["build"]["context"] == "."
        assert service["build"]["dockerfile"] == "docker/Dockerfile"
    assert api["image"] == worker["image"]
    assert api["build"] == worker["build"]
    assert api["build"]["target"] == "runtime"
    assert web["build"]["target"] == "web"
    assert api["command"] == ["promptlooper", "serve"]
    assert worker["command"] == ["promptlooper", "worker"]
    assert {name for _, name, _ in stages()} >= {"runtime", "web"}


def test_bind_mounts_under_vmpool(services: dict[str, dict[str, Any]], compose: dict[str, Any]) -> None:
    assert "volumes" not in compose, "persistent data is bind-mounted, not in named volumes"
    mounts = {name: service.get("volumes", []) for name, service in services.items()}
    for name, volumes in mounts.items():
        for volume in volumes:
            assert isinstance(volume, str)
            assert volume.startswith(BIND_PREFIX), (name, volume)
    assert mounts["promptlooper-db"] == [f"{BIND_PREFIX}db:/var/lib/postgresql/data"]
    assert mounts["promptlooper-redis"] == [f"{BIND_PREFIX}redis:/data"]
    assert mounts["promptlooper-api"] == [f"{BIND_PREFIX}data:/data"]
    assert mounts["promptlooper-worker"] == [f"{BIND_PREFIX}data:/data"]


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        for key in ("interval", "timeout", "retries", "start_period"):
            assert key in check, (name, key)
    assert services["promptlooper-api"]["healthcheck"]["test"] == ["CMD", "docker-entrypoint", "health", "api"]
    assert services["promptlooper-worker"]["healthcheck"]["test"] == ["CMD", "docker-entrypoint", "health", "worker"]


def test_depends_on_waits_for_healthy_services(services: dict[str, dict[str, Any]]) -> None:
    expected = {
        "promptlooper-db": set(),
        "promptlooper-redis": set(),
        "promptlooper-api": {"promptlooper-db", "promptlooper-redis"},
        # After the API is healthy, i.e. has migrated the database; the API's health does not need
        # a live worker, so this is no cycle.
        "promptlooper-worker": {"promptlooper-db", "promptlooper-redis", "promptlooper-api"},
        "promptlooper-worker-scale": {"promptlooper-db", "promptlooper-redis", "promptlooper-api"},
        "promptlooper-web": {"promptlooper-api"},
    }
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        assert set(depends) == expected[name], name
        for dependency, spec in depends.items():
            assert spec == {"condition": "service_healthy"}, (name, dependency)


def test_app_environment(services: dict[str, dict[str, Any]]) -> None:
    api, worker = env_of(services["promptlooper-api"]), env_of(services["promptlooper-worker"])
    for env in (api, worker):
        assert set(env) <= SETTINGS_VARS, f"not a setting: {set(env) - SETTINGS_VARS}"
        assert re.fullmatch(r"postgresql://promptlooper:\$\{POSTGRES_PASSWORD:\?[^}]*\}@promptlooper-db:5432/promptlooper",
                            env["DATABASE_URL"])
        assert env["REDIS_URL"] == "redis://promptlooper-redis:6379/0"
        assert env["JWT_SECRET"].startswith("${JWT_SECRET:?")
        assert env["ENCRYPTION_KEY"].startswith("${ENCRYPTION_KEY:?")
        assert env["DATA_DIR"] == "/data"
        assert env["PORT"] == "8400"
        assert env["MCP_PORT"] == "8401"
    assert api["AUTO_MIGRATE"] == "true"  # only the API migrates: concurrent migrations would race
    assert worker["AUTO_MIGRATE"] == "false"
    db_env = env_of(services["promptlooper-db"])
    assert db_env["POSTGRES_USER"] == "promptlooper" and db_env["POSTGRES_DB"] == "promptlooper"
    assert db_env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_compose_variables_are_documented() -> None:
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    assert used <= set(example_vars()), f"undocumented in .env.example: {used - set(example_vars())}"
    assert used - SETTINGS_VARS <= COMPOSE_ONLY_VARS


# ---- .env.example ---------------------------------------------------------------------------


def test_env_example_names_every_setting() -> None:
    documented = set(example_vars())
    missing = SETTINGS_VARS - documented
    assert not missing, f".env.example lacks {sorted(missing)}"
    stale = documented - SETTINGS_VARS - COMPOSE_ONLY_VARS
    assert not stale, f".env.example names unknown variables {sorted(stale)}"


def test_env_example_has_a_comment_for_every_variable() -> None:
    lines = ENV_EXAMPLE.read_text().splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^#?\s?([A-Z][A-Z0-9_]*)=", line)
        if not match:
            continue
        # Walk up past neighbouring variable lines (a documented pair like LLM_TIMEOUT_S/LLM_MAX_RETRIES).
        above = index - 1
        while above >= 0 and re.match(r"^#?\s?[A-Z][A-Z0-9_]*=", lines[above]):
            above -= 1
        assert above >= 0 and lines[above].startswith("# ") and len(lines[above]) > 4, match.group(1)


def test_env_example_ships_no_secret() -> None:
    values = example_vars()
    for name in ("JWT_SECRET", "ENCRYPTION_KEY", "API_KEY", "DEFAULT_ENDPOINT_KEY", "POSTGRES_PASSWORD"):
        assert values[name].strip().lower() in DEFAULT_SECRET_VALUES, name
    text = ENV_EXAMPLE.read_text()
    assert "secrets.token_urlsafe" in text
    assert "Fernet.generate_key()" in text


def test_env_example_does_not_override_the_image_defaults() -> None:
    """Only the empty compose-required values are uncommented: `--env-file .env` changes nothing else."""
    active = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            active[match.group(1)] = match.group(2)
    assert active == {"POSTGRES_PASSWORD": "", "JWT_SECRET": "", "ENCRYPTION_KEY": ""}


# ---- docker/Dockerfile ----------------------------------------------------------------------


def test_dockerfile_runtime_stage() -> None:
    all_stages = stages()
    image, name, instructions = all_stages[-1]
    assert (image, name) == ("python:3.12-slim", "runtime"), "the default (last) stage is the runtime"
    assert all_stages[0][0].startswith("node:"), "the dashboard is built with Node"
    joined = "\n".join(instructions)
    users = [line.split()[1] for line in instructions if line.upper().startswith("USER ")]
    assert users, "the runtime sets a USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), "the runtime runs as a non-root user"
    assert re.search(r"^HEALTHCHECK .*CMD ", joined, re.MULTILINE)
    assert "DATA_DIR=/data" in joined
    assert "DASHBOARD_DIR=/app/frontend/dist" in joined
    assert re.search(r'^VOLUME \["/data"\]', joined, re.MULTILINE)
    assert re.search(r"^EXPOSE 8400 8401$", joined, re.MULTILINE)
    assert re.search(r'^CMD \["promptlooper", "serve"\]$', joined, re.MULTILINE)
    assert re.search(r'^ENTRYPOINT \["docker-entrypoint"\]$', joined, re.MULTILINE)
    assert "/app/frontend/dist" in joined


def test_dockerfile_installs_the_locked_dependencies() -> None:
    text = DOCKERFILE.read_text()
    assert "uv.lock" in text
    assert len(re.findall(r"uv sync --frozen --no-dev", text)) == 2
    assert "npm ci" in text


def test_dockerfile_uv_matches_the_makefile() -> None:
    makefile = (ROOT / "Makefile").read_text()
    make_version = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", makefile, re.MULTILINE)
    docker_version = re.search(r"^ARG UV_VERSION=(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert make_version and docker_version
    assert docker_version.group(1) == make_version.group(1)


def test_locked_runtime_dependencies_run_the_worker() -> None:
    """The image installs only the locked runtime dependencies (`uv sync --no-dev`). kombu's Redis
    transport, which the worker and the API's queue load, imports `packaging`: only kombu's `redis`
    extra brings it (depend on `celery[redis]`), so a dev tool must not be what provides it."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages: dict[str, list[dict[str, Any]]] = {}
    for package in lock["package"]:
        packages.setdefault(package["name"], []).append(package)
    seen: set[tuple[str, str | None]] = set()
    todo: list[tuple[str, str | None]] = [("promptlooper", None)]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        for package in packages.get(name, []):
            deps = package.get("dependencies", []) if extra is None else package.get("optional-dependencies", {}).get(extra, [])
            for dep in deps:
                todo.append((dep["name"], None))
                todo.extend((dep["name"], dep_extra) for dep_extra in dep.get("extra", []))
    runtime = {name for name, _ in seen}
    missing = {"celery", "kombu", "redis", "packaging"} - runtime
    assert not missing, f"not in the image's locked runtime dependencies: {sorted(missing)}"


def test_dockerignore_keeps_secrets_and_state_out() -> None:
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    assert {".env", ".venv", ".git", "data", "**/node_modules", "frontend/dist"} <= patterns


# ---- docker/nginx.conf ----------------------------------------------------------------------


def test_nginx_proxies_the_api_and_serves_the_spa() -> None:
    text = NGINX.read_text()
    assert "set $api http://promptlooper-api:8400;" in text
    for location in ("location /api/", "location /ws/", "location = /health"):
        block = text.split(location, 1)[1].split("}", 1)[0]
        assert "proxy_pass $api;" in block, location
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header Connection $connection_upgrade;" in text
    ws_block = text.split("location /ws/", 1)[1].split("}", 1)[0]
    assert re.search(r"proxy_read_timeout \d{4,}s;", ws_block)
    assert "try_files $uri /index.html;" in text
    assert "location /assets/" in text and "immutable" in text
    assert re.search(r"^\s*gzip on;", text, re.MULTILINE)
    # nginx accepts the bodies the API accepts.
    limit = re.search(r"client_max_body_size (\d+)m;", text)
    assert limit and int(limit.group(1)) * 1024 * 1024 == Settings.model_fields["max_body_bytes"].default


def test_nginx_config_is_valid(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if nginx is None:  # .ci/run installs Debian's nginx-light
        message = "nginx is not installed (apt-get install nginx-light) to check docker/nginx.conf"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + "; CI=true requires it", pytrace=False)
        pytest.skip(message)
    main = tmp_path / "nginx.conf"
    temp = " ".join(f"{kind}_temp_path {tmp_path / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main.write_text(f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\n"
                    f"http {{ access_log off; {temp} include {NGINX}; }}\n")
    result = subprocess.run([nginx, "-t", "-c", str(main)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


# ---- docker/entrypoint.sh -------------------------------------------------------------------


def test_entrypoint_is_executable_posix_shell() -> None:
    assert os.access(ENTRYPOINT, os.X_OK)
    assert ENTRYPOINT.read_text().startswith("#!/bin/sh\n")
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True, timeout=30)


def test_entrypoint_worker_health_uses_the_heartbeat_names() -> None:
    """The worker healthcheck reads the heartbeats /health counts: the names it imports must exist."""
    match = re.search(r"from promptlooper\.queue\.coordination import ([\w, ]+)", ENTRYPOINT.read_text())
    assert match
    for name in (part.strip() for part in match.group(1).split(",")):
        assert hasattr(coordination, name), name
    assert coordination.worker_name().startswith(socket.gethostname() + ":")
