"""`format`: 1 when the output is JSON, valid against a JSON schema, matches a regex or looks like markdown."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import jsonschema
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import ScoreContext, ScorerConfig, ScoreResult

_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}
_FENCE = re.compile(r"\A\s*```[\w+-]*[ \t]*\n(.*?)\n?```\s*\Z", re.DOTALL)

# Markdown constructs the heuristic looks for; the score is 1 when at least `min_features` kinds occur.
MARKDOWN_FEATURES: dict[str, re.Pattern[str]] = {
    "heading": re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE),
    "list": re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\S", re.MULTILINE),
    "emphasis": re.compile(r"(\*\*|__)(?=\S).+?(?<=\S)\1|(?<![\w*])\*(?=[^\s*])[^*\n]+?(?<=\S)\*(?![\w*])"),
    "code": re.compile(r"^ {0,3}```.*?^ {0,3}```|`[^`\n]+`", re.MULTILINE | re.DOTALL),
    "link": re.compile(r"!?\[[^\]\n]+\]\([^)\s]+(?:\s+\"[^\"]*\")?\)"),
    "blockquote": re.compile(r"^ {0,3}>[ \t]?\S", re.MULTILINE),
    "table": re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)+\|?[ \t]*$", re.MULTILINE),
}


def regex_flags(flags: str) -> int:
    """re flags from letters (i: ignore case, m: multiline, s: dot matches newline, x: verbose)."""
    value = 0
    for letter in flags:
        if letter not in _FLAGS:
            raise ValueError(f"unknown regex flag {letter!r}; use any of i, m, s, x")
        value |= _FLAGS[letter]
    return value


class FormatConfig(ScorerConfig):
    """Config of the format scorer."""

    type: Literal["json", "json_schema", "regex", "markdown"] = Field(
        description="json: the output parses as JSON; json_schema: it is JSON valid against `schema`; "
                    "regex: `pattern` is found in it (re.search); markdown: it uses markdown constructs.")
    schema_: dict[str, Any] | None = Field(
        default=None, alias="schema", description="The JSON schema (any draft jsonschema knows) for type json_schema.")
    pattern: str | None = Field(default=None, description="Python regular expression for type regex (re.search).")
    flags: str = Field(default="", pattern=r"^[imsx]*$",
                       description="Regex flags as letters: i ignore case, m multiline, s dot-all, x verbose.")
    allow_code_fence: bool = Field(
        default=True, description="json/json_schema: accept JSON wrapped in one ``` code fence (as models often do).")
    anywhere: bool = Field(
        default=False, description="json/json_schema: accept the first JSON object or array found anywhere in the "
                                   "output (text around it allowed), not only a whole-output document.")
    negate: bool = Field(default=False, description="Score 1 when the output does NOT have the format (and 0 when "
                                                    "it does).")
    min_features: int = Field(
        default=1, ge=1, le=len(MARKDOWN_FEATURES),
        description="markdown: how many kinds of construct (heading, list, emphasis, code, link, blockquote, "
                    "table) must occur.")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _consistent(self) -> FormatConfig:
        if self.type == "json_schema":
            if self.schema_ is None:
                raise ValueError("type json_schema needs a `schema`")
            try:
                jsonschema.validators.validator_for(self.schema_).check_schema(self.schema_)
            except SchemaError as exc:
                raise ValueError(f"`schema` is not a valid JSON schema: {exc.message}") from None
        elif self.schema_ is not None:
            raise ValueError("`schema` is only used with type json_schema")
        if self.type == "regex":
            if not self.pattern:
                raise ValueError("type regex needs a non-empty `pattern`")
            try:
                re.compile(self.pattern, regex_flags(self.flags))
            except re.error as exc:
                raise ValueError(f"`pattern` is not a valid regular expression: {exc}") from None
        elif self.pattern is not None:
            raise ValueError("`pattern` is only used with type regex")
        return self


def _find_json(output: str) -> tuple[Any, dict[str, Any]] | ScoreResult:
    """The first JSON object or array that parses, starting at any `{` or `[` of the output."""
    decoder = json.JSONDecoder()
    for index, char in enumerate(output):
        if char in "{[":
            try:
                document, end = decoder.raw_decode(output, index)
            except ValueError:
                continue
            return document, {"found_at": index, "length": end - index}
    return ScoreResult(0.0, {"reason": "no JSON object or array in the output"})


def _parse_json(output: str, allow_fence: bool, anywhere: bool = False) -> tuple[Any, dict[str, Any]] | ScoreResult:
    if anywhere:
        return _find_json(output)
    text, meta = output, {}
    fenced = _FENCE.match(output) if allow_fence else None
    if fenced:
        text, meta = fenced.group(1), {"code_fence": True}
    if not text.strip():
        return ScoreResult(0.0, {**meta, "reason": "the output is empty"})
    try:
        return json.loads(text), meta
    except ValueError as exc:
        return ScoreResult(0.0, {**meta, "reason": f"not JSON: {exc}"})


def _check_schema(document: Any, schema: dict[str, Any], meta: dict[str, Any]) -> ScoreResult:
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if not errors:
        return ScoreResult(1.0, {**meta, "reason": "valid against the schema"})
    described = [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors[:5]]
    return ScoreResult(0.0, {**meta, "reason": "does not match the schema", "errors": described,
                             "error_count": len(errors)})


def markdown_features(output: str) -> list[str]:
    """The kinds of markdown construct found in a text, in MARKDOWN_FEATURES order."""
    return [name for name, pattern in MARKDOWN_FEATURES.items() if pattern.search(output)]


class FormatScorer:
    """Checks the output's format: JSON, JSON schema, a regex or markdown."""

    id = "format"
    description = ("1 when the output has the configured format: JSON, JSON valid against a schema, "
                   "a regex match, or markdown; 0 otherwise with the reason.")
    config_model: type[BaseModel] = FormatConfig
    admin_only = False

    async def score(self, input: str, output: str, context: ScoreContext, config: BaseModel) -> ScoreResult:
        """Score one output."""
        assert isinstance(config, FormatConfig)
        result = self._check(output, config)
        if config.negate:
            return ScoreResult(1.0 - result.value, {**result.metadata, "negate": True})
        return result

    def _check(self, output: str, config: FormatConfig) -> ScoreResult:
        if config.type == "regex":
            assert config.pattern is not None
            match = re.search(config.pattern, output, regex_flags(config.flags))
            if match is None:
                return ScoreResult(0.0, {"reason": "the pattern is not found in the output"})
            return ScoreResult(1.0, {"reason": "the pattern is found", "match": match.group(0)[:200]})
        if config.type == "markdown":
            found = markdown_features(output)
            ok = len(found) >= config.min_features
            why = "uses markdown" if ok else f"{len(found)} kind(s) of markdown construct, {config.min_features} needed"
            return ScoreResult(1.0 if ok else 0.0, {"reason": why, "features": found})
        parsed = _parse_json(output, config.allow_code_fence, config.anywhere)
        if isinstance(parsed, ScoreResult):
            return parsed
        document, meta = parsed
        if config.type == "json":
            return ScoreResult(1.0, {**meta, "reason": "valid JSON"})
        assert config.schema_ is not None
        return _check_schema(document, config.schema_, meta)
