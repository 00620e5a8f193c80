"""SQLAlchemy 2 typed models: every table of the spec plus what the contract needs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

JSONType = JSON().with_variant(JSONB(), "postgresql")
# Python None stored as SQL NULL (not JSON null), so `IS NULL` finds it.
NullableJSON = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def utcnow() -> datetime:
    """Aware UTC now."""
    return datetime.now(UTC)


class RunStatus(StrEnum):
    """Every status a run can have (the `runs.status` column stores the value)."""

    PENDING = "pending"  # persisted, waiting for an executor
    RUNNING = "running"  # claimed by an executor
    COMPLETED = "completed"  # every sample answered (some calls may be cache hits)
    CACHED = "cached"  # every call was a cache hit
    FAILED = "failed"
    PRUNED = "pruned"  # stopped early by the sweep's strategy (e.g. successive halving)
    CANCELLED = "cancelled"  # stopped by the user while in flight

    @classmethod
    def open(cls) -> tuple[RunStatus, ...]:
        """Not finished: an executor will (still) run it."""
        return (cls.PENDING, cls.RUNNING)

    @classmethod
    def done(cls) -> tuple[RunStatus, ...]:
        """Finished by executing (counted in a sweep's progress; a pruned run executed part of the samples)."""
        return (cls.COMPLETED, cls.CACHED, cls.FAILED, cls.PRUNED)

    @classmethod
    def succeeded(cls) -> tuple[RunStatus, ...]:
        """Finished with outputs worth scoring (a new best can only be one of these)."""
        return (cls.COMPLETED, cls.CACHED)


class RunOrigin(StrEnum):
    """Who proposed a run (the `runs.origin` column). A plugin strategy's runs carry its sweep type."""

    GRID = "grid"  # a grid sweep's expansion
    RANDOM = "random"  # a random sweep's draws
    SAMPLER = "sampler"  # a guided sweep's sampler (Optuna TPE, or its random fallback)
    AGENT = "agent"  # added to a sweep over POST /sweeps/{id}/runs or MCP add_sweep_configs
    REDIRECT = "redirect"  # added to a running or paused sweep by a redirect of its parameter space
    REWRITE = "rewrite"  # an approved prompt proposal of the optimizer model (services/proposals.py)
    USER = "user"  # one ad-hoc run (POST /runs, MCP run_single)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored with time zone and always read back as aware UTC (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base."""

    type_annotation_map = {dict[str, Any]: JSONType, list[Any]: JSONType, datetime: UTCDateTime}


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


class User(Base):
    """A person who logs in."""

    __tablename__ = "users"
    id: Mapped[uuid.UUID] = _uuid_pk()
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A programmatic credential; only the SHA-256 of the key is stored."""

    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class AppSetting(Base):
    """Admin-editable settings, one row per key."""

    __tablename__ = "app_settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Project(Base):
    """A workspace grouping experiments."""

    __tablename__ = "projects"
    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    experiments: Mapped[list[Experiment]] = relationship(
        back_populates="project", cascade="all, delete-orphan", passive_deletes=True
    )


class Experiment(Base):
    """Sample data, pipeline stages, scorers and a parameter space."""

    __tablename__ = "experiments"
    id: Mapped[uuid.UUID] = _uuid_pk()
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    sample_data: Mapped[list[Any]] = mapped_column(default=list)
    pipeline_stages: Mapped[list[Any]] = mapped_column(default=list)
    scoring_config: Mapped[list[Any]] = mapped_column(default=list)
    parameter_space: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # {parameter_space key: [a name per value]} for swept prompts ("concise", ...); "" = the default "v<n>"
    variant_names: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # Where a fork came from; plain ids (no foreign key): the origin may be deleted, the history stays.
    forked_from_experiment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    forked_from_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    project: Mapped[Project] = relationship(back_populates="experiments")


class LLMEndpoint(Base):
    """An OpenAI-compatible target; the API key is stored encrypted."""

    __tablename__ = "llm_endpoints"
    id: Mapped[uuid.UUID] = _uuid_pk()
    label: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000))
    api_key_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    max_concurrency: Mapped[int] = mapped_column(Integer, default=8)
    pricing: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Sweep(Base):
    """A batch of runs exploring an experiment's parameter space."""

    __tablename__ = "sweeps"
    id: Mapped[uuid.UUID] = _uuid_pk()
    experiment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="running")
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total_runs: Mapped[int] = mapped_column(Integer, default=0)
    tokens_in: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens_out: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_estimate: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the sweep last (re)started running (start, resume, restart): the ETA is this session's pace.
    resumed_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class Run(Base):
    """One resolved configuration applied to every sample."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_experiment_score", "experiment_id", "weighted_score"),
        Index("ix_runs_experiment_status", "experiment_id", "status"),
        Index("ix_runs_sweep_status", "sweep_id", "status"),
        Index("ix_runs_experiment_hash", "experiment_id", "config_hash"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    experiment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    sweep_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sweeps.id", ondelete="SET NULL"))
    config_hash: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    repeat_index: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    cost_estimate: Mapped[float] = mapped_column(Float, default=0.0)
    llm_calls: Mapped[int] = mapped_column(Integer, default=0)
    cache_hits: Mapped[int] = mapped_column(Integer, default=0)
    # What was paid for: only the calls actually made (tokens_in/out and cost_estimate above count
    # every answer of the run, cache hits included, so that configurations compare).
    tokens_in_spent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tokens_out_spent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost_spent: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    llm_calls_paid: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    weighted_score: Mapped[float | None] = mapped_column(Float, default=None)
    rejected: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    # Early stopping (successive halving): the sample ids this run is evaluated on (None: every
    # sample; a continued run gets a larger set and adds only the missing samples), and how many
    # samples its scores cover.
    sample_ids: Mapped[list[Any] | None] = mapped_column(NullableJSON, default=None)
    samples_evaluated: Mapped[int | None] = mapped_column(Integer, default=None)
    # Who proposed the run (`RunOrigin`; a plugin strategy's proposals carry its sweep type).
    origin: Mapped[str] = mapped_column(String(20), default="user", server_default="user")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def partial(self) -> bool:
        """Evaluated on a subset of the samples (early stopping: pruned, or not yet continued)."""
        return self.sample_ids is not None

    stage_rows: Mapped[list[StageResult]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="StageResult.seq"
    )
    score_rows: Mapped[list[Score]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class StageResult(Base):
    """One LLM call of a run: a stage applied to a sample."""

    __tablename__ = "stage_results"
    id: Mapped[uuid.UUID] = _uuid_pk()
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    stage_index: Mapped[int] = mapped_column(Integer)
    stage_name: Mapped[str] = mapped_column(String(200))
    sample_id: Mapped[str] = mapped_column(String(200))
    prompt_sent: Mapped[str] = mapped_column(Text)
    response_raw: Mapped[str | None] = mapped_column(Text, default=None)
    model_used: Mapped[str] = mapped_column(String(300))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    cache_key: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class Score(Base):
    """One scorer's value for a run, in [0, 1]."""

    __tablename__ = "scores"
    id: Mapped[uuid.UUID] = _uuid_pk()
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    scorer_name: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutputRating(Base):
    """One person's 1-5 rating of one output (a run applied to one sample); rating again replaces it."""

    __tablename__ = "output_ratings"
    __table_args__ = (UniqueConstraint("run_id", "sample_id", "rater", name="uq_output_ratings_run_sample_rater"),)
    id: Mapped[uuid.UUID] = _uuid_pk()
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    sample_id: Mapped[str] = mapped_column(String(200))
    rater: Mapped[str] = mapped_column(String(200))  # the principal's username (a static key has no user row)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ResponseCache(Base):
    """A cached LLM response keyed by the SHA-256 of the full request."""

    __tablename__ = "response_cache"
    config_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    response: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(300))
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookConfig(Base):
    """An outgoing webhook for an event type."""

    __tablename__ = "webhooks"
    id: Mapped[uuid.UUID] = _uuid_pk()
    event_type: Mapped[str] = mapped_column(String(50))
    url: Mapped[str] = mapped_column(String(2000))
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The `whsec_...` signing secret, Fernet-encrypted (None for webhooks made before signing: rotate).
    secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)


class WebhookDelivery(Base):
    """The outbox: one event to one webhook, written with the event and sent after commit.

    `id` is the `X-PromptLooper-Delivery` header, the same on every attempt. `next_attempt_at` is
    when a sender may take it next (None once delivered or given up); a sender claims a row by
    moving it forward by the claim lease, so a sender that dies mid-send leaves it due again.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(50))
    body: Mapped[str] = mapped_column(Text)  # the exact bytes signed and sent on every attempt
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    duration_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[list[Any]] = mapped_column(default=list)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """A persisted live event, served to polling clients by sequence number."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_experiment_seq", "experiment_id", "seq"),
        # The dashboard rebuilds a sweep's state from its milestone events (`?type=`) on page open.
        Index("ix_events_experiment_type_seq", "experiment_id", "type", "seq"),
    )
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    type: Mapped[str] = mapped_column(String(50))
    experiment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    sweep_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ts: Mapped[datetime] = mapped_column(default=utcnow)


class SavedConfig(Base):
    """An approved configuration kept in its project's memory (it outlives the run and experiment)."""

    __tablename__ = "saved_configs"
    __table_args__ = (
        Index("ix_saved_configs_project_approved", "project_id", "approved_at"),
        Index("ix_saved_configs_experiment_approved", "experiment_id", "approved_at"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    experiment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    name: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text, default=None)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    config_hash: Mapped[str] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float, default=None)
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    approved_by: Mapped[str | None] = mapped_column(String(150), default=None)
    approved_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExportRecord(Base):
    """One export served (any format, REST or MCP): what was exported, by whom, when."""

    __tablename__ = "export_records"
    __table_args__ = (Index("ix_export_records_project_created", "project_id", "created_at"),)
    id: Mapped[uuid.UUID] = _uuid_pk()
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    experiment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    saved_config_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    format: Mapped[str] = mapped_column(String(20))
    config_hash: Mapped[str] = mapped_column(String(64))
    user: Mapped[str | None] = mapped_column(String(150), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProposalRound(Base):
    """One call of a guided sweep's optimizer model (claimed before the call, so one caller makes it).

    Its tokens and cost count in the sweep's spent/saved and budget like a run's (`*_spent`: paid only).
    """

    __tablename__ = "proposal_rounds"
    __table_args__ = (UniqueConstraint("sweep_id", "round", name="uq_proposal_rounds_sweep_round"),)
    id: Mapped[uuid.UUID] = _uuid_pk()
    sweep_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)  # 1, 2, ...: due after round * every finished runs
    status: Mapped[str] = mapped_column(String(20), default="generating")  # generating | done | failed
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    tokens_in_spent: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out_spent: Mapped[int] = mapped_column(Integer, default=0)
    cost_spent: Mapped[float] = mapped_column(Float, default=0.0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class PromptProposal(Base):
    """A prompt variant an optimizer model proposed for a guided sweep (pending until approved)."""

    __tablename__ = "prompt_proposals"
    __table_args__ = (Index("ix_prompt_proposals_sweep_created", "sweep_id", "created_at"),)
    id: Mapped[uuid.UUID] = _uuid_pk()
    sweep_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"))
    experiment_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    round_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    stage: Mapped[str] = mapped_column(String(200))
    stage_index: Mapped[int] = mapped_column(Integer, default=0)
    field: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    proposed_text: Mapped[str] = mapped_column(Text)  # what the optimizer wrote (text may be edited on approval)
    diff_base: Mapped[str | None] = mapped_column(Text, default=None)  # the best run's prompt when proposed
    base_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | approved | rejected
    dropped: Mapped[bool] = mapped_column(Boolean, default=False)  # refused by the checks, never pending
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    projected_tokens: Mapped[int] = mapped_column(Integer, default=0)
    projected_cost: Mapped[float] = mapped_column(Float, default=0.0)
    projected_calls: Mapped[int] = mapped_column(Integer, default=0)
    run_ids: Mapped[list[Any]] = mapped_column(default=list)
    decided_by: Mapped[str | None] = mapped_column(String(150), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
