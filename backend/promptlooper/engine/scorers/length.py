"""`length`: 1 inside word/char bounds, falling linearly to 0 at twice the distance."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from .base import ScoreContext, ScorerConfig, ScoreResult

BOUND_NAMES = ("min_words", "max_words", "min_chars", "max_chars")


class LengthConfig(ScorerConfig):
    """Config of the length scorer: at least one bound."""

    min_words: int | None = Field(default=None, ge=0)
    max_words: int | None = Field(default=None, ge=0)
    min_chars: int | None = Field(default=None, ge=0)
    max_chars: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> LengthConfig:
        if all(v is None for v in (self.min_words, self.max_words, self.min_chars, self.max_chars)):
            raise ValueError("set at least one of min_words, max_words, min_chars, max_chars")
        for unit in ("words", "chars"):
            low, high = getattr(self, f"min_{unit}"), getattr(self, f"max_{unit}")
            if low is not None and high is not None and low > high:
                raise ValueError(f"min_{unit} must not be greater than max_{unit}")
        return self


def below_max(value: int, bound: int) -> float:
    """1 up to the bound, 0 at twice the bound (an exceeded 0 bound scores 0)."""
    if value <= bound:
        return 1.0
    if bound == 0:
        return 0.0
    return max(0.0, 1.0 - (value - bound) / bound)


def above_min(value: int, bound: int) -> float:
    """1 from the bound on, falling linearly to 0 at 0."""
    if value >= bound:
        return 1.0
    return max(0.0, value / bound)


class LengthScorer:
    """Scores how well the output's word and character counts fit the bounds."""

    id = "length"
    description = "1 inside min/max words or chars, falling linearly to 0 at twice the distance."
    config_model: type[BaseModel] = LengthConfig
    admin_only = False

    async def score(self, input: str, output: str, context: ScoreContext, config: BaseModel) -> ScoreResult:
        """Score one output."""
        assert isinstance(config, LengthConfig)
        words, chars = len(output.split()), len(output)
        partial: dict[str, float] = {}
        if config.min_words is not None:
            partial["min_words"] = above_min(words, config.min_words)
        if config.max_words is not None:
            partial["max_words"] = below_max(words, config.max_words)
        if config.min_chars is not None:
            partial["min_chars"] = above_min(chars, config.min_chars)
        if config.max_chars is not None:
            partial["max_chars"] = below_max(chars, config.max_chars)
        bounds = {k: v for k, v in config.model_dump().items() if k in BOUND_NAMES and v is not None}
        # `bounds` are the configured limits; `partial` is each bound's score (the result is the lowest).
        return ScoreResult(min(partial.values()), {"words": words, "chars": chars, "bounds": bounds,
                                                   "partial": partial})
