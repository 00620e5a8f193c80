"""The scorer registry: built-ins plus third-party scorers from the `promptlooper.scorers` entry points."""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import BaseModel, ValidationError

from .base import Scorer

log = logging.getLogger("promptlooper.scorers")

ENTRY_POINT_GROUP = "promptlooper.scorers"


def _as_scorer(obj: Any) -> Scorer:
    """A Scorer instance from an entry point's object (an instance, or a class to instantiate)."""
    if isinstance(obj, type):
        obj = obj()
    missing = [name for name in ("id", "description", "config_model", "score") if not hasattr(obj, name)]
    if missing:
        raise TypeError(f"not a scorer: missing {', '.join(missing)}")
    if not isinstance(obj.config_model, type) or not issubclass(obj.config_model, BaseModel):
        raise TypeError("config_model must be a pydantic model class")
    if not hasattr(obj, "admin_only"):
        obj.admin_only = False
    return obj  # type: ignore[no-any-return]


def format_validation_error(exc: ValidationError) -> list[str]:
    """Pydantic errors as "config.<field>: <msg>" sentences."""
    messages = []
    for error in exc.errors():
        where = ".".join(str(part) for part in ("config", *error["loc"]))
        messages.append(f"{where}: {error['msg']}")
    return messages


class ScorerRegistry:
    """Scorers by id; entry-point plugins are loaded once, on first use."""

    def __init__(self, load_plugins: bool = True) -> None:
        self._scorers: dict[str, Scorer] = {}
        self._plugins_loaded = not load_plugins

    def register(self, scorer: Scorer, *, replace: bool = False) -> Scorer:
        """Add a scorer; an id already taken is an error unless `replace`."""
        if scorer.id in self._scorers and not replace:
            raise ValueError(f"a scorer with id {scorer.id!r} is already registered")
        self._scorers[scorer.id] = scorer
        return scorer

    def _load_one(self, entry: EntryPoint) -> None:
        try:
            scorer = _as_scorer(entry.load())
            if scorer.id in self._scorers:
                raise ValueError(f"id {scorer.id!r} is already taken")
            self._scorers[scorer.id] = scorer
        except Exception:  # a broken plugin must never take the app down
            log.exception("skipping scorer plugin %s", entry.name)

    def load_plugins(self) -> None:
        """Register every scorer of the entry-point group (once); broken plugins are logged and skipped."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        try:
            found = list(entry_points(group=ENTRY_POINT_GROUP))
        except Exception:
            log.exception("could not list scorer plugins")
            return
        for entry in found:
            self._load_one(entry)

    def get(self, scorer_id: str) -> Scorer:
        """The scorer with this id; KeyError when unknown."""
        self.load_plugins()
        try:
            return self._scorers[scorer_id]
        except KeyError:
            raise KeyError(f"unknown scorer {scorer_id!r}") from None

    def all(self) -> list[Scorer]:
        """Every scorer, sorted by id."""
        self.load_plugins()
        return [self._scorers[k] for k in sorted(self._scorers)]

    def ids(self) -> set[str]:
        """Every known scorer id."""
        self.load_plugins()
        return set(self._scorers)

    def validate_config(self, scorer_id: str, config: dict[str, Any]) -> list[str]:
        """Sentences for everything wrong with a scorer's config (empty when it is fine)."""
        self.load_plugins()
        scorer = self._scorers.get(scorer_id)
        if scorer is None:
            return [f"Unknown scorer `{scorer_id}`."]
        try:
            scorer.config_model.model_validate(config)
        except ValidationError as exc:
            return format_validation_error(exc)
        return []

    def config_schema(self, scorer_id: str) -> dict[str, Any]:
        """JSON schema of a scorer's config."""
        return self.get(scorer_id).config_model.model_json_schema()
