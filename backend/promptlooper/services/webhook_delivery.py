"""Webhooks, delivered: the outbox written with each event, signing, and the senders that retry.

1. `Outbox.write` runs inside the event bus's persistence transaction (`events/bus.py`
   `EventBus._persist`): for every persisted event of a public webhook type it inserts one
   `WebhookDelivery` row per matching active webhook. The event and its deliveries commit together.
2. A `WebhookSender` picks due rows (`next_attempt_at <= now`), claims them by moving
   `next_attempt_at` forward by a lease (under `FOR UPDATE SKIP LOCKED` on Postgres, so several
   workers never take the same row), commits the claim, then POSTs. A sender that dies mid-send
   leaves the row due again when the lease runs out: every delivery is sent at least once, and the
   `X-PromptLooper-Delivery` id (the row id, the same on every attempt) lets receivers drop repeats.
3. Any 2xx is delivered. Timeouts, connection errors, 5xx and 429 are retried after
   `webhook_backoff_s * 2**(attempt-1)` (at most 1 h, at least the response's Retry-After) up to
   `webhook_max_attempts` tries; other answers (3xx are not followed, 4xx) are not retried.

In-process mode the API process runs the sender (started with the runtime); in production mode
every worker runs one (`services/production.start_worker_runtime`) and the API process only writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx2
from cryptography.fernet import InvalidToken
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper import __version__
from promptlooper.db import session_scope
from promptlooper.models import Run, Score, Sweep, WebhookConfig, WebhookDelivery

if TYPE_CHECKING:
    from promptlooper.context import AppContext
    from promptlooper.events.bus import LiveEvent

log = logging.getLogger("promptlooper.webhooks")

# The event types a webhook can subscribe to (the spec's table, plus the steering events).
# `*` subscribes to all of them; per-run chatter (run.started, run.completed, progress) is not sent.
PUBLIC_TYPES: tuple[str, ...] = (
    "experiment.started",
    "experiment.completed",
    "experiment.paused",
    "experiment.resumed",
    "new_best_found",
    "budget.exhausted",
    "human_needed",
    "run.failed",
    "run.approved",
    "run.rejected",
    "experiment.redirected",
    "proposal.created",
    "proposal.approved",
    "proposal.rejected",
)
# Internal event types that go out under another (spec) name. `sweep.started` is not mapped: the
# sweep also emits `experiment.started` itself, which is what webhooks get.
TYPE_MAP: dict[str, str] = {
    "sweep.redirected": "experiment.redirected",
    "sweep.resumed": "experiment.resumed",
    "proposal.pending": "proposal.created",
    "config.approved": "run.approved",  # services/steering.approve_run
}
PING = "ping"
MAX_BACKOFF_S = 3600.0
MAX_RETRY_AFTER_S = 24 * 3600.0
SECRET_PREFIX = "whsec_"
# A webhook's own headers cannot replace these (the request's framing and target stay ours).
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "content-type"})


def public_type(internal: str) -> str | None:
    """The webhook event type an internal event goes out as (None: not sent to webhooks)."""
    mapped = TYPE_MAP.get(internal, internal)
    return mapped if mapped in PUBLIC_TYPES else None


# ---- secrets and signatures ---------------------------------------------------------------------


def new_secret() -> str:
    """A fresh signing secret (shown to the user once)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def encrypt_secret(ctx: AppContext, secret: str) -> str:
    """The secret as stored (Fernet, like endpoint API keys)."""
    return ctx.settings.secrets.fernet.encrypt(secret.encode()).decode()


def decrypt_secret(ctx: AppContext, hook: WebhookConfig) -> str | None:
    """The secret in clear, for signing only (None: a webhook from before signing, or a changed key)."""
    if not hook.secret_encrypted:
        return None
    try:
        return ctx.settings.secrets.fernet.decrypt(hook.secret_encrypted.encode()).decode()
    except InvalidToken:
        return None


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def custom_headers(ctx: AppContext, hook: WebhookConfig) -> dict[str, str]:
    """The webhook's own headers in clear (the one place that reads them for sending; stored sealed)."""
    from promptlooper.services.secrets import reveal

    clear = {str(k): reveal(ctx, str(v)) for k, v in (hook.headers or {}).items()}
    return {k: v for k, v in clear.items() if v is not None}


# ---- retry policy -------------------------------------------------------------------------------


def backoff_s(base_s: float, failed_attempt: int) -> float:
    """Delay after the n-th failed attempt: base, 2 x base, 4 x base ... capped at 1 h."""
    return float(min(base_s * 2 ** (failed_attempt - 1), MAX_BACKOFF_S))


def retry_schedule(base_s: float, max_attempts: int) -> list[float]:
    """Seconds after the first attempt at which each later attempt is made (for docs and tests)."""
    at, out = 0.0, []
    for n in range(1, max_attempts):
        at += backoff_s(base_s, n)
        out.append(at)
    return out


def retry_after_s(value: str | None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) in seconds from now, bounded."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))


def retryable(status_code: int | None) -> bool:
    """Timeouts and connection errors (no status), 5xx and 429 are retried; anything else is final."""
    return status_code is None or status_code == 429 or status_code >= 500


# ---- the outbox ---------------------------------------------------------------------------------


def event_id(seq: int | None) -> str:
    """The body's `id` for a persisted event."""
    return f"evt_{seq}"


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def dumps(body: dict[str, Any]) -> str:
    """The exact body text that is signed and sent."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True, default=str)


async def _enrich(session: AsyncSession, kind: str, event: LiveEvent) -> dict[str, Any]:
    """The spec's payload: the event's data plus what the webhook table promises."""
    data = dict(event.data)
    for key, value in (("sweep_id", event.sweep_id), ("run_id", event.run_id)):
        if value is not None:
            data.setdefault(key, str(value))
    if kind == "experiment.started" and event.sweep_id is not None:
        sweep = await session.get(Sweep, event.sweep_id)
        if sweep is not None:
            data.setdefault("sweep", {"id": str(sweep.id), "type": sweep.type, "options": sweep.options,
                                      "total_runs": sweep.total_runs})
    elif kind == "experiment.completed" and event.experiment_id is not None:
        data.setdefault("best", await _best_run(session, event.experiment_id))
    elif kind == "new_best_found" and event.run_id is not None and "scores" not in data:
        data["scores"] = await _scores(session, event.run_id)
    return data


async def _best_run(session: AsyncSession, experiment_id: uuid.UUID) -> dict[str, Any] | None:
    run = await session.scalar(
        select(Run)
        .where(Run.experiment_id == experiment_id, Run.weighted_score.is_not(None), Run.rejected.is_(False),
               Run.sample_ids.is_(None))  # scored on every sample: a pruned run's partial score never leads
        .order_by(Run.weighted_score.desc(), Run.created_at)
        .limit(1)
    )
    if run is None:
        return None
    return {"run_id": str(run.id), "weighted_score": run.weighted_score, "config": run.config,
            "scores": await _scores(session, run.id)}


async def _scores(session: AsyncSession, run_id: uuid.UUID) -> dict[str, float]:
    rows = await session.execute(select(Score.scorer_name, Score.value).where(Score.run_id == run_id))
    return {name: value for name, value in rows.all()}


def body_for(kind: str, event_key: str, experiment_id: uuid.UUID | None, data: dict[str, Any],
             created_at: datetime) -> str:
    """The delivery body of CONTRACT.md."""
    return dumps({"id": event_key, "type": kind, "experiment_id": str(experiment_id) if experiment_id else None,
                  "data": data, "created_at": _iso(created_at)})


class Outbox:
    """Writes deliveries inside the event bus's transaction and wakes this process's sender."""

    def __init__(self) -> None:
        self._listeners: list[asyncio.Event] = []

    def listen(self) -> asyncio.Event:
        """An asyncio.Event set whenever deliveries were committed by this process."""
        wake = asyncio.Event()
        self._listeners.append(wake)
        return wake

    def committed(self) -> None:
        """Called by the bus after the commit that wrote deliveries."""
        for wake in self._listeners:
            wake.set()

    async def write(self, session: AsyncSession, events: list[LiveEvent]) -> int:
        """Add the deliveries of persisted events (with their `seq`) to the session; answers how many."""
        wanted = [(kind, e) for e in events if (kind := public_type(e.type)) is not None]
        if not wanted:
            return 0
        hooks = (await session.scalars(select(WebhookConfig).where(WebhookConfig.is_active.is_(True)))).all()
        if not hooks:
            return 0
        count = 0
        now = datetime.now(UTC)
        for kind, event in wanted:
            targets = [h for h in hooks if h.event_type in ("*", kind)]
            if not targets:
                continue
            body = body_for(kind, event_id(event.seq), event.experiment_id, await _enrich(session, kind, event),
                            event.ts)
            for hook in targets:
                session.add(WebhookDelivery(webhook_id=hook.id, event_id=event_id(event.seq), event_type=kind,
                                            body=body, next_attempt_at=now, created_at=now))
                count += 1
        if count:
            await session.flush()
        return count


# ---- sending ------------------------------------------------------------------------------------


@dataclass
class _Job:
    delivery_id: uuid.UUID
    attempt: int
    event_type: str
    body: str
    url: str
    headers: dict[str, str]
    secret: str | None


@dataclass
class AttemptResult:
    """What one POST did."""

    status_code: int | None
    duration_ms: int
    error: str | None
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


def _claim_lease_s(ctx: AppContext) -> float:
    """How long a claimed delivery stays with its sender: past the POST's timeout, then it is due again."""
    return ctx.settings.webhook_timeout_s * 2 + 1.0


async def claim(ctx: AppContext, limit: int = 20, delivery_id: uuid.UUID | None = None) -> list[_Job]:
    """Take due deliveries (or one given delivery) by moving them past a lease, and commit that."""
    now = datetime.now(UTC)
    jobs: list[_Job] = []
    async with session_scope(ctx.sessionmaker) as session:
        stmt = select(WebhookDelivery).where(WebhookDelivery.next_attempt_at.is_not(None))
        if delivery_id is not None:
            stmt = stmt.where(WebhookDelivery.id == delivery_id)
        else:
            stmt = stmt.where(WebhookDelivery.next_attempt_at <= now).order_by(WebhookDelivery.next_attempt_at)
        stmt = stmt.limit(limit)
        if not ctx.settings.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = (await session.scalars(stmt)).all()
        if not rows:
            return []
        hooks = {h.id: h for h in (await session.scalars(
            select(WebhookConfig).where(WebhookConfig.id.in_({r.webhook_id for r in rows})))).all()}
        lease = now + timedelta(seconds=_claim_lease_s(ctx))
        usable = {h.id: (h, decrypt_secret(ctx, h)) for h in hooks.values()}
        disabled = [r.id for r in rows if r.webhook_id not in usable
                    or (not usable[r.webhook_id][0].is_active and r.event_type != PING)]
        if disabled:
            await session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(disabled))
                                  .values(next_attempt_at=None, error="webhook disabled before delivery")
                                  .execution_options(synchronize_session=False))
        wanted = {r.id: r for r in rows if r.id not in set(disabled)}
        if not wanted:
            return []
        # Guarded: a second sender (another process on SQLite, which has no row locks) that read the
        # same rows first has moved them past `now` (or its own lease), and this update skips them.
        guard = (WebhookDelivery.next_attempt_at == rows[0].next_attempt_at if delivery_id is not None
                 else WebhookDelivery.next_attempt_at <= now)
        taken = await session.scalars(
            update(WebhookDelivery).where(WebhookDelivery.id.in_(list(wanted)), guard)
            .values(next_attempt_at=lease).returning(WebhookDelivery.id)
            .execution_options(synchronize_session=False)
        )
        for taken_id in taken.all():
            row = wanted[taken_id]
            hook, secret = usable[row.webhook_id]
            jobs.append(_Job(row.id, row.attempt + 1, row.event_type, row.body, hook.url,
                             custom_headers(ctx, hook), secret))
    return jobs


async def post(client: httpx2.AsyncClient, job: _Job, timeout_s: float) -> AttemptResult:
    """One signed POST of a delivery."""
    body = job.body.encode()
    timestamp = int(time.time())
    headers = {k: v for k, v in job.headers.items() if k.lower() not in RESERVED_HEADERS} | {
        "Content-Type": "application/json",
        "User-Agent": f"PromptLooper-Webhooks/{__version__}",
        "X-PromptLooper-Event": job.event_type,
        "X-PromptLooper-Delivery": str(job.delivery_id),
        "X-PromptLooper-Timestamp": str(timestamp),
    }
    if job.secret:
        headers["X-PromptLooper-Signature"] = sign(job.secret, timestamp, body)
    started = time.perf_counter()
    try:
        response = await client.post(job.url, content=body, headers=headers, timeout=timeout_s)
    except httpx2.TimeoutException:
        return AttemptResult(None, _ms(started), f"timed out after {timeout_s:g} s")
    except (httpx2.HTTPError, httpx2.InvalidURL, OSError, ValueError) as exc:  # refused, reset, bad URL ...
        return AttemptResult(None, _ms(started), f"{type(exc).__name__}: {exc}"[:500])
    duration = _ms(started)
    if 200 <= response.status_code < 300:
        return AttemptResult(response.status_code, duration, None)
    error = f"HTTP {response.status_code}" + (" (redirects are not followed)" if 300 <= response.status_code < 400
                                              else "")
    return AttemptResult(response.status_code, duration, error, retry_after_s(response.headers.get("retry-after")))


def http_client() -> httpx2.AsyncClient:
    """The senders' HTTP client: redirects are not followed, proxies from the environment not used, and
    every connection goes through the SSRF guard (link-local and metadata addresses refused after DNS)."""
    from promptlooper.netguard import guarded_transport

    return httpx2.AsyncClient(follow_redirects=False, trust_env=False, transport=guarded_transport())


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def record(ctx: AppContext, outcomes: list[tuple[_Job, AttemptResult]]) -> None:
    """Write attempts' outcomes and when (if ever) to try each again, in one transaction."""
    now = datetime.now(UTC)
    async with session_scope(ctx.sessionmaker) as session:
        rows = {r.id: r for r in (await session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.id.in_([job.delivery_id for job, _ in outcomes])))).all()}
        for job, result in outcomes:
            row = rows.get(job.delivery_id)
            if row is None:  # the webhook was deleted meanwhile
                continue
            _apply(ctx, row, job, result, now)


def _apply(ctx: AppContext, row: WebhookDelivery, job: _Job, result: AttemptResult, now: datetime) -> None:
    row.attempt = job.attempt
    row.status_code, row.duration_ms, row.error = result.status_code, result.duration_ms, result.error
    row.attempts = [*row.attempts, {"attempt": job.attempt, "at": _iso(now), "status_code": result.status_code,
                                    "duration_ms": result.duration_ms, "error": result.error}]
    if result.ok:
        row.delivered, row.next_attempt_at = True, None
    elif retryable(result.status_code) and job.attempt < ctx.settings.webhook_max_attempts:
        delay = max(backoff_s(ctx.settings.webhook_backoff_s, job.attempt), result.retry_after_s or 0.0)
        row.next_attempt_at = now + timedelta(seconds=delay)
    else:
        row.next_attempt_at = None
        if retryable(result.status_code):
            row.error = f"{result.error}; gave up after {job.attempt} attempts"


class WebhookSender:
    """Sends due deliveries: woken by this process's outbox, and polling for the rest."""

    def __init__(self, ctx: AppContext, outbox: Outbox | None = None, concurrency: int = 16) -> None:
        self.ctx = ctx
        self.wake = outbox.listen() if outbox is not None else asyncio.Event()
        self.concurrency = concurrency
        self.client = http_client()

    async def send_due(self) -> int:
        """Claim and send what is due now; answers how many attempts were made."""
        jobs = await claim(self.ctx, limit=self.concurrency * 4)
        if not jobs:
            return 0
        limiter = asyncio.Semaphore(self.concurrency)

        async def one(job: _Job) -> tuple[_Job, AttemptResult]:
            async with limiter:
                return job, await post_logged(self.client, job, self.ctx.settings.webhook_timeout_s)

        # One slow receiver must not hold the others' outcomes: record each wave as it completes.
        pending = {asyncio.ensure_future(one(job)) for job in jobs}
        while pending:
            done, pending = await asyncio.wait(pending, timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
            if done:
                await record(self.ctx, [task.result() for task in done])
        return len(jobs)

    async def run_forever(self) -> None:
        """The sender loop (a background task of the runtime)."""
        try:
            while True:
                self.wake.clear()
                try:
                    sent = await self.send_due()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database may be away for a moment; the rows wait for us
                    log.warning("webhook sender: %s: %s; retrying in 1 s", type(exc).__name__, exc)
                    sent = 0
                    await asyncio.sleep(1.0)
                if sent:
                    continue  # more may be due
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=self.ctx.settings.webhook_poll_s)
        finally:
            await self.client.aclose()


async def post_logged(client: httpx2.AsyncClient, job: _Job, timeout_s: float) -> AttemptResult:
    """`post`, logging a failed attempt."""
    result = await post(client, job, timeout_s)
    if not result.ok:
        log.info("webhook delivery %s attempt %d: %s", job.delivery_id, job.attempt, result.error)
    return result


async def deliver_now(ctx: AppContext, delivery_id: uuid.UUID) -> None:
    """Make one attempt of a delivery right away (a test ping); a retry is left to the senders."""
    jobs = await claim(ctx, limit=1, delivery_id=delivery_id)
    if not jobs:
        return
    async with http_client() as client:
        result = await post_logged(client, jobs[0], ctx.settings.webhook_timeout_s)
    await record(ctx, [(jobs[0], result)])


def ping_delivery(ctx: AppContext, hook: WebhookConfig) -> WebhookDelivery:
    """The outbox row of a test ping, held for `deliver_now` (a sender takes it only if that dies)."""
    now = datetime.now(UTC)
    key = f"ping_{uuid.uuid4().hex}"
    body = body_for(PING, key, None, {"webhook_id": str(hook.id), "event_type": hook.event_type,
                                      "message": "PromptLooper test delivery"}, now)
    return WebhookDelivery(webhook_id=hook.id, event_id=key, event_type=PING, body=body, created_at=now,
                           next_attempt_at=now + timedelta(seconds=_claim_lease_s(ctx)))


async def pending_count(session: AsyncSession) -> int:
    """Deliveries still waiting to be sent or retried."""
    return int(await session.scalar(
        select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.next_attempt_at.is_not(None))) or 0)
