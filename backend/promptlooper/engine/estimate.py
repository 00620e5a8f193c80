"""What a sweep will cost before it runs: runs, LLM calls, estimated tokens and dollars."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import templates
from .adapters.base import estimate_cost
from .definition import SampleDef

CHARS_PER_TOKEN = 4  # the usual rule of thumb for English text with BPE tokenizers
DEFAULT_OUTPUT_TOKENS = 256  # assumed per call when a stage sets no max_tokens
MESSAGE_OVERHEAD_TOKENS = 4  # role and separators per chat message
SAMPLED_CONFIGS = 50  # configs rendered for the token estimate; the rest are extrapolated
SAMPLED_PAIRS = 2000  # at most this many (config, sample) pairs are rendered; the rest are extrapolated
RENDER_BUDGET_S = 3.0  # after this long rendering, the estimate counts the raw template text instead


@dataclass(frozen=True)
class SweepEstimate:
    """The estimate of one sweep (tokens are upper estimates: outputs assume max_tokens)."""

    runs: int
    calls: int
    samples: int
    stages: int
    tokens_in: int
    tokens_out: int
    cost: float
    priced: bool


def tokens_of(text: str) -> int:
    """A rough token count of a text."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def _output_tokens(stage: Mapping[str, Any]) -> int:
    value = (stage.get("params") or {}).get("max_tokens")
    return int(value) if isinstance(value, int | float) and value > 0 else DEFAULT_OUTPUT_TOKENS


def _render_or_raw(template: str | None, context: templates.TemplateContext, deadline: float) -> str:
    if not template:
        return ""
    if time.monotonic() > deadline:
        return template
    try:
        return templates.render(template, context)
    except templates.TemplateError:
        return template


def _config_tokens(config: Mapping[str, Any], samples: Sequence[SampleDef],
                   pricing: Mapping[str, Mapping[str, Any]], deadline: float) -> tuple[int, int, float, bool]:
    tokens_in = tokens_out = 0
    cost = 0.0
    priced = True
    for sample in samples:
        variables = templates.merge_vars(config.get("vars") or {}, sample.vars)
        previous: str | None = None
        outputs: dict[str, str] = {}
        for index, stage in enumerate(config["stages"]):
            context = templates.build_context(input=sample.input, reference=sample.reference, vars=variables,
                                              previous=previous, stages=outputs, stage_index=index)
            prompt = _render_or_raw(stage.get("system_prompt"), context, deadline) + _render_or_raw(
                stage["prompt_template"], context, deadline)
            call_in = tokens_of(prompt) + 2 * MESSAGE_OVERHEAD_TOKENS
            call_out = _output_tokens(stage)
            tokens_in += call_in
            tokens_out += call_out
            endpoint_pricing = pricing.get(str(stage.get("endpoint_id")), {})
            model = str(stage.get("model") or "")
            priced = priced and model in endpoint_pricing
            cost += estimate_cost(endpoint_pricing, model, call_in, call_out)
            previous = "x" * (call_out * CHARS_PER_TOKEN)  # a stand-in output of the assumed length
            outputs[str(stage["name"])] = previous
    return tokens_in, tokens_out, cost, priced


def estimate_sweep(configs: Sequence[Mapping[str, Any]], samples: Sequence[SampleDef], repeats: int = 1,
                   pricing: Mapping[str, Mapping[str, Any]] | None = None) -> SweepEstimate:
    """Runs and calls exactly; tokens and cost from a sample of the configs rendered against every sample."""
    stages = len(configs[0]["stages"]) if configs else 0
    runs = len(configs) * repeats
    calls = runs * len(samples) * stages
    step = max(1, len(configs) // SAMPLED_CONFIGS)
    sampled = list(configs[::step])[:SAMPLED_CONFIGS]
    per_config = max(1, SAMPLED_PAIRS // max(1, len(sampled)))  # samples rendered per sampled config
    some_samples = list(samples[:: max(1, len(samples) // per_config)])[:per_config]
    deadline = time.monotonic() + RENDER_BUDGET_S
    tokens_in = tokens_out = 0
    cost = 0.0
    priced = bool(sampled) and bool(samples)
    for config in sampled:
        t_in, t_out, c, p = _config_tokens(config, some_samples, pricing or {}, deadline)
        tokens_in, tokens_out, cost, priced = tokens_in + t_in, tokens_out + t_out, cost + c, priced and p
    scale = runs / len(sampled) * len(samples) / len(some_samples) if sampled and some_samples else 0.0
    return SweepEstimate(runs=runs, calls=calls, samples=len(samples), stages=stages,
                         tokens_in=round(tokens_in * scale), tokens_out=round(tokens_out * scale),
                         cost=round(cost * scale, 6), priced=priced)
