"""The SSRF guard at connect time (after DNS, on every redirect hop) and the log redaction."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest

from promptlooper.engine.adapters import AdapterError, OpenAICompatAdapter
from promptlooper.engine.definition import SampleDef
from promptlooper.engine.scorers import ScoreContext
from promptlooper.engine.scorers.webhook import WebhookConfig, WebhookScorer
from promptlooper.logsafety import RedactFilter, install_log_redaction, redact
from promptlooper.netguard import GuardedBackend, blocked_reason, guarded_transport
from tests.support.llm_server import LLMServer


@pytest.mark.parametrize(("host", "blocked"), [
    ("169.254.169.254", True), ("2852039166", True), ("0xa9fea9fe", True), ("[fe80::1]", True),
    ("fe80::1%eth0", True), ("fd00:ec2::254", True), ("100.100.100.200", True), ("::ffff:169.254.169.254", True),
    ("metadata.google.internal", True), ("METADATA.GOOGLE.INTERNAL.", True),
    ("127.0.0.1", False), ("::1", False), ("10.0.0.8", False), ("192.168.0.3", False), ("localhost", False),
    ("api.openai.com", False), ("100.100.100.201", False),
])
def test_blocked_reason(host: str, blocked: bool) -> None:
    assert (blocked_reason(host) is not None) is blocked


def _resolver(table: dict[str, str]) -> Any:
    async def resolve(host: str, port: int) -> list[str]:
        return [table[host]]

    return resolve


async def test_a_name_resolving_to_a_metadata_address_is_refused_before_connecting() -> None:
    transport = guarded_transport(_resolver({"innocent.example": "169.254.169.254"}))
    async with httpx2.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx2.ConnectError, match=r"SSRF guard: innocent.example resolves to 169.254.169.254"):
            await client.get("http://innocent.example/latest/meta-data/")


async def test_the_checked_address_is_the_one_connected_to() -> None:
    with LLMServer(models=["m1"]) as llm:
        port = int(llm.base_url.split(":")[2].split("/")[0])
        transport = guarded_transport(_resolver({"models.example": "127.0.0.1"}))
        async with httpx2.AsyncClient(transport=transport) as client:
            answer = await client.get(f"http://models.example:{port}/v1/models")
        assert answer.status_code == 200 and answer.json()["data"][0]["id"] == "m1"


@contextmanager
def redirector(location: str) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_every_redirect_hop_is_checked() -> None:
    with redirector("http://169.254.169.254/latest/meta-data/iam") as base:
        async with httpx2.AsyncClient(transport=guarded_transport(), follow_redirects=True) as client:
            with pytest.raises(httpx2.ConnectError, match=r"169\.254\.169\.254 is a cloud metadata address"):
                await client.get(base + "/start")


async def test_the_adapter_refuses_a_metadata_endpoint_at_connect_time() -> None:
    adapter = OpenAICompatAdapter("http://2852039166/v1", None, max_retries=0, timeout_s=2)
    try:
        with pytest.raises(AdapterError, match=r"169\.254\.169\.254 is a cloud metadata address"):
            await adapter.list_models()
    finally:
        await adapter.aclose()


async def test_the_webhook_scorer_refuses_a_stored_metadata_url_at_connect_time() -> None:
    sample = SampleDef(id="s1", input="q", reference=None, vars={})
    context = ScoreContext(sample=sample, reference=None, run_config={}, vars={}, extras={})
    legacy = WebhookConfig.model_construct(url="http://[fd00:ec2::254]/score", headers={}, timeout_s=2.0, retries=0)
    result = await WebhookScorer().score("q", "out", context, legacy)
    assert result.value == 0.0 and "fd00:ec2::254 is a cloud metadata address" in result.metadata["reason"]


async def test_a_pooled_connection_the_server_closed_reads_as_expired() -> None:
    """The cheap `is_readable` probe httpcore2's pool relies on to drop connections a server closed."""
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        stream = await GuardedBackend().connect_tcp("127.0.0.1", listener.getsockname()[1])
        peer, _ = listener.accept()
        assert stream.get_extra_info("socket").fileno() >= 0
        assert stream.get_extra_info("is_readable") is False, "an idle, open connection"
        peer.close()
        for _ in range(200):
            if stream.get_extra_info("is_readable"):
                break
            await asyncio.sleep(0.01)
        assert stream.get_extra_info("is_readable") is True, "the peer's close is seen"
        assert await stream.read(1024) == b""
        await stream.aclose()
    finally:
        listener.close()


# ---- logs ---------------------------------------------------------------------------------------


def test_redact_hides_query_tokens_and_url_credentials() -> None:
    assert redact("/ws/dashboard?token=eyJhbGciOi.x.y&after=3") == "/ws/dashboard?token=***&after=3"
    assert redact("GET /x?a=1&api_key=pl_abc HTTP/1.1") == "GET /x?a=1&api_key=*** HTTP/1.1"
    assert redact("POST http://bob:hunter2@10.0.0.2:8000/v1/chat") == "POST http://***@10.0.0.2:8000/v1/chat"
    assert redact("nothing to see at user@example.com") == "nothing to see at user@example.com"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_uvicorn_access_and_websocket_lines_are_redacted() -> None:
    install_log_redaction()
    names = ("uvicorn.access", "uvicorn.error", "httpx2")
    loggers = [logging.getLogger(n) for n in names]
    assert all(any(isinstance(f, RedactFilter) for f in lg.filters) for lg in loggers)
    collect = _Collect()
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(collect)
        lg.setLevel(logging.INFO)
    try:
        loggers[0].info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/ws/dashboard?token=pl_SECRETKEY", "1.1", 101)
        loggers[1].info('%s - "WebSocket %s" [accepted]', ("127.0.0.1", 5000), "/ws/experiments/x?token=eyJ.SECRET.JWT")
        loggers[2].info('HTTP Request: %s %s "%s"', "POST", httpx2.URL("http://u:PASSWORD@127.0.0.1/v1/x"), "HTTP/1.1 200 OK")
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(collect)
            lg.setLevel(level)
    text = "\n".join(collect.lines)
    assert len(collect.lines) == 3
    assert "SECRETKEY" not in text and "SECRET.JWT" not in text and "PASSWORD" not in text
    assert text.count("token=***") == 2 and "http://***@127.0.0.1/v1/x" in text


def test_any_logger_is_redacted_through_the_record_factory() -> None:
    install_log_redaction()
    install_log_redaction()  # idempotent: one wrapper, not two
    record = logging.getLogger("some.library.nobody.configured").makeRecord(
        "x", logging.INFO, __file__, 1, "calling %s", ("https://api.example/v1?api_key=sk-LEAK",), None)
    assert record.getMessage() == "calling https://api.example/v1?api_key=***"
