"""Every live event type: one pydantic model per event's `data`, and the wire envelope of each.

`Runtime.publish` accepts only these models (`EventData` subclasses), so an event's payload is
validated where it is built; `LiveEventOut` is the discriminated union (on `type`) that the event
routes declare, which puts every event's `data` into the OpenAPI document and so into the
dashboard's generated client (`frontend/src/api/schema.d.ts`).

To add an event type: a data model here (with its `TYPE`), an envelope class, an entry in
`LiveEventOut`, then `make api-client`.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class EventData(BaseModel):
    """The `data` of one event type; `TYPE` is the event's `type`."""

    model_config = ConfigDict(extra="forbid")
    TYPE: ClassVar[str]


# --- sweeps and runs --------------------------------------------------------------------------


class SweepStarted(EventData):
    TYPE: ClassVar[str] = "sweep.started"
    type: str = Field(description="The sweep's strategy (grid, random, ...)")
    total: int
    options: dict[str, Any]


class ExperimentStarted(EventData):
    TYPE: ClassVar[str] = "experiment.started"
    total: int


class RunStarted(EventData):
    TYPE: ClassVar[str] = "run.started"
    config_hash: str
    origin: str | None = None  # who proposed the run (a run's `origin`)


class StageCompleted(EventData):
    TYPE: ClassVar[str] = "stage.completed"
    stage_index: int
    stage_name: str
    sample_id: str
    cached: bool
    tokens_in: int
    tokens_out: int
    latency_ms: int
    error: str | None


class RunFinished(EventData):
    """A run's result (the same fields for run.completed, run.cached and run.failed)."""

    status: str
    weighted_score: float | None
    scores: dict[str, float | None]
    error: str | None
    tokens_in: int
    tokens_out: int
    cost_estimate: float
    llm_calls: int
    cache_hits: int
    duration_ms: int | None
    config: dict[str, Any]
    # What was paid for (cache hits cost nothing); tokens_in/tokens_out/cost_estimate count every answer.
    tokens_in_spent: int = 0
    tokens_out_spent: int = 0
    cost_spent: float = 0.0
    llm_calls_paid: int = 0
    config_hash: str | None = None
    samples_evaluated: int | None = Field(None, description="Samples the scores cover (early stopping: a subset)")
    partial: bool = Field(False, description="Evaluated on a subset of the samples so far (early stopping)")
    origin: str | None = None  # who proposed the run (a run's `origin`)


class RunCompleted(RunFinished):
    TYPE: ClassVar[str] = "run.completed"


class RunCached(RunFinished):
    TYPE: ClassVar[str] = "run.cached"


class RunFailed(EventData):
    """A run failed; or, without a run_id, `runs` runs that could not start (their endpoint is gone)."""

    TYPE: ClassVar[str] = "run.failed"
    status: str = "failed"
    weighted_score: float | None = None
    scores: dict[str, float | None] = Field(default_factory=dict)
    error: str | None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_estimate: float = 0.0
    llm_calls: int = 0
    cache_hits: int = 0
    duration_ms: int | None = None
    config: dict[str, Any] | None = None
    # What was paid for (cache hits cost nothing); tokens_in/tokens_out/cost_estimate count every answer.
    tokens_in_spent: int = 0
    tokens_out_spent: int = 0
    cost_spent: float = 0.0
    llm_calls_paid: int = 0
    config_hash: str | None = None
    samples_evaluated: int | None = None
    partial: bool = False
    origin: str | None = None  # who proposed the run (a run's `origin`)
    runs: int = 1


class Progress(EventData):
    """A sweep's counters (services/sweep_policy.SweepProgress) and its ETA at this session's pace."""

    completed: int = Field(description="Runs done in any final status")
    total: int
    failed: int
    cached: int
    pruned: int = Field(0, description="Runs stopped early by successive halving (counted in `completed`)")
    tokens_in: int
    tokens_out: int
    cost_estimate: float
    eta_s: float | None = Field(description="Seconds left; null until a run of this session finished")
    # What was paid, and what the cache saved (the totals above count every answer, hits included).
    tokens_in_spent: int = 0
    tokens_out_spent: int = 0
    cost_spent: float = 0.0
    tokens_saved: int = 0
    cost_saved: float = 0.0
    llm_calls: int = Field(0, description="LLM calls paid for (cache hits apart)")
    cache_hits: int = 0


class SweepProgressed(Progress):
    TYPE: ClassVar[str] = "sweep.progress"


class NewBestFound(EventData):
    TYPE: ClassVar[str] = "new_best_found"
    weighted_score: float
    previous_best: float | None
    config: dict[str, Any]


class ExperimentPaused(Progress):
    TYPE: ClassVar[str] = "experiment.paused"
    reason: Literal["requested", "budget"]


class ExperimentResumed(EventData):
    TYPE: ClassVar[str] = "experiment.resumed"


class ExperimentCompleted(Progress):
    TYPE: ClassVar[str] = "experiment.completed"
    best_score: float | None
    stopped: bool = Field(default=False, description="Stopped by a user (runs not started were dropped)")
    cancelled: int = Field(default=0, description="Runs in flight that the stop cancelled")


class BudgetExhausted(EventData):
    TYPE: ClassVar[str] = "budget.exhausted"
    token_count: int
    cost: float
    max_tokens: int | None
    max_cost_usd: float | None


# --- people and rescoring -----------------------------------------------------------------------


class HumanNeeded(EventData):
    TYPE: ClassVar[str] = "human_needed"
    reason: str
    context: dict[str, Any] | None = None
    requested_by: str | None = None


class RescoreProgress(EventData):
    TYPE: ClassVar[str] = "rescore.progress"
    done: int
    total: int


class RescoreCompleted(EventData):
    TYPE: ClassVar[str] = "rescore.completed"
    runs: int


class ConfigApproved(EventData):
    """A run's configuration was approved into the project's saved configurations."""

    TYPE: ClassVar[str] = "config.approved"
    saved_config_id: str
    project_id: str
    name: str | None
    note: str | None
    config_hash: str
    score: float | None
    approved_by: str | None


class SweepRedirected(EventData):
    """A running or paused sweep's parameter space was changed (`POST /experiments/{id}/redirect`)."""

    TYPE: ClassVar[str] = "sweep.redirected"
    dropped: int = Field(description="Pending runs the new space no longer contains, deleted")
    added: int = Field(description="New pending runs (configurations not yet in the sweep nor evaluated)")
    total_runs: int = Field(description="Runs of the sweep after the redirect")


class ProposalEvent(EventData):
    """A prompt proposal of a guided sweep's optimizer (the same fields for created, approved, rejected)."""

    proposal_id: str
    stage: str
    field: str
    text: str
    status: str = Field(description="pending, approved or rejected")
    dropped: bool = Field(description="refused by the checks at once (the reason says why)")
    reason: str | None
    projected_cost: float
    run_ids: list[str] = Field(default_factory=list, description="runs made for it (approved)")
    decided_by: str | None = None


class ProposalCreated(ProposalEvent):
    TYPE: ClassVar[str] = "proposal.created"


class ProposalApproved(ProposalEvent):
    TYPE: ClassVar[str] = "proposal.approved"


class ProposalRejected(ProposalEvent):
    TYPE: ClassVar[str] = "proposal.rejected"


EVENT_DATA: dict[str, type[EventData]] = {
    cls.TYPE: cls
    for cls in (SweepStarted, ExperimentStarted, RunStarted, StageCompleted, RunCompleted, RunCached, RunFailed,
                SweepProgressed, NewBestFound, ExperimentPaused, ExperimentResumed, ExperimentCompleted,
                BudgetExhausted, HumanNeeded, RescoreProgress, RescoreCompleted, ConfigApproved,
                SweepRedirected, ProposalCreated, ProposalApproved, ProposalRejected)
}
EVENT_TYPES = frozenset(EVENT_DATA)


# --- the wire envelopes (CONTRACT "Live events"; `seq` for resuming) ------------------------------


class _Envelope(BaseModel):
    seq: int | None
    experiment_id: str | None
    sweep_id: str | None
    run_id: str | None
    ts: str


class SweepStartedEvent(_Envelope):
    type: Literal["sweep.started"]
    data: SweepStarted


class ExperimentStartedEvent(_Envelope):
    type: Literal["experiment.started"]
    data: ExperimentStarted


class RunStartedEvent(_Envelope):
    type: Literal["run.started"]
    data: RunStarted


class StageCompletedEvent(_Envelope):
    type: Literal["stage.completed"]
    data: StageCompleted


class RunCompletedEvent(_Envelope):
    type: Literal["run.completed"]
    data: RunCompleted


class RunCachedEvent(_Envelope):
    type: Literal["run.cached"]
    data: RunCached


class RunFailedEvent(_Envelope):
    type: Literal["run.failed"]
    data: RunFailed


class SweepProgressEvent(_Envelope):
    type: Literal["sweep.progress"]
    data: SweepProgressed


class NewBestFoundEvent(_Envelope):
    type: Literal["new_best_found"]
    data: NewBestFound


class ExperimentPausedEvent(_Envelope):
    type: Literal["experiment.paused"]
    data: ExperimentPaused


class ExperimentResumedEvent(_Envelope):
    type: Literal["experiment.resumed"]
    data: ExperimentResumed


class ExperimentCompletedEvent(_Envelope):
    type: Literal["experiment.completed"]
    data: ExperimentCompleted


class BudgetExhaustedEvent(_Envelope):
    type: Literal["budget.exhausted"]
    data: BudgetExhausted


class HumanNeededEvent(_Envelope):
    type: Literal["human_needed"]
    data: HumanNeeded


class RescoreProgressEvent(_Envelope):
    type: Literal["rescore.progress"]
    data: RescoreProgress


class RescoreCompletedEvent(_Envelope):
    type: Literal["rescore.completed"]
    data: RescoreCompleted


class ConfigApprovedEvent(_Envelope):
    type: Literal["config.approved"]
    data: ConfigApproved


class SweepRedirectedEvent(_Envelope):
    type: Literal["sweep.redirected"]
    data: SweepRedirected


class ProposalCreatedEvent(_Envelope):
    type: Literal["proposal.created"]
    data: ProposalCreated


class ProposalApprovedEvent(_Envelope):
    type: Literal["proposal.approved"]
    data: ProposalApproved


class ProposalRejectedEvent(_Envelope):
    type: Literal["proposal.rejected"]
    data: ProposalRejected


LiveEventOut = Annotated[
    SweepStartedEvent | ExperimentStartedEvent | RunStartedEvent | StageCompletedEvent | RunCompletedEvent
    | RunCachedEvent | RunFailedEvent | SweepProgressEvent | NewBestFoundEvent | ExperimentPausedEvent
    | ExperimentResumedEvent | ExperimentCompletedEvent | BudgetExhaustedEvent | HumanNeededEvent
    | RescoreProgressEvent | RescoreCompletedEvent | ConfigApprovedEvent | SweepRedirectedEvent
    | ProposalCreatedEvent | ProposalApprovedEvent | ProposalRejectedEvent,
    Field(discriminator="type"),
]
