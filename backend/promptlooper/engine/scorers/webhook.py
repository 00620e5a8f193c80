"""`webhook`: POST {"input", "output", "reference", "context"} to a URL and read {"score": x} back."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
from pydantic import BaseModel, Field, field_validator

from promptlooper.netguard import check_url, guarded_transport

from .base import ScoreContext, ScorerConfig, ScoreResult

_BACKOFF_S = 0.2
ENCRYPTED_PREFIX = "fernet:"
"""Header values stored by the app are `fernet:<token>`; the scorer reveals them only to send them."""
REVEAL_KEY = "reveal_secret"
"""`ScoreContext.extras[REVEAL_KEY]`: the app's `(stored value) -> clear text` for encrypted header values."""


class _Unrevealable(Exception):
    """An encrypted header value that this process cannot decrypt."""


def _clear_headers(headers: dict[str, str], extras: dict[str, Any]) -> dict[str, str]:
    reveal = extras.get(REVEAL_KEY)
    clear: dict[str, str] = {}
    for name, value in headers.items():
        if value.startswith(ENCRYPTED_PREFIX):
            revealed = reveal(value) if callable(reveal) else None
            if revealed is None:
                raise _Unrevealable(name)
            value = str(revealed)
        clear[name] = value
    return clear


class WebhookConfig(ScorerConfig):
    """Config of the webhook scorer."""

    url: str = Field(min_length=1, description="http(s) URL that answers the POST with {\"score\": x}, x in [0, 1].")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers, e.g. Authorization.")
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Per-attempt timeout in seconds.")
    retries: int = Field(default=2, ge=0, le=5, description="Retries after a connection error, a time-out or a 5xx.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        try:
            parsed = httpx2.URL(url.strip())
        except (httpx2.InvalidURL, TypeError, ValueError) as exc:
            raise ValueError(f"not a valid URL: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("the url must be an http:// or https:// URL with a host")
        if parsed.userinfo:
            raise ValueError("the url must not contain credentials (user:password@): send them in `headers`, "
                             "which are stored encrypted and never shown")
        check_url(str(parsed))
        return url.strip()


class _Retryable(Exception):
    """An attempt that may succeed when tried again."""


def _read_score(response: httpx2.Response) -> ScoreResult:
    try:
        body = response.json()
    except ValueError:
        return ScoreResult(0.0, {"reason": "the webhook answered a body that is not JSON",
                                 "body": response.text[:300]})
    raw = body.get("score") if isinstance(body, dict) else None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return ScoreResult(0.0, {"reason": "the webhook's answer has no numeric `score`", "body": str(body)[:300]})
    meta: dict[str, Any] = {"raw": raw}
    if isinstance(body, dict) and isinstance(body.get("metadata"), dict):
        meta["webhook"] = body["metadata"]
    return ScoreResult(float(raw), meta)


async def _attempt(client: httpx2.AsyncClient, config: WebhookConfig, payload: dict[str, Any],
                   headers: dict[str, str]) -> ScoreResult:
    try:
        response = await client.post(config.url, json=payload, headers=headers)
    except httpx2.TimeoutException as exc:
        raise _Retryable(f"timed out after {config.timeout_s:g}s") from exc
    except httpx2.TransportError as exc:
        raise _Retryable(f"could not connect: {type(exc).__name__} {exc}".strip()) from exc
    if response.status_code >= 500:
        raise _Retryable(f"answered {response.status_code}")
    if response.status_code >= 400:
        return ScoreResult(0.0, {"reason": f"the webhook answered {response.status_code}",
                                 "body": response.text[:300]})
    return _read_score(response)


class WebhookScorer:
    """Asks an HTTP service for the score, retrying transient failures with a short backoff."""

    id = "webhook"
    description = ("POSTs {input, output, reference, context} as JSON to a URL and uses the {\"score\": x} it "
                   "answers; failures score 0 with the reason.")
    config_model: type[BaseModel] = WebhookConfig
    admin_only = False

    async def score(self, input: str, output: str, context: ScoreContext, config: BaseModel) -> ScoreResult:
        """Score one output."""
        assert isinstance(config, WebhookConfig)
        payload = {"input": input, "output": output, "reference": context.reference,
                   "context": {"sample_id": context.sample.id, "vars": context.vars, "run_config": context.run_config}}
        try:
            headers = _clear_headers(config.headers, context.extras)
        except _Unrevealable as exc:
            return ScoreResult(0.0, {"reason": f"the webhook's `{exc}` header cannot be decrypted here "
                                               "(was ENCRYPTION_KEY changed?)"})
        last = ""
        # The SSRF guard refuses link-local and metadata targets after DNS resolution.
        async with httpx2.AsyncClient(timeout=config.timeout_s, follow_redirects=False,
                                     transport=guarded_transport()) as client:
            for attempt in range(config.retries + 1):
                if attempt:
                    await asyncio.sleep(_BACKOFF_S * 2 ** (attempt - 1))
                try:
                    result = await _attempt(client, config, payload, headers)
                except _Retryable as exc:
                    last = str(exc)
                    continue
                result.metadata["attempts"] = attempt + 1
                return result
        return ScoreResult(0.0, {"reason": f"the webhook failed: {last}", "attempts": config.retries + 1})
