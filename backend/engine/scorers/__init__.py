"""Scorers: the protocol, the built-ins, the registry (with entry-point plugins) and run scoring."""

from __future__ import annotations

from typing import Any

from .aggregate import ScoreOutcome, default_context_factory, score_outputs, weighted_score
from .base import ScoreContext, Scorer, ScorerConfig, ScoreResult, clip01
from .keyword import KeywordScorer
from .length import LengthScorer
from .registry import ENTRY_POINT_GROUP, ScorerRegistry

REGISTRY = ScorerRegistry()
BUILTINS: list[Scorer] = [KeywordScorer(), LengthScorer()]
for _builtin in BUILTINS:
    REGISTRY.register(_builtin)


def register(scorer: Scorer, *, replace: bool = False) -> Scorer:
    """Add a scorer to the default registry."""
    return REGISTRY.register(scorer, replace=replace)


def get_scorer(scorer_id: str) -> Scorer:
    """The scorer with this id; KeyError when unknown."""
    return REGISTRY.get(scorer_id)


def list_scorers() -> list[Scorer]:
    """Every registered scorer, sorted by id."""
    return REGISTRY.all()


def known_scorer_ids() -> set[str]:
    """Every registered scorer id."""
    return REGISTRY.ids()


def validate_scorer_config(scorer_id: str, config: dict[str, Any]) -> list[str]:
    """Sentences for everything wrong with a scorer's config (empty when it is fine)."""
    return REGISTRY.validate_config(scorer_id, config)


def config_schema(scorer_id: str) -> dict[str, Any]:
    """JSON schema of a scorer's config."""
    return REGISTRY.config_schema(scorer_id)


__all__ = [
    "ENTRY_POINT_GROUP",
    "REGISTRY",
    "ScoreContext",
    "ScoreOutcome",
    "ScoreResult",
    "Scorer",
    "ScorerConfig",
    "ScorerRegistry",
    "clip01",
    "config_schema",
    "default_context_factory",
    "get_scorer",
    "known_scorer_ids",
    "list_scorers",
    "register",
    "score_outputs",
    "validate_scorer_config",
    "weighted_score",
]
