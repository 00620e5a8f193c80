"""Scorers: the protocol, the built-ins, the registry (with entry-point plugins) and run scoring."""

from __future__ import annotations

from typing import Any

from .aggregate import ScoreOutcome, default_context_factory, score_outputs, weighted_score
from .base import ScoreContext, Scorer, ScorerConfig, ScoreResult, clip01, is_admin_only, is_manual
from .embedding import EmbeddingSimilarityScorer
from .format import FormatScorer
from .human import HumanRatingScorer
from .keyword import KeywordScorer
from .length import LengthScorer
from .llm_judge import LLMJudgeScorer, parse_judge_answer
from .python_scorer import PythonScorer
from .registry import ENTRY_POINT_GROUP, ScorerRegistry
from .services import SERVICES_KEY, LocalScorerServices, ScorerServices, UnknownEndpoint
from .webhook import WebhookScorer

REGISTRY = ScorerRegistry()
BUILTINS: list[Scorer] = [KeywordScorer(), LengthScorer(), FormatScorer(), EmbeddingSimilarityScorer(),
                          LLMJudgeScorer(), PythonScorer(), WebhookScorer(), HumanRatingScorer()]
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


def validate_scorer_config(scorer_id: str, config: dict[str, Any], *, is_admin: bool | None = None) -> list[str]:
    """Sentences for everything wrong with a scorer's config (empty when it is fine).

    With `is_admin=False` an admin-only scorer (`python`) is refused; None skips that check.
    """
    problems = REGISTRY.validate_config(scorer_id, config)
    if is_admin is False and scorer_id in REGISTRY.ids() and is_admin_only(REGISTRY.get(scorer_id)):
        problems.insert(0, f"The `{scorer_id}` scorer runs code on the server and only admins may configure it.")
    return problems


def scorer_is_admin_only(scorer_id: str) -> bool:
    """Whether only admins may configure this scorer (False when unknown)."""
    return scorer_id in REGISTRY.ids() and is_admin_only(REGISTRY.get(scorer_id))


def scorer_is_manual(scorer_id: str) -> bool:
    """Whether this scorer's values are entered by people (False when unknown)."""
    return scorer_id in REGISTRY.ids() and is_manual(REGISTRY.get(scorer_id))


def config_schema(scorer_id: str) -> dict[str, Any]:
    """JSON schema of a scorer's config."""
    return REGISTRY.config_schema(scorer_id)


__all__ = [
    "BUILTINS",
    "ENTRY_POINT_GROUP",
    "REGISTRY",
    "SERVICES_KEY",
    "LocalScorerServices",
    "ScoreContext",
    "ScoreOutcome",
    "ScoreResult",
    "Scorer",
    "ScorerConfig",
    "ScorerRegistry",
    "ScorerServices",
    "UnknownEndpoint",
    "clip01",
    "config_schema",
    "default_context_factory",
    "get_scorer",
    "is_admin_only",
    "is_manual",
    "known_scorer_ids",
    "list_scorers",
    "parse_judge_answer",
    "register",
    "score_outputs",
    "scorer_is_admin_only",
    "scorer_is_manual",
    "validate_scorer_config",
    "weighted_score",
]
