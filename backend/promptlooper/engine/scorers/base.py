"""What every scorer implements: the Scorer protocol, its context and its result."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from ..definition import SampleDef


def clip01(value: float) -> float:
    """A score in [0, 1]; NaN becomes 0."""
    if math.isnan(value):
        return 0.0
    return min(1.0, max(0.0, value))


@dataclass
class ScoreResult:
    """One sample's score in [0, 1] (clipped) and what the scorer wants to say about it."""

    value: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.value = clip01(float(self.value))


@dataclass
class ScoreContext:
    """What a scorer may look at besides input and output; `extras` carries app-provided helpers."""

    sample: SampleDef
    reference: str | None
    run_config: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Scorer(Protocol):
    """A scoring function: id, description, config model and an async `score`.

    Optional attribute `manual` (default False, read with `is_manual`): a manual scorer's values are
    entered by people (`human_rating`), so `score_outputs` never computes it. It is not a protocol
    member so that plugins written before it existed still satisfy the protocol.
    """

    id: str
    description: str
    config_model: type[BaseModel]
    admin_only: bool

    async def score(self, input: str, output: str, context: ScoreContext, config: BaseModel) -> ScoreResult:
        """Score one sample's final output."""
        ...


def is_manual(scorer: object) -> bool:
    """Whether a scorer's values are entered by people rather than computed (`manual = True`)."""
    return bool(getattr(scorer, "manual", False))


def is_admin_only(scorer: object) -> bool:
    """Whether only admins may configure a scorer (`admin_only = True`, e.g. `python`)."""
    return bool(getattr(scorer, "admin_only", False))


class ScorerConfig(BaseModel):
    """Base for scorer config models: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")
