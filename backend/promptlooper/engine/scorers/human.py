"""`human_rating`: a known id whose values people enter through `POST /runs/{id}/score`; never computed."""

from __future__ import annotations

from pydantic import BaseModel

from .base import ScoreContext, ScorerConfig, ScoreResult


class HumanRatingConfig(ScorerConfig):
    """The human_rating scorer takes no config."""


class HumanRatingScorer:
    """Placeholder for ratings entered by people; `score_outputs` skips it because it is manual."""

    id = "human_rating"
    description = ("Ratings entered by people with POST /runs/{id}/score (a value, a 1-5 rating or thumbs); "
                   "never computed automatically.")
    config_model: type[BaseModel] = HumanRatingConfig
    admin_only = False
    manual = True

    async def score(self, input: str, output: str, context: ScoreContext, config: BaseModel) -> ScoreResult:
        """Not computed: answers 0 saying so (score_outputs never calls it)."""
        return ScoreResult(0.0, {"reason": "human ratings are entered with POST /runs/{id}/score, not computed"})
