"""The OpenAI-compatible adapter (OpenAI, vLLM, Ollama, OpenWebUI, ...): pooled, bounded, retried."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import httpx2

from promptlooper.netguard import guarded_transport

from .base import (
    AdapterError,
    CallGate,
    ChatRequest,
    ChatResponse,
    EndpointStatusError,
    EndpointUnreachable,
    LocalGate,
    MalformedResponse,
)

log = logging.getLogger("promptlooper.adapters.openai")

_STATUS_HINTS = {
    401: "check its API key",
    403: "the API key is not allowed to do this",
    404: "check the endpoint URL (the OpenAI base, e.g. ending in /v1) and the model name",
    413: "the request is too large",
    429: "rate limited",
}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_detail(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or "")[:200]
    if isinstance(error, str):
        return error[:200]
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])[:200]
    return ""


def status_sentence(code: int) -> str:
    """`Endpoint answered 401 Unauthorized: <hint>`, from the status alone (nothing the server wrote)."""
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = "Error"
    message = f"Endpoint answered {code} {phrase}"
    hint = _STATUS_HINTS.get(code)
    return f"{message}: {hint}" if hint else message


def status_error(response: httpx2.Response) -> AdapterError:
    """The AdapterError for an HTTP error answer (429 and 5xx are retryable)."""
    code = response.status_code
    message = status_sentence(code)
    detail = _error_detail(response)
    if detail:
        message += f" ({detail})"
    retryable = code == 429 or code >= 500
    retry_after = parse_retry_after(response.headers.get("retry-after")) if retryable else None
    return EndpointStatusError(message, retryable=retryable, status=code, retry_after_s=retry_after)


def _content_of(message: Any) -> str | None:
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return None


def _refused(exc: BaseException) -> bool:
    """Whether a ConnectionRefusedError is anywhere in the exception's cause chain."""
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            return False
        if isinstance(current, ConnectionRefusedError):
            return True
        current = current.__cause__ or current.__context__
    return False


def _estimate(text_chars: int) -> int:
    return max(1, text_chars // 4)


def _usage(body: dict[str, Any], request: ChatRequest, content: str) -> tuple[int, int, bool]:
    usage = body.get("usage")
    if isinstance(usage, dict):
        t_in, t_out = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if isinstance(t_in, int) and isinstance(t_out, int):
            return t_in, t_out, False
    prompt_chars = sum(len(str(m.get("content", ""))) for m in request.messages)
    return _estimate(prompt_chars), _estimate(len(content)), True


def parse_chat_body(body: Any, request: ChatRequest, latency_ms: int) -> ChatResponse:
    """A ChatResponse from an OpenAI chat completion body; MalformedResponse when it is not one."""
    if not isinstance(body, dict):
        raise MalformedResponse("Endpoint answered a JSON body that is not an object")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise MalformedResponse("Endpoint answered a body without `choices`")
    first = choices[0]
    content = _content_of(first.get("message") if isinstance(first, dict) else None)
    if content is None and isinstance(first, dict) and isinstance(first.get("text"), str):
        content = str(first["text"])  # legacy completions shape
    if content is None:
        raise MalformedResponse("Endpoint answered a body without `choices[0].message.content`")
    tokens_in, tokens_out, estimated = _usage(body, request, content)
    model = body.get("model") if isinstance(body.get("model"), str) else request.model
    return ChatResponse(content=content, tokens_in=tokens_in, tokens_out=tokens_out, latency_ms=latency_ms,
                        model=str(model), estimated_tokens=estimated)


class OpenAICompatAdapter:
    """One endpoint: a shared keep-alive client, a concurrency cap and retries with backoff."""

    kind = "openai"

    def __init__(self, base_url: str, api_key: str | None = None, *, max_concurrency: int = 8,
                 timeout_s: float = 60, connect_timeout_s: float = 10, max_retries: int = 4,
                 backoff_base_s: float = 0.5, backoff_max_s: float = 20,
                 client: httpx2.AsyncClient | None = None, gate: CallGate | None = None) -> None:
        self.base_url = base_url.strip().rstrip("/")
        self.timeout_s = timeout_s
        self.max_retries = max(0, max_retries)
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_concurrency = max(1, max_concurrency)
        self.gate: CallGate = gate or LocalGate(self.max_concurrency)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._owns_client = client is None
        limits = httpx2.Limits(max_connections=self.max_concurrency,
                              max_keepalive_connections=self.max_concurrency, keepalive_expiry=30)
        # The SSRF guard: link-local and cloud-metadata addresses are refused after DNS, on every hop.
        self._client = client or httpx2.AsyncClient(
            timeout=httpx2.Timeout(timeout_s, connect=connect_timeout_s, pool=None),
            limits=limits, transport=guarded_transport(limits=limits),
        )

    def _unreachable(self, exc: httpx2.HTTPError) -> AdapterError:
        if isinstance(exc, httpx2.TimeoutException):
            if isinstance(exc, httpx2.ConnectTimeout):
                return EndpointUnreachable(f"Endpoint {self.base_url} did not accept a connection in time",
                                           retryable=True)
            return EndpointUnreachable(f"Endpoint {self.base_url} timed out after {self.timeout_s:g}s",
                                       retryable=True)
        if isinstance(exc, httpx2.ConnectError):
            text = str(exc)
            if "refused" in text.lower() or _refused(exc):
                return EndpointUnreachable(f"Endpoint {self.base_url} refused the connection", retryable=True)
            return EndpointUnreachable(f"Could not connect to endpoint {self.base_url}: {text or 'connection failed'}",
                                       retryable=True)
        if isinstance(exc, httpx2.UnsupportedProtocol | httpx2.InvalidURL):
            return EndpointUnreachable(f"Endpoint URL {self.base_url} is not a valid http(s) URL", retryable=False)
        return EndpointUnreachable(
            f"Request to endpoint {self.base_url} failed: {type(exc).__name__} {exc}".strip(), retryable=True)

    def backoff_delay(self, attempt: int, retry_after_s: float | None) -> float:
        """Seconds to wait before retry number attempt+1: Retry-After when given, else full jitter."""
        if retry_after_s is not None:
            return min(retry_after_s, self.backoff_max_s)
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2**attempt))
        return random.uniform(0, ceiling)

    async def _attempt(self, method: str, path: str, payload: dict[str, Any] | None) -> tuple[Any, int]:
        url = f"{self.base_url}{path}"
        await self.gate.wait_turn()
        async with self.gate.slot():
            await self.gate.wait_turn()  # a 429 may have arrived while we waited for the slot
            started = time.perf_counter()
            try:
                response = await self._client.request(method, url, json=payload, headers=self._headers)
            except httpx2.HTTPError as exc:
                raise self._unreachable(exc) from exc
            except (UnicodeError, ValueError) as exc:  # a URL or header httpx2 cannot encode
                raise EndpointUnreachable(
                    f"Cannot send a request to {self.base_url}: the URL or API key has characters HTTP cannot carry",
                    retryable=False) from exc
            latency_ms = int((time.perf_counter() - started) * 1000)
        if response.status_code >= 400:
            raise status_error(response)
        try:
            return json.loads(response.content), latency_ms
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedResponse(f"Endpoint answered {path} with a body that is not JSON") from exc

    async def request_json(self, method: str, path: str, payload: dict[str, Any] | None = None) -> tuple[Any, int]:
        """JSON body and latency of a call, retried on 429, 5xx, time-outs and connection errors."""
        attempt = 0
        while True:
            try:
                return await self._attempt(method, path, payload)
            except AdapterError as exc:
                if not exc.retryable or attempt >= self.max_retries:
                    if attempt:
                        exc.message = f"{exc.message} (after {attempt + 1} attempts)"
                        exc.args = (exc.message,)
                    raise
                delay = self.backoff_delay(attempt, exc.retry_after_s)
                if exc.status == 429:  # every caller of this endpoint backs off, not just this one
                    await self.gate.slow_down(delay)
                log.info("retrying %s%s in %.2fs: %s", self.base_url, path, delay, exc.message)
            attempt += 1
            await asyncio.sleep(delay)

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """One chat completion: POST {base}/chat/completions."""
        payload = {**request.params, "model": request.model, "messages": request.messages}
        body, latency_ms = await self.request_json("POST", "/chat/completions", payload)
        return parse_chat_body(body, request, latency_ms)

    async def list_models(self) -> list[str]:
        """Model ids from GET {base}/models (OpenAI `data[].id` or Ollama-like `models[].name`)."""
        body, _ = await self.request_json("GET", "/models")
        if isinstance(body, dict) and isinstance(body.get("data"), list):
            return [str(m["id"]) for m in body["data"] if isinstance(m, dict) and "id" in m]
        if isinstance(body, dict) and isinstance(body.get("models"), list):
            return [str(m.get("name") or m.get("model")) for m in body["models"]
                    if isinstance(m, dict) and (m.get("name") or m.get("model"))]
        raise MalformedResponse("Endpoint answered /models without a `data` list")

    async def embed(self, model: str, inputs: list[str]) -> list[list[float]]:
        """One vector per input from POST {base}/embeddings."""
        body, _ = await self.request_json("POST", "/embeddings", {"model": model, "input": inputs})
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or len(data) != len(inputs):
            raise MalformedResponse("Endpoint answered /embeddings without one `data` item per input")
        try:
            ordered = sorted(data, key=lambda item: int(item.get("index", 0)))
            return [[float(x) for x in item["embedding"]] for item in ordered]
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise MalformedResponse("Endpoint answered /embeddings with an item without a numeric `embedding`") \
                from exc

    async def aclose(self) -> None:
        """Close the HTTP client when this adapter created it."""
        if self._owns_client:
            await self._client.aclose()
