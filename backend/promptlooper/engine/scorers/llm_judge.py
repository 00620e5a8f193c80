"""`llm_judge`: a judge model rates the output; its answer is parsed into a score in [0, 1].

How an answer becomes a score (`parse_judge_answer`), first rule that applies wins:
1. JSON: the first `{...}` object (without nested braces) anywhere in the answer that parses as JSON and has
   a numeric `"score"` (a number or a numeric string) → that number, normalised.
2. Fraction: the first `x/N` (e.g. `7/10`, `4 / 5`, `85/100`) with N > 0 and 0 <= x <= N → x / N.
3. Bare number: the whole answer, once stripped of spaces, quotes, `*`, a trailing period and an optional
   `score:` / `rating:` label, is one number → that number, normalised.
Normalising a number x (rules 1 and 3): with `scale` configured, x / scale (0 <= x <= scale). Otherwise
0 <= x <= 1 is kept as is, 1 < x <= 10 is divided by 10, 10 < x <= 100 by 100. There is no automatic 1-5
scale: `4` means 0.4; ask the judge for `x/5`, or set `scale: 5`. Note that `1` means 1.0 without `scale`.
Anything else (no such form, or a number out of range) scores 0 with the answer and the reason in metadata.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, Field, field_validator

from ..adapters.base import AdapterError, ChatRequest
from ..templates import GLOBAL_NAMES, TemplateError, referenced_names, render
from .base import ScoreContext, ScorerConfig, ScoreResult
from .services import NO_SERVICES, services_of

JUDGE_NAMES = frozenset({"input", "output", "reference"})
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_OBJECT = re.compile(r"\{[^{}]*\}")
_FRACTION = re.compile(rf"(?<![\w.])({_NUMBER})\s*/\s*({_NUMBER})(?![\w./])")
_BARE = re.compile(rf"(?:(?:score|rating)\s*[:=]?\s*)?({_NUMBER})", re.IGNORECASE)
_ANSWER_CHARS = 1000


class LLMJudgeConfig(ScorerConfig):
    """Config of the llm_judge scorer."""

    endpoint_id: str | None = Field(default=None, description="The judge's endpoint (None = the default endpoint).")
    model: str = Field(min_length=1, description="The judge model.")
    prompt: str = Field(min_length=1, description="Jinja2 template of the judge's user message, with `input`, "
                                                  "`output` and `reference`; ask for {\"score\": x}, x/10 or a number.")
    system_prompt: str | None = Field(default=None, description="Optional system message for the judge.")
    params: dict[str, Any] = Field(default_factory=dict, description="Request parameters of the judge call, "
                                                                     "e.g. {\"temperature\": 0, \"max_tokens\": 20}.")
    scale: float | None = Field(default=None, gt=0, description="When set, bare and JSON scores are divided by it "
                                                                "(e.g. 5 for a 1-5 rating) instead of guessed.")

    @field_validator("prompt")
    @classmethod
    def _template(cls, prompt: str) -> str:
        try:
            names = referenced_names(prompt)
        except TemplateError as exc:
            raise ValueError(exc.message) from None
        unknown = sorted(n for n in names if "." not in n and n not in JUDGE_NAMES and n not in GLOBAL_NAMES)
        if unknown:
            raise ValueError(f"the judge prompt may use input, output and reference; unknown: {', '.join(unknown)}")
        return prompt


def normalise(value: float, scale: float | None) -> float | str:
    """A judge's number in [0, 1], or a sentence saying why it is out of range."""
    if scale is not None:
        if 0 <= value <= scale:
            return value / scale
        return f"score {value:g} is outside 0-{scale:g}"
    if 0 <= value <= 1:
        return value
    if 1 < value <= 10:
        return value / 10
    if 10 < value <= 100:
        return value / 100
    return f"score {value:g} is outside 0-100"


def _json_score(answer: str) -> float | None:
    for match in _OBJECT.finditer(answer):
        try:
            document = json.loads(match.group(0))
        except ValueError:
            continue
        raw = document.get("score") if isinstance(document, dict) else None
        if isinstance(raw, bool):
            continue
        if isinstance(raw, int | float):
            return float(raw)
        if isinstance(raw, str) and re.fullmatch(_NUMBER, raw.strip()):
            return float(raw)
    return None


def _fraction(answer: str) -> float | None:
    for match in _FRACTION.finditer(answer):
        numerator, denominator = float(match.group(1)), float(match.group(2))
        if denominator > 0 and 0 <= numerator <= denominator:
            return numerator / denominator
    return None


def parse_judge_answer(answer: str, scale: float | None = None) -> tuple[float, str] | str:
    """(score in [0, 1], which rule matched) from a judge's answer, or the reason it is unparseable."""
    found = _json_score(answer)
    if found is not None:
        value = normalise(found, scale)
        return (value, "json") if isinstance(value, float) else value
    fraction = _fraction(answer)
    if fraction is not None:
        return fraction, "fraction"
    bare = _BARE.fullmatch(answer.strip().strip("\"'*` ").rstrip(".").strip())
    if bare is not None:
        value = normalise(float(bare.group(1)), scale)
        return (value, "number") if isinstance(value, float) else value
    return "no score in the answer: expected {\"score\": x}, x/10 or a bare number"


class LLMJudgeScorer:
    """Asks a judge model (through the response cache) and parses its rating."""

    id = "llm_judge"
    description = ("A judge LLM rates the output with a configurable Jinja2 prompt; the answer is parsed as "
                   "{\"score\": x}, x/10 or a bare number and normalised to [0, 1].")
    config_model: type[BaseModel] = LLMJudgeConfig
    admin_only = False

    async def score(self, input: str, output: str, context: ScoreContext, config: BaseModel) -> ScoreResult:
        """Score one output."""
        assert isinstance(config, LLMJudgeConfig)
        services = services_of(context)
        if services is None:
            return ScoreResult(0.0, {"reason": NO_SERVICES})
        try:
            prompt = render(config.prompt, {"input": input, "output": output, "reference": context.reference or ""})
        except TemplateError as exc:
            return ScoreResult(0.0, {"reason": f"judge prompt: {exc.message}"})
        messages = [{"role": "user", "content": prompt}]
        if config.system_prompt:
            messages.insert(0, {"role": "system", "content": config.system_prompt})
        try:
            adapter, base_url = await services.endpoint(config.endpoint_id)
            response, cached, _ = await services.chat.call(
                adapter, base_url, ChatRequest(model=config.model, messages=messages, params=dict(config.params)))
        except LookupError as exc:
            return ScoreResult(0.0, {"reason": str(exc)})
        except AdapterError as exc:
            return ScoreResult(0.0, {"reason": f"judge call failed: {exc.message}"})
        meta: dict[str, Any] = {"answer": response.content[:_ANSWER_CHARS], "cached": cached, "model": config.model,
                                "tokens_in": response.tokens_in, "tokens_out": response.tokens_out}
        parsed = parse_judge_answer(response.content, config.scale)
        if isinstance(parsed, str):
            return ScoreResult(0.0, {**meta, "reason": parsed})
        return ScoreResult(parsed[0], {**meta, "parsed_as": parsed[1]})
