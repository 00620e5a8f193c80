"""A real OpenAI-compatible HTTP server on loopback: latency, scripted failures, counters.

In tests:   `with LLMServer(latency_s=0.0, models=["m1", "m2"]) as srv: srv.base_url`
As process: `python -m tests.support.llm_server --port 0 --latency 0.2`
            prints `LLM server ready on http://127.0.0.1:PORT/v1 (port PORT)` once serving.

Answers are deterministic: `"{model} t={temperature}: {last user message} [{digest}]"` where the
digest covers the whole request (so any change of prompt, system prompt or parameter changes the
answer); with `max_tokens` the answer keeps only that many words.

Scripted failures (`srv.script([...])`) are consumed one per chat request before normal answers:
`"429"`/`"429:2"` (429 with `Retry-After: 2`), any status code such as `"500"` or `"401"`,
`"garbage"` (200 with a non-JSON body), `"no_choices"` (200 JSON without `choices`),
`"no_usage"` (a normal answer without `usage`), `"hang"` (sleeps `hang_s`, longer than any client timeout).
Control routes: `GET /_stats`, `POST /_reset`, `POST /_script` (a JSON list).

The optimizer: a request whose system message says "prompt optimizer" (PromptLooper's rewrite
meta-prompt) is answered with rewrites of the text between `<current>` and `</current>` in its user
message: `<prompt>{current} {suffix}</prompt>` per suffix in `REWRITE_SUFFIXES` (as many as the
meta-prompt asks for). `srv.optimizer_mode` scripts a weak optimizer instead: `"empty"`, `"same"`
(the current prompt back), `"json"`, `"undefined"` (a `{{ nowhere }}` name), `"mixed"` (one of each
and one good rewrite). `srv.optimizer_calls` counts those requests (also in `/_stats`).

Landscape mode (`LLMServer(landscape=True)`, `--landscape`): answers whose length, read by the `length`
scorer with `max_words` LANDSCAPE_WORDS, is a score that depends smoothly on temperature, top_p and the
prompt variant (`variant=NAME` in a message), with noise per sample (`sample=ID`, `seed=N`). See
`landscape_answer`; `bench/tuning.py` sweeps it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import random
import re
import socket
import threading
import time
from collections import Counter, deque
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

REWRITE_SUFFIXES = ("Answer in one short sentence.", "Be precise and concise.", "Think step by step.",
                    "Use plain words.")
OPTIMIZER_MARK = "prompt optimizer"
_CURRENT = re.compile(r"<current>\n?(.*?)\n?</current>", re.DOTALL)
_WANTED = re.compile(r"Write (\d+) new")


def is_optimizer_request(body: dict[str, Any]) -> bool:
    """Whether a chat request is PromptLooper's rewrite meta-prompt."""
    return any(m.get("role") == "system" and OPTIMIZER_MARK in str(m.get("content", ""))
               for m in body.get("messages") or [])


def optimizer_answer(body: dict[str, Any], mode: str) -> str:
    """A deterministic optimizer answer: rewrites of the current prompt, or scripted garbage."""
    user = next((str(m.get("content", "")) for m in reversed(body.get("messages") or []) if m.get("role") == "user"),
                "")
    found = _CURRENT.search(user)
    current = found.group(1).strip() if found else ""
    wanted = _WANTED.search(user)
    count = int(wanted.group(1)) if wanted else 2
    good = [f"{current} {suffix}" for suffix in REWRITE_SUFFIXES[:count]]
    garbage = {"empty": "<prompt>   </prompt>", "same": f"<prompt>{current}</prompt>",
               "json": '{"prompt": "better", "score": 1}', "undefined": f"<prompt>{current} {{{{ nowhere }}}}</prompt>"}
    if mode in garbage:
        return garbage[mode]
    if mode == "mixed":
        return "".join(f"<prompt>{p}</prompt>" for p in
                       ("", current, '{"a": 1}', f"{current} {{{{ nowhere }}}}", good[0]))
    return "\n".join(f"<prompt>{p}</prompt>" for p in good)


class ServerState:
    """Counters, scripted failures and settings shared by the server thread and the test."""

    def __init__(self, latency_s: float, models: list[str], required_api_key: str | None, hang_s: float,
                 landscape: bool = False) -> None:
        self.latency_s = latency_s
        self.landscape = landscape
        self.models = models
        self.required_api_key = required_api_key
        self.hang_s = hang_s
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.optimizer_mode = "rewrite"
        self.reset()

    def reset(self) -> None:
        """Zero the counters and drop the script."""
        with self.lock:
            self.calls = 0
            self.per_model: Counter[str] = Counter()
            self.in_flight = 0
            self.peak_in_flight = 0
            self.requests: deque[dict[str, Any]] = deque(maxlen=1000)
            self.queue: deque[str] = deque()
            self.embedding_calls = 0
            self.model_list_calls = 0
            self.answered: Counter[str] = Counter()  # request digest -> answers sent
            self.arrivals: list[tuple[float, str]] = []  # (monotonic time, digest) of every chat request
            self.admitted = 0
            self.hold_after: int | None = None
            self.optimizer_calls = 0

    def stats(self) -> dict[str, Any]:
        """The counters as JSON."""
        with self.lock:
            return {"calls": self.calls, "peak_in_flight": self.peak_in_flight, "in_flight": self.in_flight,
                    "per_model": dict(self.per_model), "embedding_calls": self.embedding_calls,
                    "model_list_calls": self.model_list_calls, "scripted_left": len(self.queue),
                    "optimizer_calls": self.optimizer_calls}


def answer_text(body: dict[str, Any]) -> str:
    """The deterministic answer to a chat request body."""
    model = str(body.get("model", ""))
    messages = body.get("messages") or []
    user = next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")
    digest = hashlib.sha256(repr(sorted((k, repr(v)) for k, v in body.items())).encode()).hexdigest()[:8]
    text = f"{model} t={body.get('temperature')}: {user} [{digest}]"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and max_tokens > 0:
        text = " ".join(text.split()[:max_tokens])
    return text


def request_digest(body: dict[str, Any]) -> str:
    """A digest of a whole chat request body (equal bodies, equal digests)."""
    return hashlib.sha256(repr(sorted((k, repr(v)) for k, v in body.items())).encode()).hexdigest()


def _words(text: str) -> int:
    return max(1, len(text.split()))


# --- landscape mode: a scored landscape for the tuning benchmark (bench/tuning.py) -----------------------------
# With `LLMServer(landscape=True)` (or `--landscape`) every answer is built so that the `length` scorer with
# `{"max_words": LANDSCAPE_WORDS}` reads a quality that depends smoothly on the request's temperature and top_p
# and on the prompt variant, plus noise per sample. The user message names its variant, sample and seed with
# the markers `variant=NAME`, `sample=ID`, `seed=N` (any message may hold them; other text is ignored, so a tag
# that keeps the cache apart changes nothing). The sampler only sees the scores.
LANDSCAPE_WORDS = 100
LANDSCAPE_VARIANTS: dict[str, tuple[float, float, float]] = {  # name -> (peak quality, best temperature, best top_p)
    "plain": (0.70, 0.45, 0.75),
    "steps": (0.78, 0.95, 0.65),
    "expert": (0.86, 0.67, 0.70),
    "terse": (0.62, 0.30, 0.85),
}
LANDSCAPE_CURVATURE = (0.9, 1.5)  # quality lost per squared unit away from the best temperature, top_p
LANDSCAPE_DIFFICULTY = 0.08  # a sample's difficulty: uniform in +-this, the same for every configuration
LANDSCAPE_NOISE = 0.08  # standard deviation of the noise per (sample, configuration), cut at 3 sd
_MARKER = re.compile(r"\b(variant|sample|seed)=(\S+)")


def _unit_random(*parts: object) -> random.Random:
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def landscape_variant(name: str) -> tuple[float, float, float]:
    """(peak quality, best temperature, best top_p) of a prompt variant; unknown names get a seeded one."""
    if name in LANDSCAPE_VARIANTS:
        return LANDSCAPE_VARIANTS[name]
    rng = _unit_random("variant", name)
    return (0.45 + 0.2 * rng.random(), 0.2 + rng.random(), 0.4 + 0.5 * rng.random())


def landscape_quality(temperature: float, top_p: float, variant: str) -> float:
    """The noise-free quality of a configuration (what a sampler tries to find): smooth, peaked inside."""
    peak, best_t, best_p = landscape_variant(variant)
    bend_t, bend_p = LANDSCAPE_CURVATURE
    return peak - bend_t * (temperature - best_t) ** 2 - bend_p * (top_p - best_p) ** 2


def landscape_score(temperature: float, top_p: float, variant: str, sample: str, seed: str = "0") -> float:
    """One sample's score: the quality, the sample's difficulty and noise seeded by everything, within [0, 1]."""
    difficulty = (2 * _unit_random("difficulty", seed, sample).random() - 1) * LANDSCAPE_DIFFICULTY
    noise = _unit_random("noise", seed, sample, variant, round(temperature, 6), round(top_p, 6)).gauss(0, 1)
    noise = max(-3.0, min(3.0, noise)) * LANDSCAPE_NOISE
    return min(1.0, max(0.0, landscape_quality(temperature, top_p, variant) + difficulty + noise))


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def landscape_answer(body: dict[str, Any]) -> str:
    """An answer of LANDSCAPE_WORDS + (1 - score) x LANDSCAPE_WORDS words: `length` with max_words reads the score.

    temperature and top_p default to 1 (as OpenAI's); the markers default to variant `plain`, sample `0`, seed
    `0`. `max_tokens` is ignored (the length is the score).
    """
    text = " ".join(str(m.get("content", "")) for m in body.get("messages") or [] if isinstance(m, dict))
    markers = {name: value for name, value in _MARKER.findall(text)}
    temperature, top_p = _number(body.get("temperature"), 1.0), _number(body.get("top_p"), 1.0)
    score = landscape_score(temperature, top_p, markers.get("variant", "plain"), markers.get("sample", "0"),
                            markers.get("seed", "0"))
    words = LANDSCAPE_WORDS + round((1 - score) * LANDSCAPE_WORDS)
    head = [str(body.get("model", "")), f"score={score:.2f}"]
    return " ".join(head + ["lorem"] * (words - len(head)))


def completion(body: dict[str, Any], with_usage: bool = True, landscape: bool = False,
               optimizer_mode: str | None = None) -> dict[str, Any]:
    """An OpenAI chat.completion body for a request (a landscape answer in landscape mode, an optimizer's answer
    when `optimizer_mode` is given)."""
    if optimizer_mode is not None:
        content = optimizer_answer(body, optimizer_mode)
    else:
        content = landscape_answer(body) if landscape else answer_text(body)
    result: dict[str, Any] = {
        "id": "chatcmpl-" + hashlib.sha256(content.encode()).hexdigest()[:12], "object": "chat.completion",
        "created": int(time.time()), "model": body.get("model"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    }
    if with_usage:
        prompt = sum(_words(str(m.get("content", ""))) for m in body.get("messages") or [])
        result["usage"] = {"prompt_tokens": prompt, "completion_tokens": _words(content),
                           "total_tokens": prompt + _words(content)}
    return result


def embedding(text: str, dims: int = 64) -> list[float]:
    """A deterministic bag-of-words vector: texts sharing words point the same way."""
    vector = [0.0] * dims
    vector[0] = 0.01
    for word in text.lower().split():
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % dims] += 1.0
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


def _scripted(item: str) -> Response | None:
    code, _, arg = item.partition(":")
    if not code.isdigit():
        return None
    headers = {"Retry-After": arg} if arg else {}
    return JSONResponse({"error": {"message": f"scripted {code}", "type": "scripted"}}, status_code=int(code),
                        headers=headers)


class _Routes:
    """The request handlers, sharing one ServerState."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def unauthorized(self, request: Request) -> Response | None:
        """401 when a key is required and the Bearer key differs."""
        key = self.state.required_api_key
        if key is None or request.headers.get("authorization") == f"Bearer {key}":
            return None
        return JSONResponse({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}},
                            status_code=401)

    def _enter(self, body: dict[str, Any]) -> str | None:
        state = self.state
        with state.lock:
            state.arrivals.append((time.monotonic(), request_digest(body)))
            state.calls += 1
            state.per_model[str(body.get("model"))] += 1
            state.requests.append(body)
            state.in_flight += 1
            state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
            return state.queue.popleft() if state.queue else None

    async def _answer(self, request: Request, body: dict[str, Any], item: str | None) -> Response:
        denied = self.unauthorized(request)
        if denied is not None:
            return denied
        if item == "hang":
            # a thread waits so that stopping the server (which sets `closing`) ends the hang at once
            await asyncio.to_thread(self.state.closing.wait, self.state.hang_s)
            return JSONResponse({"error": {"message": "hung"}}, status_code=504)
        if item == "garbage":
            return PlainTextResponse("<html>this is not json", status_code=200)
        if item == "no_choices":
            return JSONResponse({"id": "x", "object": "chat.completion", "model": body.get("model")})
        if item is not None and item != "no_usage":
            scripted = _scripted(item)
            if scripted is not None:
                return scripted
        mode = None
        if is_optimizer_request(body):
            with self.state.lock:
                self.state.optimizer_calls += 1
                mode = self.state.optimizer_mode
        return JSONResponse(completion(body, with_usage=item != "no_usage", landscape=self.state.landscape,
                                       optimizer_mode=mode))

    async def chat(self, request: Request) -> Response:
        """POST /v1/chat/completions"""
        try:
            body = await request.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        item = self._enter(body)
        try:
            await self._wait_if_held()
            if self.state.latency_s:
                await asyncio.sleep(self.state.latency_s)
            response = await self._answer(request, body, item)
            if response.status_code == 200:
                with self.state.lock:
                    self.state.answered[request_digest(body)] += 1
            return response
        finally:
            with self.state.lock:
                self.state.in_flight -= 1

    async def _wait_if_held(self) -> None:
        state = self.state
        with state.lock:
            state.admitted += 1
            held = state.hold_after is not None and state.admitted > state.hold_after
        while held and not state.closing.is_set():
            await asyncio.sleep(0.01)
            with state.lock:
                held = state.hold_after is not None

    async def models(self, request: Request) -> Response:
        """GET /v1/models"""
        with self.state.lock:
            self.state.model_list_calls += 1
        denied = self.unauthorized(request)
        if denied is not None:
            return denied
        return JSONResponse({"object": "list", "data": [{"id": m, "object": "model"} for m in self.state.models]})

    async def embeddings(self, request: Request) -> Response:
        """POST /v1/embeddings"""
        denied = self.unauthorized(request)
        if denied is not None:
            return denied
        body = await request.json()
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        with self.state.lock:
            self.state.embedding_calls += 1
        data = [{"object": "embedding", "index": i, "embedding": embedding(str(t))} for i, t in enumerate(texts)]
        return JSONResponse({"object": "list", "data": data, "model": body.get("model"),
                             "usage": {"prompt_tokens": sum(_words(str(t)) for t in texts), "total_tokens": 0}})

    async def stats(self, request: Request) -> Response:
        """GET /_stats"""
        return JSONResponse(self.state.stats())

    async def reset(self, request: Request) -> Response:
        """POST /_reset"""
        self.state.reset()
        return JSONResponse({"ok": True})

    async def script(self, request: Request) -> Response:
        """POST /_script with a JSON list."""
        items = await request.json()
        if not isinstance(items, list):
            return JSONResponse({"error": "send a JSON list"}, status_code=400)
        with self.state.lock:
            self.state.queue.extend(str(i) for i in items)
        return JSONResponse({"ok": True, "queued": len(items)})


def build_app(state: ServerState) -> Starlette:
    """The Starlette app answering like OpenAI."""
    routes = _Routes(state)
    return Starlette(routes=[
        Route("/v1/chat/completions", routes.chat, methods=["POST"]),
        Route("/v1/models", routes.models, methods=["GET"]),
        Route("/v1/embeddings", routes.embeddings, methods=["POST"]),
        Route("/_stats", routes.stats, methods=["GET"]),
        Route("/_reset", routes.reset, methods=["POST"]),
        Route("/_script", routes.script, methods=["POST"]),
    ])


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this: without it Nagle holds the body behind the headers for a delayed ACK (40 ms).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class LLMServer:
    """The loopback server in a background thread; use as a context manager."""

    def __init__(self, latency_s: float = 0.0, models: list[str] | None = None, *,
                 required_api_key: str | None = None, port: int = 0, hang_s: float = 30.0,
                 landscape: bool = False) -> None:
        self.state = ServerState(latency_s, list(models or ["m1", "m2"]), required_api_key, hang_s, landscape)
        self._requested_port = port
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base: http://127.0.0.1:PORT/v1"""
        return f"{self.url}/v1"

    def start(self) -> LLMServer:
        """Serve in a daemon thread; returns once it accepts connections."""
        self._sock = _bind(self._requested_port)
        self.port = int(self._sock.getsockname()[1])
        config = uvicorn.Config(build_app(self.state), log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=1, access_log=False)
        self._server = uvicorn.Server(config)
        sockets = [self._sock]
        self._thread = threading.Thread(target=lambda: asyncio.run(self._server.serve(sockets=sockets)),  # type: ignore[union-attr]
                                        name=f"llm-server-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the loopback LLM server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.state.closing.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, items: list[str]) -> None:
        """Queue scripted answers, consumed one per chat request."""
        with self.state.lock:
            self.state.queue.extend(items)

    def reset(self) -> None:
        """Zero the counters and drop the script."""
        self.state.reset()

    def hold_after(self, admitted: int) -> None:
        """Answer the next `admitted` chat requests; hold every later one until `release()`."""
        with self.state.lock:
            self.state.admitted = 0
            self.state.hold_after = admitted

    def release(self) -> None:
        """Let held requests (and all later ones) through."""
        with self.state.lock:
            self.state.hold_after = None

    def answered(self) -> dict[str, int]:
        """How many times each distinct request (by digest) was answered with 200."""
        with self.state.lock:
            return dict(self.state.answered)

    def arrivals(self) -> list[tuple[float, str]]:
        """(monotonic time, digest) of every chat request, in arrival order."""
        with self.state.lock:
            return list(self.state.arrivals)

    def stats(self) -> dict[str, Any]:
        """The counters (same as GET /_stats)."""
        return self.state.stats()

    @property
    def optimizer_mode(self) -> str:
        """How the optimizer answers: rewrite (default), empty, same, json, undefined or mixed."""
        return self.state.optimizer_mode

    @optimizer_mode.setter
    def optimizer_mode(self, value: str) -> None:
        self.state.optimizer_mode = value

    @property
    def optimizer_calls(self) -> int:
        """Optimizer (rewrite meta-prompt) requests answered."""
        return self.state.optimizer_calls

    @property
    def calls(self) -> int:
        """Chat requests received (scripted failures included)."""
        return self.state.calls

    @property
    def peak_in_flight(self) -> int:
        """Most chat requests in flight at once."""
        return self.state.peak_in_flight

    @property
    def in_flight(self) -> int:
        """Chat requests in flight now."""
        return self.state.in_flight

    @property
    def per_model(self) -> dict[str, int]:
        """Chat requests per model."""
        return dict(self.state.per_model)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The last received chat request bodies (at most 1000)."""
        with self.state.lock:
            return list(self.state.requests)

    @property
    def latency_s(self) -> float:
        """Seconds each chat request takes."""
        return self.state.latency_s

    @latency_s.setter
    def latency_s(self, value: float) -> None:
        self.state.latency_s = value


def main(argv: list[str] | None = None) -> None:
    """Serve in the foreground (for benchmarks and other processes)."""
    parser = argparse.ArgumentParser(description="Loopback OpenAI-compatible server for tests and benchmarks")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--models", default="m1,m2")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--landscape", action="store_true", help="answer from the scored landscape (see landscape_answer)")
    args = parser.parse_args(argv)
    state = ServerState(args.latency, [m for m in args.models.split(",") if m], args.api_key, 30.0, args.landscape)
    sock = _bind(args.port)
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(build_app(state), log_level="warning", lifespan="off",
                                           timeout_graceful_shutdown=1, access_log=False))

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn has no "started" event)
            await asyncio.sleep(0.01)
        print(f"LLM server ready on http://127.0.0.1:{port}/v1 (port {port})", flush=True)
        await task
        state.closing.set()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
