"""Pydantic request/response models: the wire shapes of CONTRACT.md (never ORM classes)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from promptlooper.engine.definition import ExperimentDefinition
from promptlooper.events.types import LiveEventOut
from promptlooper.models import RunStatus

T = TypeVar("T")


def _iso_z(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


UTCTime = Annotated[datetime, PlainSerializer(_iso_z, return_type=str, when_used="json")]


def _check_clean(value: Any, path: str = "body") -> None:
    """Reject what databases cannot store: NUL characters and non-finite floats."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{path} contains a NUL character, which cannot be stored")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path} must be a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_clean(key, path)
            _check_clean(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_clean(item, f"{path}[{index}]")


class InModel(BaseModel):
    """Base of request bodies: unknown fields rejected, NUL bytes and NaN refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, data: Any) -> Any:
        _check_clean(data)
        return data


class OutModel(BaseModel):
    """Base of responses, built from ORM objects or dicts."""

    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    """A page of a list."""

    items: list[T]
    total: int
    limit: int
    offset: int


class ErrorOut(BaseModel):
    """Every error: a human sentence and a stable code."""

    detail: Any = Field(description="A human sentence (a list of field errors for 422)")
    code: str


Name = Annotated[str, Field(min_length=1, max_length=200)]

# ---- auth -----------------------------------------------------------------------------------


class Credentials(InModel):
    """Username and password."""

    username: Annotated[str, Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9_.@-]+$")]
    password: Annotated[str, Field(min_length=8, max_length=256)]


class LoginIn(InModel):
    """Login body (password length is not re-validated at login)."""

    username: Annotated[str, Field(min_length=1, max_length=150)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class UserOut(OutModel):
    """A user as clients see it."""

    id: uuid.UUID
    username: str
    is_admin: bool
    role: Literal["admin", "guest"]
    created_at: UTCTime | None = None


class TokenOut(BaseModel):
    """A login answer."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    user: UserOut


class UserCreate(Credentials):
    """Admin creating a user; non-admins are read-only."""

    is_admin: bool = False


class ApiKeyCreate(InModel):
    """A new API key's name."""

    name: Name


class ApiKeyOut(OutModel):
    """An API key without its secret."""

    id: uuid.UUID
    name: str
    prefix: str
    created_at: UTCTime
    last_used_at: UTCTime | None = None


class ApiKeyCreated(ApiKeyOut):
    """The one answer that shows the key."""

    key: str


class SettingsOut(BaseModel):
    """Admin settings."""

    allow_guest_access: bool = False
    default_endpoint_id: uuid.UUID | None = None
    max_concurrent_runs: int = 4
    max_tokens_per_sweep: int = 0


class SettingsUpdate(InModel):
    """A partial update of admin settings."""

    allow_guest_access: bool | None = None
    default_endpoint_id: uuid.UUID | None = None
    max_concurrent_runs: Annotated[int, Field(ge=1, le=1024)] | None = None
    max_tokens_per_sweep: Annotated[int, Field(ge=0, le=10**12)] | None = None


# ---- projects -------------------------------------------------------------------------------


class ProjectCreate(InModel):
    """A new project."""

    name: Name
    description: Annotated[str, Field(max_length=20000)] | None = None
    notes: Annotated[str, Field(max_length=200000)] | None = None


class ProjectUpdate(InModel):
    """A partial project update."""

    name: Name | None = None
    description: Annotated[str, Field(max_length=20000)] | None = None
    notes: Annotated[str, Field(max_length=200000)] | None = None


class ExperimentSummary(OutModel):
    """An experiment in lists."""

    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    description: str | None
    status: str
    created_at: UTCTime
    updated_at: UTCTime
    run_count: int = 0
    best_score: float | None = None


class ProjectOut(OutModel):
    """A project."""

    id: uuid.UUID
    name: str
    description: str | None
    notes: str | None = None
    owner_id: uuid.UUID | None
    created_at: UTCTime
    updated_at: UTCTime
    experiment_count: int = 0


class ProjectDetail(ProjectOut):
    """A project with its experiments."""

    experiments: list[ExperimentSummary] = []


# ---- experiments ----------------------------------------------------------------------------


VariantName = Annotated[str, Field(max_length=60)]
VARIANT_NAMES_DOC = (
    "Names of swept values, by parameter_space key: `{\"prompt_template\": [\"concise\", \"\"]}` names the first "
    "value `concise`; an empty or missing name shows as `v1`, `v2`, ... (by position)."
)


class ExperimentCreate(ExperimentDefinition):
    """The experiment document of CONTRACT.md plus its project."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    project_id: uuid.UUID
    variant_names: dict[str, list[VariantName]] = Field(default_factory=dict, description=VARIANT_NAMES_DOC)

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, data: Any) -> Any:
        _check_clean(data)
        return data


class ExperimentUpdate(InModel):
    """A partial experiment update; the merged document is validated as a whole."""

    name: Name | None = None
    description: str | None = None
    sample_data: list[dict[str, Any]] | None = None
    pipeline_stages: list[dict[str, Any]] | None = None
    scoring_config: list[dict[str, Any]] | None = None
    parameter_space: dict[str, Any] | None = None
    variant_names: dict[str, list[VariantName]] | None = Field(default=None, description=VARIANT_NAMES_DOC)


class ForkedFrom(OutModel):
    """The experiment and run a fork started from."""

    experiment_id: uuid.UUID
    run_id: uuid.UUID | None


class ExperimentOut(OutModel):
    """An experiment with its full document."""

    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    description: str | None
    sample_data: list[dict[str, Any]]
    pipeline_stages: list[dict[str, Any]]
    scoring_config: list[dict[str, Any]]
    parameter_space: dict[str, Any]
    variant_names: dict[str, list[str]] = Field(default_factory=dict, description=VARIANT_NAMES_DOC)
    status: str
    created_at: UTCTime
    updated_at: UTCTime
    run_count: int = 0
    best_score: float | None = None
    grid_size: int | None = None
    forked_from: ForkedFrom | None = None


class ForkCreate(InModel):
    """Fork an experiment from one of its runs (default: the best) into a new draft experiment.

    The new stages are the run's resolved stages; `parameter_space` replaces the (pinned) space and
    `changes` sets any experiment-document field. `changes.pipeline_stages` items are merged into the
    stage of the same name (a partial stage edits only what it gives); a new name adds a stage.
    """

    name: Name
    run_id: uuid.UUID | None = None
    parameter_space: dict[str, Any] | None = None
    changes: ExperimentUpdate | None = None


# ---- steering: saved configurations and export history -------------------------------------


class ApproveIn(InModel):
    """Approve a run: save its configuration to the project (name defaults to the experiment's)."""

    name: Name | None = None
    note: Annotated[str, Field(max_length=20000)] | None = None


class SavedConfigOut(OutModel):
    """An approved configuration in a project's memory."""

    id: uuid.UUID
    project_id: uuid.UUID
    experiment_id: uuid.UUID | None
    run_id: uuid.UUID | None
    name: str
    note: str | None
    config: dict[str, Any]
    config_hash: str
    score: float | None
    scores: dict[str, float] = {}
    approved_by: str | None
    approved_at: UTCTime


class ExportRecordOut(OutModel):
    """One export served: format, configuration, who and when."""

    id: uuid.UUID
    format: str
    experiment_id: uuid.UUID | None
    run_id: uuid.UUID | None
    saved_config_id: uuid.UUID | None
    config_hash: str
    user: str | None
    created_at: UTCTime


# ---- endpoints ------------------------------------------------------------------------------


class Price(InModel):
    """Pricing of one model in USD per million tokens."""

    input_per_1m: Annotated[float, Field(ge=0)] = 0.0
    output_per_1m: Annotated[float, Field(ge=0)] = 0.0


def _http_url(value: str) -> str:
    """Accept only http(s) URLs that an HTTP client can actually send to."""
    import httpx2

    try:
        url = httpx2.URL(value)
        url.raw_host  # noqa: B018  (forces IDNA encoding of the host)
    except (httpx2.InvalidURL, UnicodeError, ValueError) as exc:
        raise ValueError(f"not a usable URL: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an http:// or https:// URL with a host")
    refuse_unsafe_url(url)
    return value


def refuse_unsafe_url(url: Any) -> None:
    """Refuse credentials in the URL (they would be shown and logged) and link-local/metadata targets."""
    from promptlooper.netguard import check_url

    if url.userinfo:
        raise ValueError("must not contain credentials (user:password@): put an API key in the `api_key` "
                         "field or a header, where it is stored encrypted and never shown")
    check_url(str(url))


HttpUrlStr = Annotated[
    str, Field(min_length=1, max_length=2000, pattern=r"^https?://[^\s/$.?#][^\s]*$"), AfterValidator(_http_url)
]
HeaderSafe = Annotated[str, Field(max_length=4000, pattern=r"^[\x20-\x7e]*$", description="printable ASCII")]


class EndpointCreate(InModel):
    """A new LLM endpoint."""

    label: Name
    url: HttpUrlStr
    api_key: HeaderSafe | None = None
    max_concurrency: Annotated[int, Field(ge=1, le=1024)] = 8
    pricing: dict[str, Price] = {}


class EndpointUpdate(InModel):
    """A partial endpoint update; `api_key: ""` removes the key."""

    label: Name | None = None
    url: HttpUrlStr | None = None
    api_key: HeaderSafe | None = None
    max_concurrency: Annotated[int, Field(ge=1, le=1024)] | None = None
    pricing: dict[str, Price] | None = None


class EndpointOut(OutModel):
    """An endpoint, never with its key."""

    id: uuid.UUID
    label: str
    url: str
    has_api_key: bool
    max_concurrency: int
    pricing: dict[str, Any]
    created_at: UTCTime


class EndpointTestOut(BaseModel):
    """The result of testing an endpoint."""

    ok: bool
    models: list[str] | None = None
    latency_ms: int | None = None
    error: str | None = None


# ---- webhooks -------------------------------------------------------------------------------

# services/webhook_delivery.PUBLIC_TYPES plus "*" (every one of them).
WebhookEvent = Literal[
    "experiment.started", "experiment.completed", "experiment.paused", "new_best_found",
    "budget.exhausted", "human_needed", "run.failed", "experiment.resumed", "run.approved", "run.rejected",
    "experiment.redirected", "proposal.created", "proposal.approved", "proposal.rejected", "*",
]


class WebhookCreate(InModel):
    """A new webhook."""

    event_type: WebhookEvent
    url: HttpUrlStr
    headers: dict[Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")],
                  HeaderSafe] = {}
    is_active: bool = True


class WebhookOut(OutModel):
    """A webhook (header values are hidden: they usually hold credentials)."""

    id: uuid.UUID
    event_type: str
    url: str
    header_names: list[str]
    is_active: bool
    created_at: UTCTime
    has_secret: bool = Field(True, description="False for a webhook made before signing: rotate to get one")


class WebhookWithSecret(WebhookOut):
    """A webhook just created or rotated: the only time its signing secret is shown."""

    secret: str = Field(description="`whsec_...`: verify `X-PromptLooper-Signature` with it; shown once")


class WebhookAttemptOut(BaseModel):
    """One POST of a delivery."""

    attempt: int
    at: str
    status_code: int | None
    duration_ms: int | None
    error: str | None


class WebhookDeliveryOut(OutModel):
    """One event sent (or being sent) to one webhook; `id` is the X-PromptLooper-Delivery header."""

    id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: str
    event_type: str
    attempt: int = Field(description="Attempts made so far")
    status_code: int | None = Field(description="The last attempt's HTTP status (None: no answer)")
    duration_ms: int | None
    error: str | None
    created_at: UTCTime
    next_attempt_at: UTCTime | None = Field(description="When it is tried next; None once delivered or given up")
    delivered: bool
    attempts: list[WebhookAttemptOut] = []


# ---- admin / health -------------------------------------------------------------------------


class StatsOut(BaseModel):
    """System-wide counts and cache statistics."""

    users: int
    projects: int
    experiments: int
    runs: int
    runs_by_status: dict[str, int]
    llm_calls: int = Field(description="chat calls sent upstream (paid); cache hits are counted apart in `cache`")
    cache: dict[str, float | int]
    tokens_spent: int = 0
    cost_spent: float = 0.0
    tokens_saved: int = 0
    cost_saved: float = 0.0


class AuthStatusOut(BaseModel):
    """What a login page needs to know before anyone logs in."""

    setup_required: bool
    guest_access: bool


class HealthOut(BaseModel):
    """Health of the process and its dependencies."""

    status: Literal["ok", "degraded"]
    database: str
    queue: str
    redis: str
    version: str


# ---- sweeps, runs, results ------------------------------------------------------------------


class Budget(InModel):
    """Limits that pause a sweep when reached (0 = none)."""

    max_tokens: Annotated[int, Field(ge=0, le=10**12)] = 0
    max_cost_usd: Annotated[float, Field(ge=0, le=10**9)] = 0.0


class RewriteOptions(InModel):
    """Prompt rewriting: an optimizer model proposes prompt variants every `every` finished runs."""

    endpoint_id: uuid.UUID | None = Field(default=None, description="the optimizer's endpoint (None: the default)")
    model: Annotated[str, Field(min_length=1, max_length=200, description="the optimizer model")]
    field: Literal["prompt_template", "system_prompt"] = "prompt_template"
    stage: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="the stage whose prompt is rewritten (default: the first)")
    every: Annotated[int, Field(ge=1, le=10_000, description="propose after every N finished runs")] = 8
    candidates: Annotated[int, Field(ge=1, le=10, description="variants asked for per round")] = 2
    approval: Literal["required", "auto"] = Field(default="required", description=(
        "required: proposals wait for approve/reject before any call is spent on them; auto: approved at once"))
    meta_prompt: Annotated[str, Field(min_length=1, max_length=20_000)] | None = Field(default=None, description=(
        "Jinja2 template of the optimizer's user message (default: the built-in OPRO-style meta-prompt); "
        "names: current, field, stage, candidates, best, worst (lists of {prompt, score, samples: "
        "[{input, output, reasons}]})"))
    params: dict[str, Any] = Field(default_factory=dict, description="request parameters of the optimizer call")

    @field_validator("params")
    @classmethod
    def _own_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted(k for k in params if k in ("model", "messages", "stream"))
        if reserved:
            raise ValueError(f"`{reserved[0]}` cannot be set as a request parameter")
        return params


class GuidedOptions(InModel):
    """Options of a guided (Optuna TPE) sweep."""

    n_startup: Annotated[int, Field(ge=1, le=10_000, description=(
        "random trials before TPE models the results (default 8)"))] = 8
    rewrite: RewriteOptions | None = None


class EarlyStopping(InModel):
    """Successive halving over samples: every configuration starts on `min_samples` samples; the best
    1/eta of a rung continue on eta times more until the survivors have seen every sample."""

    min_samples: Annotated[int, Field(ge=1, le=100_000, description="samples every configuration runs on first")] = 4
    eta: Annotated[int, Field(ge=2, le=100,
                              description="keep the best 1/eta of each rung, on eta times more samples")] = 3


class SweepCreate(InModel):
    """Start a sweep."""

    type: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description=(
        "The strategy: grid, random or guided (Bayesian search with Optuna's TPE; max_runs default 30), "
        "or one registered on the server"))] = "grid"
    max_runs: Annotated[int, Field(ge=1, le=100_000)] | None = None
    seed: int | None = None
    concurrency: Annotated[int, Field(ge=1, le=1024)] | None = None
    repeats: Annotated[int, Field(ge=1, le=100)] = 1
    budget: Budget = Budget()
    guided: GuidedOptions | None = None
    early_stopping: EarlyStopping | None = Field(default=None, description=(
        "successive halving over samples, for any type; stopped runs end `pruned`"))

    @field_validator("guided")
    @classmethod
    def _guided_only_for_guided(cls, value: GuidedOptions | None, info: ValidationInfo) -> GuidedOptions | None:
        if value is not None and info.data.get("type") in ("grid", "random"):
            raise ValueError("`guided` options apply to a guided sweep only")
        return value


class SweepDetail(BaseModel):
    """A sweep with its progress counts (what an agent steering the search reads)."""

    sweep_id: uuid.UUID
    experiment_id: uuid.UUID
    type: str
    status: str
    total_runs: int
    max_runs: int | None = Field(description="the cap on configurations (guided: default 30; grid: none)")
    completed: int
    failed: int
    cached: int
    cancelled: int
    pending: int
    running: int
    pruned: int = Field(default=0, description="runs stopped early by early stopping")
    tokens_in: int
    tokens_out: int
    cost_estimate: float
    best_score: float | None = Field(description=(
        "the best weighted score of the sweep's succeeded runs scored on every sample"))
    pending_proposals: int = Field(default=0, description=(
        "prompt proposals waiting for approval (a rewriting guided sweep waits for them before it completes)"))
    options: dict[str, Any]
    created_at: UTCTime
    completed_at: UTCTime | None


class SuggestedConfig(BaseModel):
    """A configuration the sampler would try next, as parameter_space single values."""

    overrides: dict[str, Any]


class SuggestionsOut(BaseModel):
    """What a guided sweep's sampler would try next; nothing is started."""

    items: list[SuggestedConfig]


class SweepConfigIn(InModel):
    """One configuration to add to a running guided sweep."""

    overrides: dict[str, Any] = Field(description="same keys as parameter_space, single values")


class SweepConfigsAdd(InModel):
    """Configurations an agent adds to a running guided sweep (they count against max_runs)."""

    configs: Annotated[list[SweepConfigIn], Field(min_length=1, max_length=100)]


class SweepConfigsAdded(BaseModel):
    """The runs made (a configuration the sweep already holds is not added again)."""

    added: int
    run_ids: list[uuid.UUID]


class EstimateDocument(ExperimentCreate):
    """An experiment document being edited: the project is optional."""

    project_id: uuid.UUID | None = None  # type: ignore[assignment]


class SweepEstimateIn(InModel):
    """What would a sweep of this document make?"""

    document: EstimateDocument
    type: Literal["grid", "random"] = "grid"
    max_runs: Annotated[int, Field(ge=1, le=100_000)] | None = None
    seed: int | None = None
    repeats: Annotated[int, Field(ge=1, le=100)] = 1
    early_stopping: EarlyStopping | None = None
    halving_batch: Annotated[int, Field(ge=1, le=100_000, description=(
        "early stopping: configurations halved together (a guided sweep's concurrency; default all runs)"
    ))] | None = None


class HalvingEstimate(BaseModel):
    """LLM stage calls of a sweep with early stopping: every run on every sample (worst), or as the rungs prune."""

    rungs: list[int] = Field(description="samples per rung, the last one every sample")
    llm_calls_best: int = Field(description="every rung keeps only its best 1/eta (all runs succeed)")
    llm_calls_worst: int = Field(description="no pruning: every run on every sample")


class SweepEstimateOut(BaseModel):
    """Runs and calls exactly; tokens are upper estimates (outputs assume max_tokens or 256) at 4 chars a token."""

    runs: int
    calls: int
    samples: int
    stages: int
    tokens_in: int
    tokens_out: int
    cost: float
    priced: bool = Field(description="every call's model has a price on its endpoint")
    llm_calls: int = Field(default=0, description="chat calls of the pipeline stages (`calls` adds scorer calls)")
    scorer_calls: int = Field(default=0, description="llm_judge and embedding scorer calls (one per scored sample)")
    cached_calls: int = Field(default=0, description="stage calls already in the response cache (bounded look-up)")
    cache_checked: int = Field(default=0, description="stage calls whose cache key was looked up")
    cost_usd_uncached: float = Field(default=0.0, description="the cost of the calls not already cached")
    early_stopping: HalvingEstimate | None = None


class RedirectIn(InModel):
    """The new parameter space of a running or paused sweep (validated as a PUT of it would be)."""

    parameter_space: dict[str, Any]


class RedirectOut(BaseModel):
    """What a redirect changed: pending runs dropped, pending runs added, the sweep's runs now."""

    sweep_id: uuid.UUID
    dropped: int
    added: int
    total_runs: int


class SweepOut(BaseModel):
    """A started sweep."""

    sweep_id: uuid.UUID
    experiment_id: uuid.UUID
    type: str
    status: str
    total_runs: int


class ScoreIn(InModel):
    """A human rating: exactly one of value (0-1), rating (1-5) or thumbs."""

    value: Annotated[float, Field(ge=0, le=1)] | None = None
    rating: Annotated[int, Field(ge=1, le=5)] | None = None
    thumbs: Literal["up", "down"] | None = None
    comment: Annotated[str, Field(max_length=10000)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ScoreIn:
        given = [v for v in (self.value, self.rating, self.thumbs) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of value (0-1), rating (1-5) or thumbs (up/down)")
        return self


class RunUpdate(InModel):
    """Steering a run: reject it from the leaderboard (or take it back)."""

    rejected: bool


class AdHocRun(InModel):
    """One configuration executed now: single values keyed like parameter_space."""

    experiment_id: uuid.UUID
    overrides: dict[str, Any] = {}
    repeat_index: Annotated[int, Field(ge=0, le=1000)] = 0


class RunOut(OutModel):
    """A run."""

    id: uuid.UUID
    experiment_id: uuid.UUID
    sweep_id: uuid.UUID | None
    config_hash: str
    config: dict[str, Any]
    status: RunStatus
    started_at: UTCTime | None
    completed_at: UTCTime | None
    duration_ms: int | None
    tokens_in: int
    tokens_out: int
    cost_estimate: float
    llm_calls: int = Field(description="chat calls made or answered from the cache")
    cache_hits: int
    tokens_in_spent: int = Field(default=0, description="input tokens of the calls actually made (not cache hits)")
    tokens_out_spent: int = Field(default=0, description="output tokens of the calls actually made")
    cost_spent: float = Field(default=0.0, description="what the calls actually made cost (a cache hit costs 0)")
    llm_calls_paid: int = Field(default=0, description="chat calls sent upstream (llm_calls minus cache hits)")
    scores: dict[str, float] = {}
    weighted_score: float | None
    rejected: bool
    error: str | None
    repeat_index: int = 0
    ci_low: float | None = Field(default=None, description="95% bootstrap interval over samples of the weighted "
                                 "score: low end (null below 2 samples)")
    ci_high: float | None = Field(default=None, description="95% bootstrap interval: high end")
    p_value: float | None = Field(default=None, description="Wilcoxon signed-rank p-value against the leading "
                                  "configuration over the samples both were scored on")
    tied_with_best: bool | None = Field(default=None, description="not significantly different from the leading "
                                        "configuration (Holm-corrected across the page; true for its own runs)")
    samples_evaluated: int | None = Field(default=None, description=(
        "samples the scores cover (early stopping: fewer than the experiment's for a pruned run)"))
    partial: bool = Field(default=False, description=(
        "early stopping: evaluated on a subset of the samples (pruned, or waiting to be continued)"))
    origin: str = Field(
        default="user",
        description="who proposed the run: grid, random (a sweep's expansion), sampler (a guided sweep's "
                    "sampler), agent (POST /sweeps/{id}/runs), redirect (a redirect's new space), user "
                    "(POST /runs); a plugin strategy's runs carry its sweep type",
    )


class StageResultOut(OutModel):
    """One LLM call of a run."""

    stage_index: int
    stage_name: str
    sample_id: str
    prompt_sent: str
    response_raw: str | None
    model_used: str
    parameters: dict[str, Any]
    tokens_in: int
    tokens_out: int
    latency_ms: int
    cached: bool
    error: str | None = None


class ScoreDetail(BaseModel):
    """A score with its metadata."""

    name: str
    value: float
    metadata: dict[str, Any]
    comment: str | None = None
    created_at: UTCTime | None = None


class RunDetail(RunOut):
    """A run with every stage result and score detail."""

    stage_results: list[StageResultOut] = []
    score_details: list[ScoreDetail] = []
    sample_scores: dict[str, float] = Field(default={}, description="the weighted score of each sample")


class PairedDifferenceOut(BaseModel):
    """Run b minus run a over the samples both were scored on."""

    run_a: uuid.UUID
    run_b: uuid.UUID
    samples: int
    diff: float | None = Field(description="mean of b - a per sample")
    ci_low: float | None = Field(description="95% bootstrap interval of the mean difference: low end")
    ci_high: float | None
    p_value: float | None = Field(description="Wilcoxon signed-rank p-value (two-sided)")
    significant: bool = Field(description="p_value under 0.05")


class LeaderboardEntry(BaseModel):
    """One ranked configuration."""

    rank: int
    run_id: uuid.UUID
    config: dict[str, Any]
    config_hash: str
    weighted_score: float | None
    scores: dict[str, float]
    tokens_in: int
    tokens_out: int
    cost_estimate: float
    duration_ms: int | None
    status: str
    origin: str = Field(default="user", description="who proposed the configuration's best run (as a run's `origin`)")
    runs: int = Field(default=1, description="runs of this configuration in the experiment (rejected ones excluded)")
    tokens_in_spent: int = Field(default=0, description="input tokens paid for, over every run of the configuration")
    tokens_out_spent: int = Field(default=0, description="output tokens paid for, over every run of the configuration")
    cost_spent: float = Field(default=0.0, description="cost paid, over every run of the configuration")
    cost_saved: float = Field(default=0.0, description="what cache hits saved, over every run of the configuration")
    llm_calls_paid: int = Field(default=0, description="calls sent upstream, over every run of the configuration")
    cache_hits: int = Field(default=0, description="calls answered from the cache, over every run")
    mean_score: float | None = Field(default=None, description="mean over samples of the configuration's "
                                     "weighted score per sample (each sample averaged over its runs)")
    samples: int = Field(default=0, description="samples the interval and the paired test are computed over")
    ci_low: float | None = Field(default=None, description="95% bootstrap interval of the mean score: low end")
    ci_high: float | None = Field(default=None, description="95% bootstrap interval of the mean score: high end")
    p_value: float | None = Field(default=None, description="Wilcoxon signed-rank p-value against the leader, "
                                  "paired over the samples both were scored on (null for the leader)")
    p_adjusted: float | None = Field(default=None, description="p_value, Holm-corrected across the entries shown")
    tied_with_best: bool | None = Field(default=None, description="the difference from the leader is not "
                                        "significant (adjusted p >= 0.05); true for the leader, null when untestable")
    pruned: bool = Field(default=False, description="stopped early (include_pruned=true): scored on a subset")
    samples_evaluated: int | None = Field(default=None, description="samples the scores cover")


class Leaderboard(BaseModel):
    """Top runs."""

    items: list[LeaderboardEntry]


class OutputRatingIn(InModel):
    """A 1-5 rating of one output (a run on one sample); a second rating by the same person replaces it."""

    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, Field(max_length=10000)] | None = None


class OutputRatingOut(BaseModel):
    """One person's rating of one output."""

    run_id: uuid.UUID
    sample_id: str
    rating: int
    rater: str
    comment: str | None
    updated_at: UTCTime
    mine: bool = False


class OutputRatings(BaseModel):
    """Every rating of a run's outputs; `human_score` is their mean on 0-1 ((rating - 1) / 4)."""

    items: list[OutputRatingOut]
    human_score: float | None
    count: int


class ReviewItem(BaseModel):
    """An output you have not rated yet, of one of the top configurations."""

    run_id: uuid.UUID
    sample_id: str
    rank: int
    weighted_score: float | None
    input: str
    output: str | None
    error: str | None


class ReviewQueue(BaseModel):
    """`GET /experiments/{id}/review-queue`: unrated outputs of the top runs, best run first."""

    items: list[ReviewItem]
    total_unrated: int
    runs: int


class SweepSummary(BaseModel):
    """One sweep of an experiment, for choosing which runs to show."""

    id: uuid.UUID
    number: int = Field(description="1 for the experiment's first sweep, 2 for the next, ...")
    type: str
    status: str
    total_runs: int
    created_at: UTCTime
    completed_at: UTCTime | None


class ImportanceItem(BaseModel):
    """One swept key's share of the score's variation (importances sum to 1)."""

    key: str
    importance: float


class ParameterImportance(BaseModel):
    """`GET /experiments/{id}/importance`: Optuna's PED-ANOVA importances of the swept keys."""

    metric: str
    evaluator: str
    runs_used: int
    items: list[ImportanceItem]
    reason: str | None = Field(default=None, description="Why there are no items (too few runs, nothing varies)")


class EventsPage(BaseModel):
    """Events after a sequence number; pass `next_after` back to continue.

    Each item is one of the typed events of `events/types.py` (discriminated by `type`); WebSocket
    messages have the same shape.
    """

    items: list[LiveEventOut]
    next_after: int


class CacheInvalidated(BaseModel):
    """How many cached responses were deleted."""

    deleted: int


class ProposalOut(BaseModel):
    """A prompt variant proposed by a guided sweep's optimizer model."""

    id: uuid.UUID
    sweep_id: uuid.UUID
    experiment_id: uuid.UUID
    stage: str
    field: str
    text: str = Field(description="the variant (as edited on approval, if it was)")
    proposed_text: str = Field(description="what the optimizer wrote")
    status: Literal["pending", "approved", "rejected"]
    dropped: bool = Field(description="refused by the checks (empty, unchanged, JSON, undefined names, "
                                      "a duplicate): rejected at once, with the reason")
    reason: str | None
    diff_base: str | None = Field(description="the best run's prompt when it was proposed (diff against it)")
    base_run_id: uuid.UUID | None
    projected_tokens: int = Field(description="tokens one run of the best configuration took (x repeats)")
    projected_cost: float = Field(description="what that run cost (x repeats): about what approving spends")
    projected_calls: int
    run_ids: list[uuid.UUID] = Field(description="runs made for it once approved")
    decided_by: str | None
    decided_at: UTCTime | None
    created_at: UTCTime


class ProposalRoundOut(BaseModel):
    """One call of the sweep's optimizer: what it cost and, when it proposed nothing, why."""

    round: int
    status: Literal["generating", "done", "failed"]
    reason: str | None = Field(description="why the round proposed nothing (endpoint down, budget spent, ...)")
    cached: bool
    tokens_in: int
    tokens_out: int
    cost_spent: float
    started_at: UTCTime
    finished_at: UTCTime | None


class ProposalPage(Page[ProposalOut]):
    """A page of proposals, and every optimizer round of the sweep (oldest first)."""

    rounds: list[ProposalRoundOut] = Field(default_factory=list)


class ProposalApprove(InModel):
    """Approve a proposal, optionally editing its text first."""

    text: Annotated[str, Field(min_length=1, max_length=100_000)] | None = None


class ProposalReject(InModel):
    """Reject a proposal."""

    reason: Annotated[str, Field(max_length=2000)] | None = None
