"""An example PromptLooper scorer plugin: `shouty` scores the fraction of letters that are uppercase.

The registry accepts any object (or class) with `id`, `description`, `config_model` (a pydantic model),
optional `admin_only`/`manual` flags and `async score(input, output, context, config) -> ScoreResult`.
It is found through the `promptlooper.scorers` entry point in pyproject.toml. PromptLooper itself is
not declared as a dependency: the plugin is only ever loaded by an installed PromptLooper.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from promptlooper.engine.scorers.base import ScoreContext, ScorerConfig, ScoreResult


class ShoutyConfig(ScorerConfig):
    """Config of the shouty scorer (unknown fields are an error)."""

    min_letters: int = Field(default=1, ge=1, description="Outputs with fewer letters than this score 0.")


class ShoutyScorer:
    """The fraction of the output's letters that are uppercase."""

    id = "shouty"
    description = "Fraction of the output's letters that are uppercase (example plugin)."
    config_model: type[BaseModel] = ShoutyConfig
    admin_only = False

    async def score(self, input: str, output: str, context: ScoreContext, config: BaseModel) -> ScoreResult:
        """Score one output."""
        assert isinstance(config, ShoutyConfig)
        letters = [c for c in output if c.isalpha()]
        if len(letters) < config.min_letters:
            return ScoreResult(0.0, {"reason": f"fewer than {config.min_letters} letters", "letters": len(letters)})
        upper = sum(1 for c in letters if c.isupper())
        return ScoreResult(upper / len(letters), {"letters": len(letters), "uppercase": upper})
