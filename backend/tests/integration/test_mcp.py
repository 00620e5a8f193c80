"""The MCP server end to end, driven by the SDK's own client over streamable HTTP and over stdio."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.shared.exceptions import MCPError
from mcp_types import TextResourceContents

from promptlooper.auth import Principal
from promptlooper.config import Settings
from promptlooper.db import create_engine, run_migrations, session_scope
from promptlooper.mcp.bootstrap import open_app
from promptlooper.mcp.http import start_mcp_http
from promptlooper.services import auth as auth_service
from tests.support.environment import ADMIN, TEST_FERNET_KEY, base_settings
from tests.support.llm_server import LLMServer
from tests.support.mcp_client import call, http_session, stdio_session, tool_text
from tests.support.webhook_receiver import WebhookReceiver, verify

TOOLS = {
    "create_project", "create_experiment", "configure_endpoint", "run_single", "run_sweep", "get_leaderboard",
    "get_run_detail", "export_best_config", "pause_sweep", "resume_sweep", "add_human_score",
    "get_experiment_status", "list_models", "list_projects", "list_experiments", "stop_sweep", "compare_runs",
    "request_human_review", "fork_experiment", "approve_run", "reject_run", "list_saved_configs", "list_exports",
    "set_project_notes", "redirect_sweep",
    "list_webhooks", "create_webhook", "rotate_webhook_secret", "list_webhook_deliveries",
    "test_webhook",
    "get_sweep", "suggest_configs", "add_sweep_configs", "list_proposals", "approve_proposal", "reject_proposal",
}
UNDEFINED = "Template uses `nonexistent` is not defined: use input, reference, vars.<name>, previous or stages.<name>.output."
JWT_SECRET = "test-jwt-secret-that-is-long-enough-for-hs256"


async def _make_users(settings: Settings) -> dict[str, str]:
    """The admin (JWT and API key) and a read-only user's API key, created through the services."""
    async with open_app(settings) as ctx:
        async with session_scope(ctx.sessionmaker) as session:
            token = await auth_service.setup_admin(session, ctx, ADMIN["username"], ADMIN["password"])
            viewer = await auth_service.create_user(session, "viewer", "viewer-password-1", False)
        admin = Principal(user_id=token.user.id, username=token.user.username, is_admin=True, via="jwt")
        reader = Principal(user_id=viewer.id, username="viewer", is_admin=False, via="jwt")
        async with session_scope(ctx.sessionmaker) as session:
            key = await auth_service.create_api_key(session, admin, "mcp")
            viewer_key = await auth_service.create_api_key(session, reader, "viewer")
    return {"jwt": token.access_token, "key": key.key, "viewer_key": viewer_key.key}


async def migrate(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        await run_migrations(engine)
    finally:
        await engine.dispose()


def _prepare(data_dir: Path) -> tuple[Settings, dict[str, str]]:
    settings = base_settings(data_dir)
    asyncio.run(migrate(settings))
    return settings, asyncio.run(_make_users(settings))


class MCPHost:
    """The MCP HTTP server (with the app runtime) on its own event loop in a background thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = ""
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="mcp-host", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced to the test by start()
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        async with open_app(self.settings, resume_interrupted=True) as ctx:
            handle = await start_mcp_http(ctx, "127.0.0.1", 0)
            self.url, self._loop, self._stop = handle.url, asyncio.get_running_loop(), asyncio.Event()
            self.ready.set()
            await self._stop.wait()
            await handle.stop()

    def start(self) -> MCPHost:
        """Start and wait until the server accepts connections."""
        self._thread.start()
        assert self.ready.wait(30), "the MCP server did not start"
        if self.error is not None:
            raise self.error
        return self

    def stop(self) -> None:
        """Stop the server and its runtime."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    """A loopback OpenAI-compatible server answering with the model name."""
    with LLMServer(latency_s=0.0, models=["m1", "m2"]) as server:
        yield server


@pytest.fixture(scope="module")
def http_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MCPHost, dict[str, str]]]:
    """An MCP HTTP server on a migrated SQLite DATA_DIR, with its credentials."""
    settings, creds = _prepare(tmp_path_factory.mktemp("mcp-http"))
    host = MCPHost(settings).start()
    yield host, creds
    host.stop()


@pytest.fixture(scope="module")
def stdio_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """The environment of a stdio server subprocess on its own migrated DATA_DIR."""
    data_dir = tmp_path_factory.mktemp("mcp-stdio")
    _, creds = _prepare(data_dir)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "API_KEY")}
    env |= {"DATA_DIR": str(data_dir), "JWT_SECRET": JWT_SECRET, "ENCRYPTION_KEY": TEST_FERNET_KEY,
            "PROMPTLOOPER_API_KEY": creds["key"], "LOG_LEVEL": "WARNING", "MCP_ENABLED": "false"}
    return env, data_dir


async def the_example(session: ClientSession, llm: LLMServer) -> dict[str, Any]:
    """The spec's example: project, endpoint, experiment of 2 models x 3 temperatures, sweep, leaderboard, .env."""
    project = await call(session, "create_project", name="Chrysopedia Extraction")
    endpoint = await call(session, "configure_endpoint", label="loopback", url=llm.base_url, max_concurrency=8)
    models = await call(session, "list_models")
    assert {"m1", "m2"} <= set(models["models"]) and models["endpoints"][0]["ok"] is True
    experiment = await call(
        session, "create_experiment", project_id=project["id"], name="stage3 extraction",
        sample_data=[{"id": "s1", "input": "alpha facts"}, {"id": "s2", "input": "beta facts"}],
        pipeline_stages=[{"name": "extract", "endpoint_id": endpoint["id"], "model": "m1",
                          "prompt_template": "Extract: {{ input }}", "params": {"temperature": 0.5}}],
        scoring_config=[{"scorer": "keyword", "config": {"keywords": ["m2"], "mode": "any"}}],
        parameter_space={"model": ["m1", "m2"], "temperature": {"min": 0.1, "max": 0.9, "step": 0.4}},
    )
    experiment_id = experiment["id"]
    sweep = await call(session, "run_sweep", experiment_id=experiment_id, type="grid")
    assert sweep["total_runs"] == 6 and sweep["status"] == "running"
    status: dict[str, Any] = {}
    for _ in range(300):
        status = await call(session, "get_experiment_status", experiment_id=experiment_id)
        if status["status"] == "completed":
            break
        await asyncio.sleep(0.1)
    assert status["status"] == "completed", status
    assert status["progress"]["completed"] == status["progress"]["total"] == 6
    assert status["best"]["weighted_score"] == 1.0
    board = await call(session, "get_leaderboard", experiment_id=experiment_id, limit=10)
    assert len(board["items"]) == 6
    assert board["items"][0]["config"]["stages"][0]["model"] == "m2"
    env = await call(session, "export_best_config", experiment_id=experiment_id, format="env")
    assert "LLM_MODEL=m2" in env.splitlines()
    worst = board["items"][-1]
    diff = await call(session, "compare_runs", run_a=worst["run_id"], run_b=board["items"][0]["run_id"])
    assert diff["scores"]["keyword"]["diff"] == 1.0 and diff["better"] == "b"
    assert any(c["path"] == "stages.extract.model" for c in diff["parameters"]["changed"])
    report = await session.read_resource(f"promptlooper://experiments/{experiment_id}/report")
    assert isinstance(report.contents[0], TextResourceContents)
    assert report.contents[0].text.startswith("# Experiment report: stage3 extraction")
    return {"experiment_id": experiment_id, "project_id": project["id"], "endpoint_id": endpoint["id"]}


async def _bad_input_keeps_session(session: ClientSession, project_id: str, endpoint_id: str) -> None:
    result = await session.call_tool("create_experiment", {
        "project_id": project_id, "name": "broken",
        "pipeline_stages": [{"name": "a", "endpoint_id": endpoint_id, "model": "m1",
                             "prompt_template": "Use {{ nonexistent }}"}],
    })
    assert result.is_error
    assert tool_text(result) == f"Invalid input: pipeline_stages.0.prompt_template: {UNDEFINED}"
    missing = await session.call_tool("get_leaderboard", {"experiment_id": "00000000-0000-0000-0000-000000000000"})
    assert missing.is_error and tool_text(missing) == "Experiment 00000000-0000-0000-0000-000000000000 does not exist."
    assert (await call(session, "list_projects"))["total"] >= 1  # the session still works


async def test_http_tools_and_example_flow(http_host: tuple[MCPHost, dict[str, str]], llm: LLMServer) -> None:
    host, creds = http_host
    async with http_session(host.url, creds["key"]) as session:
        assert session.instructions and "PromptLooper" in session.instructions
        assert TOOLS <= {t.name for t in (await session.list_tools()).tools}
        ids = await the_example(session, llm)
        await _bad_input_keeps_session(session, ids["project_id"], ids["endpoint_id"])
        await _steer_rate_and_review(session, ids["experiment_id"])
        seen: list[tuple[float, float | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append((progress, total))

        result = await session.call_tool("run_sweep", {"experiment_id": ids["experiment_id"], "wait": True},
                                         progress_callback=on_progress)
        assert not result.is_error, tool_text(result)
        waited = result.structured_content or {}
        assert waited["status"]["status"] == "completed" and waited["timed_out"] is False
        assert waited["leaderboard"]["items"][0]["config"]["stages"][0]["model"] == "m2"
        assert seen and seen[-1] == (6, 6)
        await _steering_and_memory(session, ids, llm)


async def _steering_and_memory(session: ClientSession, ids: dict[str, str], llm: LLMServer) -> None:
    experiment_id, project_id = ids["experiment_id"], ids["project_id"]
    board = (await call(session, "get_leaderboard", experiment_id=experiment_id, limit=10))["items"]
    best, worst = board[0], board[-1]
    calls = llm.calls
    fork = await call(session, "fork_experiment", experiment_id=experiment_id, name="forked",
                      changes={"description": "same config, new home"})
    assert fork["forked_from"] == {"experiment_id": experiment_id, "run_id": best["run_id"]}
    assert fork["grid_size"] == 1 and fork["description"] == "same config, new home"
    waited = await call(session, "run_sweep", experiment_id=fork["id"], wait=True)
    assert waited["status"]["status"] == "completed" and llm.calls == calls, "an unchanged fork is all cache hits"
    bad = await session.call_tool("fork_experiment", {"experiment_id": experiment_id})
    assert bad.is_error and "name" in tool_text(bad)

    saved = await call(session, "approve_run", run_id=worst["run_id"], name="kept", note="the cheap one")
    assert saved["run_id"] == worst["run_id"] and saved["approved_by"] == "admin" and saved["name"] == "kept"
    env = await call(session, "export_best_config", experiment_id=experiment_id, format="env")
    assert "LLM_MODEL=m1" in env.splitlines(), "the approved configuration is exported"
    configs = await call(session, "list_saved_configs", project_id=project_id)
    assert configs["total"] == 1 and configs["items"][0]["id"] == saved["id"]
    history = await call(session, "list_exports", project_id=project_id)
    assert history["items"][0] | {"format": "env", "saved_config_id": saved["id"], "user": "admin"} == history["items"][0]
    assert history["total"] >= 3  # the example's export, the best and report resources, this one

    rejected = await call(session, "reject_run", run_id=worst["run_id"])
    assert rejected["rejected"] is True
    env = await call(session, "export_best_config", experiment_id=experiment_id, format="env")
    assert "LLM_MODEL=m2" in env.splitlines(), "a rejected configuration is not exported"
    assert (await call(session, "reject_run", run_id=worst["run_id"], rejected=False))["rejected"] is False
    noted = await call(session, "set_project_notes", project_id=project_id, notes="m1 is good enough")
    assert noted["notes"] == "m1 is good enough"


async def _steer_rate_and_review(session: ClientSession, experiment_id: str) -> None:
    paused = await session.call_tool("pause_sweep", {"experiment_id": experiment_id})
    assert paused.is_error and tool_text(paused) == "No running sweep to pause."
    bad_sweep = await session.call_tool("run_sweep", {"experiment_id": experiment_id, "type": "exhaustive"})
    assert bad_sweep.is_error and tool_text(bad_sweep).startswith("Invalid input: type: Input should be 'grid'")
    run = await call(session, "run_single", experiment_id=experiment_id, overrides={"model": "m2", "temperature": 0.1})
    assert run["status"] == "cached" and run["scores"]["keyword"] == 1.0 and len(run["stage_results"]) == 2
    rated = await call(session, "add_human_score", run_id=run["id"], rating=5, comment="great")
    assert rated["scores"]["human_rating"] == 1.0
    two_ratings = await session.call_tool("add_human_score", {"run_id": run["id"], "rating": 5, "thumbs": "up"})
    assert two_ratings.is_error and "exactly one of value" in tool_text(two_ratings)
    review = await call(session, "request_human_review", experiment_id=experiment_id, reason="Check the winner",
                        context={"runs": [run["id"]]}, run_id=run["id"])
    assert review["ok"] is True and review["type"] == "human_needed"
    best = await session.read_resource(f"promptlooper://experiments/{experiment_id}/best")
    assert isinstance(best.contents[0], TextResourceContents)
    assert json.loads(best.contents[0].text)["model"] == "m2"
    unknown = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(MCPError, match=f"Experiment {unknown} does not exist."):
        await session.read_resource(f"promptlooper://experiments/{unknown}/best")


async def test_http_webhook_tools_and_human_review_notifies(http_host: tuple[MCPHost, dict[str, str]],
                                                            llm: LLMServer) -> None:
    host, creds = http_host
    with WebhookReceiver() as hooks:
        async with http_session(host.url, creds["key"]) as session:
            hook = await call(session, "create_webhook", event_type="human_needed", url=hooks.url,
                              headers={"Authorization": "Bearer receiver-token"})
            assert hook["secret"].startswith("whsec_") and hook["header_names"] == ["Authorization"]
            listed = await call(session, "list_webhooks")
            assert hook["id"] in {h["id"] for h in listed["items"]} and "receiver-token" not in json.dumps(listed)
            ping = await call(session, "test_webhook", webhook_id=hook["id"])
            assert ping["delivered"] is True and ping["status_code"] == 200 and verify(hook["secret"], hooks.requests[0])
            bad = await session.call_tool("create_webhook", {"event_type": "nope", "url": hooks.url})
            assert bad.is_error and tool_text(bad).startswith("Invalid input: event_type:")

            project = await call(session, "create_project", name="review me")
            endpoint = await call(session, "configure_endpoint", label="hooks", url=llm.base_url)
            experiment = await call(session, "create_experiment", project_id=project["id"], name="e",
                                    sample_data=[{"id": "s", "input": "alpha"}],
                                    pipeline_stages=[{"name": "a", "endpoint_id": endpoint["id"], "model": "m1",
                                                      "prompt_template": "Say {{ input }}"}],
                                    scoring_config=[{"scorer": "length", "config": {"max_words": 40}}])
            await call(session, "request_human_review", experiment_id=experiment["id"], reason="Is m2 really better?",
                       context={"look_at": "leaderboard"})
            (review,) = [r for r in hooks.wait_for(lambda seen: len(seen) >= 2) if r.type == "human_needed"]
            assert verify(hook["secret"], review) and review.headers["authorization"] == "Bearer receiver-token"
            assert review.json["experiment_id"] == experiment["id"]
            assert review.json["data"]["reason"] == "Is m2 really better?"
            assert review.json["data"]["context"] == {"look_at": "leaderboard"}
            log: dict[str, Any] = {}
            for _ in range(100):
                log = await call(session, "list_webhook_deliveries", webhook_id=hook["id"])
                if log["total"] == 2 and all(d["delivered"] for d in log["items"]):
                    break
                await asyncio.sleep(0.05)
            assert [d["event_type"] for d in log["items"]] == ["human_needed", "ping"]
            rotated = await call(session, "rotate_webhook_secret", webhook_id=hook["id"])
            assert rotated["secret"] != hook["secret"]
    async with http_session(host.url, creds["viewer_key"]) as viewer:
        refused = await viewer.call_tool("create_webhook", {"event_type": "*", "url": hooks.url})
        assert refused.is_error and "Read-only" in tool_text(refused)


async def test_http_redirect_sweep(http_host: tuple[MCPHost, dict[str, str]], llm: LLMServer) -> None:
    host, creds = http_host
    async with http_session(host.url, creds["key"]) as session:
        project = await call(session, "create_project", name="redirect me")
        endpoint = await call(session, "configure_endpoint", label="redirect", url=llm.base_url)
        experiment = await call(session, "create_experiment", project_id=project["id"], name="r",
                                sample_data=[{"id": "s", "input": "alpha"}],
                                pipeline_stages=[{"name": "a", "endpoint_id": endpoint["id"], "model": "m1",
                                                  "prompt_template": "Redirect me: {{ input }}"}],
                                scoring_config=[{"scorer": "length", "config": {"max_words": 40}}],
                                parameter_space={"temperature": [0.1, 0.2, 0.3]})
        idle = await session.call_tool("redirect_sweep", {"experiment_id": experiment["id"],
                                                          "parameter_space": {"temperature": [0.5]}})
        assert idle.is_error and tool_text(idle).startswith("No running or paused sweep to redirect")
        llm.hold_after(1)  # the first run finishes, the second is held: the sweep is running
        try:
            started = await call(session, "run_sweep", experiment_id=experiment["id"], concurrency=1)
            assert started["total_runs"] == 3
            for _ in range(500):
                if llm.in_flight == 1:
                    break
                await asyncio.sleep(0.02)
            assert llm.in_flight == 1
            calls = llm.calls
            # 0.1 is done, 0.2 in flight, 0.3 pending: 0.3 is dropped, 0.7 added.
            redirected = await call(session, "redirect_sweep", experiment_id=experiment["id"],
                                    parameter_space={"temperature": [0.1, 0.2, 0.7]})
            assert redirected == {"sweep_id": started["sweep_id"], "dropped": 1, "added": 1, "total_runs": 3}
        finally:
            llm.release()
        for _ in range(500):
            status = await call(session, "get_experiment_status", experiment_id=experiment["id"])
            if status["status"] == "completed":
                break
            await asyncio.sleep(0.02)
        assert status["status"] == "completed"
        assert llm.calls == calls + 1, "the held run and the added one: nothing else, nothing twice"
        board = await call(session, "get_leaderboard", experiment_id=experiment["id"], limit=10)
        temps = sorted(r["config"]["stages"][0]["params"]["temperature"] for r in board["items"])
        assert temps == [0.1, 0.2, 0.7]


async def test_http_run_sweep_with_early_stopping(http_host: tuple[MCPHost, dict[str, str]], llm: LLMServer) -> None:
    host, creds = http_host
    async with http_session(host.url, creds["key"]) as session:
        project = await call(session, "create_project", name="halving")
        endpoint = await call(session, "configure_endpoint", label="halving", url=llm.base_url)
        experiment = await call(
            session, "create_experiment", project_id=project["id"], name="halving",
            sample_data=[{"id": f"s{i}", "input": f"text {i}"} for i in range(3)],
            pipeline_stages=[{"name": "a", "endpoint_id": endpoint["id"], "model": "m1",
                              "prompt_template": "Say {{ input }}"}],
            scoring_config=[{"scorer": "keyword", "config": {"keywords": ["m2"], "mode": "any"}}],
            parameter_space={"model": ["m1", "m2"], "temperature": [0.31, 0.32, 0.33]})
        calls = llm.calls
        waited = await call(session, "run_sweep", experiment_id=experiment["id"], wait=True,
                            early_stopping={"min_samples": 1, "eta": 3})
        assert waited["status"]["status"] == "completed", waited
        assert llm.calls - calls == 6 * 1 + 2 * 2, "6 configs on 1 sample, the best 2 on the other 2"
        assert [e["pruned"] for e in waited["leaderboard"]["items"]] == [False, False]
        board = await call(session, "get_leaderboard", experiment_id=experiment["id"], include_pruned=True)
        assert sorted(e["pruned"] for e in board["items"]) == [False, False, True, True, True, True]
        bad = await session.call_tool("run_sweep", {"experiment_id": experiment["id"],
                                                    "early_stopping": {"eta": 1}})
        assert bad.is_error and "eta" in tool_text(bad)


async def test_http_tools_drive_a_guided_sweep(http_host: tuple[MCPHost, dict[str, str]], llm: LLMServer) -> None:
    host, creds = http_host
    llm.latency_s = 0.25  # the sweep is still running while the agent steers it
    try:
        async with http_session(host.url, creds["key"]) as session:
            project = await call(session, "create_project", name="guided")
            endpoint = await call(session, "configure_endpoint", label="guided", url=llm.base_url)
            experiment = await call(
                session, "create_experiment", project_id=project["id"], name="guided",
                sample_data=[{"id": "s1", "input": "alpha"}],
                pipeline_stages=[{"name": "a", "endpoint_id": endpoint["id"], "model": "m1",
                                  "prompt_template": "Say {{ input }}"}],
                scoring_config=[{"scorer": "keyword", "config": {"keywords": ["m2"], "mode": "any"}}],
                parameter_space={"model": ["m1", "m2"], "temperature": {"min": 0.0, "max": 1.0}})
            started = await call(session, "run_sweep", experiment_id=experiment["id"], type="guided", seed=3,
                                 max_runs=5, concurrency=1, guided={"n_startup": 2})
            sweep_id = started["sweep_id"]
            sweep = await call(session, "get_sweep", sweep_id=sweep_id)
            assert sweep["type"] == "guided" and sweep["status"] == "running" and sweep["max_runs"] == 5
            suggested = await call(session, "suggest_configs", sweep_id=sweep_id, n=2)
            assert len(suggested["items"]) == 2
            assert all(set(i["overrides"]) == {"model", "temperature"} for i in suggested["items"])
            mine = {"model": "m2", "temperature": 0.123}
            added = await call(session, "add_sweep_configs", sweep_id=sweep_id, configs=[{"overrides": mine}])
            assert added["added"] == 1 and len(added["run_ids"]) == 1
            bad = await session.call_tool("add_sweep_configs", {"sweep_id": sweep_id,
                                                                "configs": [{"overrides": {"nope.a.b": 1}}]})
            assert bad.is_error and tool_text(bad).startswith("Invalid input: configs.0.overrides: `nope.a.b`"), tool_text(bad)
            for _ in range(300):
                sweep = await call(session, "get_sweep", sweep_id=sweep_id)
                if sweep["status"] == "completed":
                    break
                await asyncio.sleep(0.1)
            assert sweep["status"] == "completed" and sweep["completed"] == 5 and sweep["best_score"] == 1.0
            detail = await call(session, "get_run_detail", run_id=added["run_ids"][0])
            assert detail["status"] == "completed" and detail["config"]["stages"][0]["params"]["temperature"] == 0.123
            late = await session.call_tool("suggest_configs", {"sweep_id": sweep_id, "n": 0})
            assert late.is_error
    finally:
        llm.latency_s = 0.0


async def test_http_tools_review_prompt_proposals(http_host: tuple[MCPHost, dict[str, str]], llm: LLMServer) -> None:
    host, creds = http_host
    async with http_session(host.url, creds["key"]) as session:
        project = await call(session, "create_project", name="rewrite")
        endpoint = await call(session, "configure_endpoint", label="optimizer", url=llm.base_url)
        experiment = await call(
            session, "create_experiment", project_id=project["id"], name="rewrite",
            sample_data=[{"id": "s1", "input": "alpha beta gamma delta"}],
            pipeline_stages=[{"name": "a", "endpoint_id": endpoint["id"], "model": "m1",
                              "prompt_template": "Say {{ input }}"}],
            scoring_config=[{"scorer": "length", "config": {"min_words": 4, "max_words": 4}}],
            parameter_space={"max_tokens": {"min": 1, "max": 40, "type": "int"}})
        rewrite = {"endpoint_id": endpoint["id"], "model": "m2", "every": 2, "candidates": 2}
        started = await call(session, "run_sweep", experiment_id=experiment["id"], type="guided", seed=4,
                             max_runs=2, concurrency=2, guided={"n_startup": 1, "rewrite": rewrite})
        sweep_id = started["sweep_id"]
        for _ in range(300):
            pending = await call(session, "list_proposals", sweep_id=sweep_id, status="pending")
            sweep = await call(session, "get_sweep", sweep_id=sweep_id)
            if pending["total"] == 2 and sweep["pending"] == sweep["running"] == 0:
                break
            await asyncio.sleep(0.1)
        assert pending["total"] == 2 and sweep["status"] == "running", (pending, sweep)
        first, second = sorted(pending["items"], key=lambda p: p["text"])
        assert first["diff_base"] == "Say {{ input }}" and first["text"].startswith("Say {{ input }} ")
        calls = llm.calls
        await asyncio.sleep(0.3)
        assert llm.calls == calls, "nothing is spent before an approval"
        bad = await session.call_tool("approve_proposal", {"proposal_id": first["id"], "text": "{{ nowhere }}"})
        assert bad.is_error and "text" in tool_text(bad), tool_text(bad)
        approved = await call(session, "approve_proposal", proposal_id=first["id"], text="Say briefly: {{ input }}")
        assert approved["status"] == "approved" and approved["text"] == "Say briefly: {{ input }}"
        rejected = await call(session, "reject_proposal", proposal_id=second["id"], reason="no")
        assert rejected["status"] == "rejected" and rejected["reason"] == "no"
        twice = await session.call_tool("reject_proposal", {"proposal_id": second["id"]})
        assert twice.is_error and "already rejected" in tool_text(twice)
        for _ in range(300):
            sweep = await call(session, "get_sweep", sweep_id=sweep_id)
            if sweep["status"] == "completed":
                break
            await asyncio.sleep(0.1)
        assert sweep["status"] == "completed" and sweep["completed"] == 3 and llm.calls == calls + 1
        detail = await call(session, "get_run_detail", run_id=approved["run_ids"][0])
        assert detail["config"]["stages"][0]["prompt_template"] == "Say briefly: {{ input }}"
        listed = await call(session, "list_proposals", sweep_id=sweep_id)
        assert {p["status"] for p in listed["items"]} == {"approved", "rejected"}


async def test_http_jwt_and_read_only_user(http_host: tuple[MCPHost, dict[str, str]]) -> None:
    host, creds = http_host
    async with http_session(host.url, creds["jwt"]) as session:
        assert (await call(session, "list_projects"))["limit"] == 50
    async with http_session(host.url, creds["viewer_key"]) as session:
        refused = await session.call_tool("create_project", {"name": "nope"})
        assert refused.is_error and tool_text(refused) == "Read-only account: guests cannot make changes."
        assert "items" in await call(session, "list_experiments")


@pytest.mark.parametrize("header", [None, "Bearer pl_not_a_real_key", "Bearer not-a-jwt", "Basic YWRtaW46eA=="])
def test_http_refuses_missing_or_bad_credentials(http_host: tuple[MCPHost, dict[str, str]], header: str | None) -> None:
    host, _ = http_host
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if header:
        headers["Authorization"] = header
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    response = httpx2.post(host.url, json=body, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_stdio_tools_and_example_flow(stdio_env: tuple[dict[str, str], Path], llm: LLMServer) -> None:
    env, cwd = stdio_env
    async with stdio_session(env, cwd) as session:
        assert TOOLS <= {t.name for t in (await session.list_tools()).tools}
        ids = await the_example(session, llm)
        await _bad_input_keeps_session(session, ids["project_id"], ids["endpoint_id"])


@pytest.mark.parametrize(("key", "message"), [
    ("", "No API key: set PROMPTLOOPER_API_KEY"),
    ("pl_wrong", "The API key in PROMPTLOOPER_API_KEY was refused: The API key is not valid (unknown or revoked)."),
])
def test_stdio_refuses_to_start_without_a_valid_key(stdio_env: tuple[dict[str, str], Path], key: str,
                                                   message: str) -> None:
    env, cwd = stdio_env
    done = subprocess.run([sys.executable, "-m", "promptlooper.mcp.stdio"], env=env | {"PROMPTLOOPER_API_KEY": key},
                          cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""
