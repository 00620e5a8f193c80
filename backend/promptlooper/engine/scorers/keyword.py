"""`keyword`: the fraction of keywords found (mode all) or whether any is found (mode any); `negate` inverts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from .base import ScoreContext, ScorerConfig, ScoreResult


class KeywordConfig(ScorerConfig):
    """Config of the keyword scorer."""

    keywords: list[str] = Field(min_length=1)
    mode: Literal["all", "any"] = "all"
    case_sensitive: bool = False
    negate: bool = Field(default=False, description="Score 1 minus the match: `any` + negate is 1 when no keyword "
                                                    "is found, `all` + negate the fraction of keywords missing.")

    @field_validator("keywords")
    @classmethod
    def _no_blank(cls, keywords: list[str]) -> list[str]:
        if any(not k.strip() for k in keywords):
            raise ValueError("keywords must not be blank")
        return list(dict.fromkeys(keywords))


class KeywordScorer:
    """Substring match of each keyword in the output (case-insensitive unless configured)."""

    id = "keyword"
    description = "Fraction of keywords found in the output (mode all), or 1 if any is found (mode any)."
    config_model: type[BaseModel] = KeywordConfig
    admin_only = False

    async def score(self, input: str, output: str, context: ScoreContext, config: BaseModel) -> ScoreResult:
        """Score one output."""
        assert isinstance(config, KeywordConfig)
        haystack = output if config.case_sensitive else output.casefold()
        found = [k for k in config.keywords if (k if config.case_sensitive else k.casefold()) in haystack]
        missing = [k for k in config.keywords if k not in found]
        if config.mode == "any":
            value = 1.0 if found else 0.0
        else:
            value = len(found) / len(config.keywords)
        meta: dict[str, object] = {"found": found, "missing": missing, "mode": config.mode}
        if config.negate:
            value, meta["negate"] = 1.0 - value, True
        return ScoreResult(value, meta)
