"""The webhook scorer against a real HTTP server on loopback: answers, retries, time-outs and refusals."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from promptlooper.engine import scorers
from promptlooper.engine.definition import SampleDef
from promptlooper.engine.scorers import ScoreContext
from promptlooper.engine.scorers.webhook import WebhookConfig, WebhookScorer

SAMPLE = SampleDef(id="s1", input="question", reference="answer", vars={"k": "v"})


class HookServer:
    """A scoring service on 127.0.0.1 in a thread, with routes that behave well and badly."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.hits: dict[str, int] = {}
        self.closing = threading.Event()
        self.port = 0

    def _record(self, name: str) -> int:
        self.hits[name] = self.hits.get(name, 0) + 1
        return self.hits[name]

    async def score(self, request: Request) -> Response:
        body = await request.json()
        self._record("score")
        self.received.append(body)
        self.headers.append(dict(request.headers))
        return JSONResponse({"score": 0.75 if body["output"] else 0.1, "metadata": {"chars": len(body["output"])}})

    async def flaky(self, request: Request) -> Response:
        if self._record("flaky") <= 2:
            return JSONResponse({"error": "busy"}, status_code=503)
        return JSONResponse({"score": 0.9})

    async def always_500(self, request: Request) -> Response:
        self._record("always_500")
        return JSONResponse({"error": "broken"}, status_code=500)

    async def hang(self, request: Request) -> Response:
        self._record("hang")
        await asyncio.to_thread(self.closing.wait, 30)
        return JSONResponse({"score": 1})

    async def fixed(self, request: Request) -> Response:
        name = request.path_params["name"]
        self._record(name)
        answers: dict[str, Response] = {
            "prose": PlainTextResponse("looks good to me"),
            "noscore": JSONResponse({"value": 1}),
            "stringy": JSONResponse({"score": "high"}),
            "big": JSONResponse({"score": 3}),
            "forbidden": JSONResponse({"detail": "no"}, status_code=403),
        }
        return answers[name]

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/score", self.score, methods=["POST"]), Route("/flaky", self.flaky, methods=["POST"]),
            Route("/500", self.always_500, methods=["POST"]), Route("/hang", self.hang, methods=["POST"]),
            Route("/fixed/{name}", self.fixed, methods=["POST"]),
        ])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="module")
def hook() -> Iterator[HookServer]:
    state = HookServer()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    state.port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(state.app(), log_level="warning", lifespan="off", access_log=False,
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the webhook server did not start"
        time.sleep(0.01)
    yield state
    state.closing.set()
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


async def call(url: str, output: str = "hello", **config):
    context = ScoreContext(sample=SAMPLE, reference=SAMPLE.reference, run_config={"model": "m1"}, vars=dict(SAMPLE.vars))
    return await WebhookScorer().score(SAMPLE.input, output, context, WebhookConfig(url=url, **config))


def reason(result) -> str:
    assert result.value == 0.0, result.metadata
    return str(result.metadata["reason"])


async def test_posts_the_sample_and_reads_the_score(hook):
    result = await call(hook.url("/score"), output="日本語 ok", headers={"Authorization": "Bearer t0ken"})
    assert result.value == 0.75 and result.metadata["webhook"] == {"chars": 6} and result.metadata["attempts"] == 1
    assert hook.received[-1] == {"input": "question", "output": "日本語 ok", "reference": "answer",
                                 "context": {"sample_id": "s1", "vars": {"k": "v"}, "run_config": {"model": "m1"}}}
    assert hook.headers[-1]["authorization"] == "Bearer t0ken"
    empty = await call(hook.url("/score"), output="")
    assert empty.value == pytest.approx(0.1)


async def test_retries_5xx_then_succeeds(hook):
    result = await call(hook.url("/flaky"), retries=2)
    assert result.value == 0.9 and result.metadata["attempts"] == 3 and hook.hits["flaky"] == 3


async def test_gives_up_after_the_retries(hook):
    before = hook.hits.get("always_500", 0)
    text = reason(await call(hook.url("/500"), retries=1))
    assert "answered 500" in text and hook.hits["always_500"] - before == 2


async def test_a_webhook_that_never_answers_times_out(hook):
    started = time.monotonic()
    result = await call(hook.url("/hang"), timeout_s=0.3, retries=1)
    assert "timed out after 0.3s" in reason(result) and result.metadata["attempts"] == 2
    assert time.monotonic() - started < 3


async def test_refused_connection_scores_zero():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    text = reason(await call(f"http://127.0.0.1:{port}/score", retries=1))
    assert "could not connect" in text


@pytest.mark.parametrize("name, expected", [
    ("prose", "not JSON"),
    ("noscore", "no numeric `score`"),
    ("stringy", "no numeric `score`"),
    ("forbidden", "answered 403"),
])
async def test_bad_answers_score_zero_without_retrying(hook, name, expected):
    assert expected in reason(await call(hook.url(f"/fixed/{name}"), retries=2))
    assert hook.hits[name] == 1


async def test_scores_are_clipped(hook):
    result = await call(hook.url("/fixed/big"))
    assert result.value == 1.0 and result.metadata["raw"] == 3


def test_config_validation():
    assert scorers.validate_scorer_config("webhook", {"url": "https://example.com/score"}) == []
    assert scorers.validate_scorer_config("webhook", {"url": "ftp://example.com"}) != []
    assert scorers.validate_scorer_config("webhook", {"url": "not a url"}) != []
    assert scorers.validate_scorer_config("webhook", {"url": "http://x", "retries": 9}) != []
    assert scorers.validate_scorer_config("webhook", {"url": "http://x", "headers": {"a": 1}}) != []
    config = WebhookConfig(url=" http://x/score ")
    assert (config.url, config.timeout_s, config.retries) == ("http://x/score", 10.0, 2)
