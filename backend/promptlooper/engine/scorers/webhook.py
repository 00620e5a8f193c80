"""`webhook`: POST {"input", "output", "reference", "context"} to a URL and read {"score": x} back."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from pydantic import BaseModel, Field, field_validator

from .base import ScoreContext, ScorerConfig, ScoreResult

_BACKOFF_S = 0.2


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
            parsed = httpx.URL(url.strip())
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise ValueError(f"not a valid URL: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("the url must be an http:// or https:// URL with a host")
        return url.strip()


class _Retryable(Exception):
    """An attempt that may succeed when tried again."""


def _read_score(response: httpx.Response) -> ScoreResult:
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


async def _attempt(client: httpx.AsyncClient, config: WebhookConfig, payload: dict[str, Any]) -> ScoreResult:
    try:
        response = await client.post(config.url, json=payload, headers=config.headers)
    except httpx.TimeoutException as exc:
        raise _Retryable(f"timed out after {config.timeout_s:g}s") from exc
    except httpx.TransportError as exc:
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
        last = ""
        async with httpx.AsyncClient(timeout=config.timeout_s, follow_redirects=False) as client:
            for attempt in range(config.retries + 1):
                if attempt:
                    await asyncio.sleep(_BACKOFF_S * 2 ** (attempt - 1))
                try:
                    result = await _attempt(client, config, payload)
                except _Retryable as exc:
                    last = str(exc)
                    continue
                result.metadata["attempts"] = attempt + 1
                return result
        return ScoreResult(0.0, {"reason": f"the webhook failed: {last}", "attempts": config.retries + 1})
