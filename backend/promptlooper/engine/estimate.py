"""What a sweep will cost before it runs: runs, LLM calls, estimated tokens and dollars."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from . import templates
from .adapters.base import estimate_cost
from .cache import cache_key
from .definition import SampleDef

CHARS_PER_TOKEN = 4  # the usual rule of thumb for English text with BPE tokenizers
DEFAULT_OUTPUT_TOKENS = 256  # assumed per call when a stage sets no max_tokens
MESSAGE_OVERHEAD_TOKENS = 4  # role and separators per chat message
SAMPLED_CONFIGS = 50  # configs rendered for the token estimate; the rest are extrapolated
# Scorers that make one model call per scored output (a judge's chat call, one batched embed call).
CALLING_SCORERS = frozenset({"llm_judge", "embedding_similarity"})
MAX_CACHE_LOOKUPS = 1000  # stage calls whose cache key an estimate looks up; the rest are extrapolated
YIELD_EVERY = 20  # keys computed between two yields to the event loop (about 4 ms of work)
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
    llm_calls: int = 0  # the pipeline's chat calls; `calls` adds the scorer calls
    scorer_calls: int = 0
    cached_calls: int = 0  # of llm_calls, already in the response cache (extrapolated past the bound)
    cache_checked: int = 0  # stage calls whose key was looked up
    cost_usd_uncached: float = 0.0  # the cost of the calls not already cached


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


def sample_configs(configs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """At most SAMPLED_CONFIGS configs, spread evenly: what the token estimate and the cache check render."""
    step = max(1, len(configs) // SAMPLED_CONFIGS)
    return list(configs[::step])[:SAMPLED_CONFIGS]


def estimate_sweep(configs: Sequence[Mapping[str, Any]], samples: Sequence[SampleDef], repeats: int = 1,
                   pricing: Mapping[str, Mapping[str, Any]] | None = None,
                   scorers: Sequence[str] = ()) -> SweepEstimate:
    """Runs and calls exactly; tokens and cost from a sample of the configs rendered against every sample.

    `calls` counts the stages' chat calls and one call per scored output for each scorer in
    `CALLING_SCORERS` (scorer ids, as in `scoring_config`); tokens and cost are the stages' only.
    """
    stages = len(configs[0]["stages"]) if configs else 0
    runs = len(configs) * repeats
    llm_calls = runs * len(samples) * stages
    scorer_calls = runs * len(samples) * sum(1 for scorer in scorers if scorer in CALLING_SCORERS)
    calls = llm_calls + scorer_calls
    sampled = sample_configs(configs)
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
                         cost=round(cost * scale, 6), priced=priced, llm_calls=llm_calls,
                         scorer_calls=scorer_calls, cost_usd_uncached=round(cost * scale, 6))


CacheLookup = Callable[[list[str]], Awaitable[Mapping[str, str]]]


async def count_cached(configs: Sequence[Mapping[str, Any]], samples: Sequence[SampleDef], repeats: int,
                       base_urls: Mapping[str, str], lookup: CacheLookup,
                       limit: int = MAX_CACHE_LOOKUPS) -> tuple[int, int]:
    """(stage calls checked, of them already cached), looking up at most `limit` cache keys.

    Keys are computed as the runner computes them; a stage after the first is only known when the
    stage before it was a hit (its cached answer is the next stage's `previous`). `lookup` answers
    the content stored under each key found.
    """
    from .runner import render_stage_messages  # the runner's own rendering, so keys match exactly

    stage_count = len(configs[0]["stages"]) if configs else 0
    if not stage_count or not samples:
        return 0, 0
    chains: list[tuple[Mapping[str, Any], int, SampleDef, dict[str, str], list[str | None]]] = []
    sampled = sample_configs(configs)
    per_config = repeats * len(samples)
    total = len(sampled) * per_config
    step = -(-total // max(1, limit // stage_count))  # spread the checked calls over every config
    for index in range(0, total, step):
        config_index, rest = divmod(index, per_config)
        repeat, sample_index = divmod(rest, len(samples))
        chains.append((sampled[config_index], repeat, samples[sample_index], {}, [None]))
    checked = len(chains) * stage_count
    cached = 0
    alive = list(range(len(chains)))
    for index in range(stage_count):
        keys: dict[int, str] = {}
        for done, chain_index in enumerate(alive):
            if done and done % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # rendering and hashing is CPU work: let the event loop breathe
            config, repeat, sample, outputs, previous = chains[chain_index]
            stage = config["stages"][index]
            base_url = base_urls.get(str(stage.get("endpoint_id")))
            if not base_url or not stage.get("model"):
                continue
            context = templates.build_context(
                input=sample.input, reference=sample.reference,
                vars=templates.merge_vars(config.get("vars") or {}, sample.vars),
                previous=previous[0], stages=outputs, stage_index=index)
            try:  # a template with loops renders off the loop: 20 of them at once held it for seconds
                messages = await render_stage_messages(stage, context)
            except templates.TemplateError:
                continue
            keys[chain_index] = cache_key(base_url, str(stage["model"]), messages, dict(stage.get("params") or {}),
                                          repeat)
        found = await lookup(sorted(set(keys.values()))) if keys else {}
        alive = []
        for chain_index, key in keys.items():
            content = found.get(key)
            if content is None:
                continue
            cached += 1
            _, _, _, outputs, previous = chains[chain_index]
            outputs[str(chains[chain_index][0]["stages"][index].get("name", index))] = content
            previous[0] = content
            alive.append(chain_index)
        if not alive:
            break
    return checked, cached


def with_cache(estimate: SweepEstimate, checked: int, cached: int) -> SweepEstimate:
    """The estimate with the cache's share: exact when every call was checked, else extrapolated."""
    if not checked or not estimate.llm_calls:
        return replace(estimate, cache_checked=checked)
    share = cached / checked
    cached_calls = cached if checked >= estimate.llm_calls else round(share * estimate.llm_calls)
    uncached = estimate.cost * (1 - cached_calls / estimate.llm_calls)
    return replace(estimate, cached_calls=cached_calls, cache_checked=checked,
                   cost_usd_uncached=round(max(uncached, 0.0), 6))
