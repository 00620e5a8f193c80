"""The webhook retry policy, signatures and event-type mapping (pure functions, no I/O)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from promptlooper.config import Settings
from promptlooper.schemas import WebhookCreate
from promptlooper.services.webhook_delivery import (
    PUBLIC_TYPES,
    backoff_s,
    new_secret,
    public_type,
    retry_after_s,
    retry_schedule,
    retryable,
    sign,
)


def test_default_policy_tries_at_least_five_times_over_at_least_ten_minutes() -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    schedule = retry_schedule(defaults.webhook_backoff_s, defaults.webhook_max_attempts)
    assert defaults.webhook_max_attempts >= 5 and len(schedule) == defaults.webhook_max_attempts - 1
    assert schedule[:4] == [30.0, 90.0, 210.0, 450.0]  # 30 s, then doubling
    assert schedule[-1] >= 600, f"the last try comes {schedule[-1]} s after the first"
    assert backoff_s(30, 20) == 3600.0, "capped at an hour"


def test_what_is_retried() -> None:
    assert retryable(None) and retryable(500) and retryable(503) and retryable(429)
    assert not any(retryable(code) for code in (400, 401, 403, 404, 410, 422, 301, 302))


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_after_s("120") == 120.0
    assert retry_after_s(None) is None and retry_after_s("soon") is None and retry_after_s("nan") is None
    assert retry_after_s("-5") == 0.0 and retry_after_s("9999999") == 24 * 3600.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    value = retry_after_s(later)
    assert value is not None and 85 <= value <= 91


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(secret) > 40 and new_secret() != secret
    body = b'{"id":"evt_1","type":"ping"}'
    expected = hmac.new(secret.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(secret, 1700000000, body) == "sha256=" + expected
    assert sign(secret, 1700000001, body) != sign(secret, 1700000000, body)


def test_internal_types_map_to_the_spec_and_chatter_is_not_sent() -> None:
    assert public_type("experiment.completed") == "experiment.completed"
    assert public_type("sweep.redirected") == "experiment.redirected"
    for internal in ("run.started", "run.completed", "run.cached", "sweep.progress", "stage.completed",
                     "sweep.started", "rescore.progress"):
        assert public_type(internal) is None
    accepted = set(WebhookCreate.model_fields["event_type"].annotation.__args__)  # type: ignore[union-attr]
    assert accepted == {*PUBLIC_TYPES, "*"}, "the REST model accepts exactly the delivered types"


def test_the_readme_verifier_accepts_a_delivery_once_and_rejects_forgeries_and_replays() -> None:
    import time
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    code = readme.split("<!-- verifier -->\n```python\n", 1)[1].split("```", 1)[0]
    assert len(code.strip().splitlines()) <= 14
    namespace: dict[str, object] = {}
    exec(compile(code, "README verifier", "exec"), namespace)  # our own documentation
    verify = namespace["verify"]
    assert callable(verify)
    secret, body, now = new_secret(), b'{"id":"evt_7","type":"ping"}', int(time.time())

    def headers(ts: int, delivery: str = "d-1", signature: str | None = None) -> dict[str, str]:
        return {"X-PromptLooper-Timestamp": str(ts), "X-PromptLooper-Delivery": delivery,
                "X-PromptLooper-Signature": signature or sign(secret, ts, body)}

    assert verify(secret, headers(now), body) is True
    assert verify(secret, headers(now), body) is False, "the same delivery id again is a repeat"
    assert verify(secret, headers(now, "d-2"), body + b" ") is False, "a changed body"
    assert verify(new_secret(), headers(now, "d-3"), body) is False, "another secret"
    assert verify(secret, headers(now - 3600, "d-4"), body) is False, "a stale timestamp"
    assert verify(secret, headers(now, "d-5", sign(secret, now - 1, body)), body) is False
    assert verify(secret, headers(now, "d-6"), body) is True
