"""A real loopback webhook receiver: records every POST, answers scripted statuses, verifies signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One request as the receiver saw it."""

    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def delivery(self) -> str:
        return self.headers["x-promptlooper-delivery"]

    @property
    def type(self) -> str:
        return self.headers["x-promptlooper-event"]


def verify(secret: str, request: Received, tolerance_s: float = 300.0) -> bool:
    """The README's verifier: HMAC-SHA256 over "<timestamp>.<raw body>", within the tolerance."""
    timestamp = request.headers.get("x-promptlooper-timestamp", "")
    signature = request.headers.get("x-promptlooper-signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance_s:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body,
                                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 drops connects from a sender posting 16 at once

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().server_bind()


class WebhookReceiver:
    """`with WebhookReceiver() as hooks:` then point a webhook at `hooks.url`."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._script: list[tuple[int, dict[str, str]]] = []
        self._lock = threading.Lock()
        self.hold = threading.Event()  # set: requests are answered; cleared with `park()`: they wait
        self.hold.set()
        self.parked = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._lock:
                    status, headers = receiver._script.pop(0) if receiver._script else (200, {})
                    received = Received({k.lower(): v for k, v in self.headers.items()}, body, status, time.time())
                    receiver.requests.append(received)
                if not receiver.hold.is_set():
                    receiver.parked.set()
                    receiver.hold.wait(60)
                    return  # the sender is gone by now: no answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def script(self, *statuses: int | tuple[int, dict[str, str]]) -> None:
        """The statuses of the next requests (then 200 again); a tuple adds response headers."""
        with self._lock:
            self._script.extend(s if isinstance(s, tuple) else (s, {}) for s in statuses)

    def park(self) -> None:
        """Hold the next requests without answering until `hold.set()`."""
        self.parked.clear()
        self.hold.clear()

    def of_type(self, event_type: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.type == event_type]

    def wait_for(self, predicate: Any, timeout_s: float = 30.0) -> list[Received]:
        """Wait until predicate(requests) is true; answers the requests."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                snapshot = list(self.requests)
            if predicate(snapshot):
                return snapshot
            time.sleep(0.02)
        raise AssertionError(f"receiver saw {[(r.type, r.status) for r in self.requests]}")

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.hold.set()
        self._server.shutdown()
        self._server.server_close()
