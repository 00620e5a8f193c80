"""Typed events: one model per event type, a publish that takes only those, every type in the OpenAPI union."""

from __future__ import annotations

import typing

import pytest
from pydantic import ValidationError

from promptlooper.events.types import EVENT_DATA, ExperimentPaused, LiveEventOut, SweepProgressed

PROGRESS = {"completed": 1, "total": 4, "failed": 0, "cached": 0, "tokens_in": 3, "tokens_out": 5,
            "cost_estimate": 0.0, "eta_s": None}


def test_the_union_has_one_envelope_per_event_type() -> None:
    union = typing.get_args(LiveEventOut)[0]
    literals = {typing.get_args(member.model_fields["type"].annotation)[0] for member in typing.get_args(union)}
    assert literals == set(EVENT_DATA)
    for member in typing.get_args(union):
        event_type = typing.get_args(member.model_fields["type"].annotation)[0]
        assert member.model_fields["data"].annotation is EVENT_DATA[event_type]


def test_event_data_is_validated_where_it_is_built() -> None:
    assert SweepProgressed(**PROGRESS).TYPE == "sweep.progress"
    with pytest.raises(ValidationError):
        SweepProgressed(**PROGRESS, typo=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        ExperimentPaused(reason="bored", **PROGRESS)  # type: ignore[arg-type]
