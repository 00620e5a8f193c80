"""Executing one resolved config on every sample: stages in order, samples concurrently, through the cache."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from promptlooper.offload import run_render

from . import templates
from .adapters.base import AdapterError, BaseAdapter, ChatRequest, ChatResponse, estimate_cost
from .cache import CachedChat
from .definition import SampleDef

log = logging.getLogger("promptlooper.runner")

RunStatus = Literal["completed", "cached", "failed"]


@dataclass
class EndpointHandle:
    """An endpoint as the runner needs it: id, base URL (for cache keys), adapter and pricing."""

    id: str
    base_url: str
    adapter: BaseAdapter
    pricing: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageOutcome:
    """One stage of one sample: what was sent, what came back, and what it cost."""

    stage_index: int
    stage_name: str
    sample_id: str
    prompt_sent: str  # the rendered messages list as JSON
    response_raw: str | None
    model_used: str | None
    parameters: dict[str, Any]
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int = 0
    cached: bool = False
    cache_key: str | None = None
    cost: float = 0.0
    error: str | None = None
    called: bool = False  # a chat call was made or answered from the cache (False: failed before it)


@dataclass
class RunOutcome:
    """A run's stage results, final outputs per sample, totals and status.

    tokens and cost count every response of the run, cached or not (so configs compare); the
    `spent_*` fields count only the calls actually made.
    """

    stage_results: list[StageOutcome]
    outputs: dict[str, str | None]
    tokens_in: int
    tokens_out: int
    cost: float
    llm_calls: int
    cache_hits: int
    duration_ms: int
    error: str | None
    status: RunStatus
    spent_tokens_in: int = 0
    spent_tokens_out: int = 0
    spent_cost: float = 0.0


class StageFailure(Exception):
    """A sample stopped at a stage; the message says where and why."""


@dataclass
class _Run:
    chat: CachedChat
    endpoints: Callable[[str | None], EndpointHandle]
    limiter: asyncio.Semaphore
    repeat_index: int
    on_stage: Callable[[StageOutcome], Awaitable[None]] | None


def render_messages(stage: Mapping[str, Any], context: templates.TemplateContext) -> list[dict[str, str]]:
    """The chat messages of a stage: an optional system message, then the user prompt."""
    messages: list[dict[str, str]] = []
    system = stage.get("system_prompt")
    if system:
        messages.append({"role": "system", "content": templates.render(system, context)})
    messages.append({"role": "user", "content": templates.render(stage["prompt_template"], context)})
    return messages


async def render_stage_messages(stage: Mapping[str, Any], context: templates.TemplateContext) -> list[dict[str, str]]:
    """The messages; a template with statements (loops, macros) renders off the event loop (still bounded)."""
    texts = (stage.get("system_prompt") or "", stage["prompt_template"])
    if any("{%" in text for text in texts):
        return await run_render(render_messages, stage, context)
    return render_messages(stage, context)


async def _report(run: _Run, outcome: StageOutcome) -> None:
    if run.on_stage is None:
        return
    try:
        await run.on_stage(outcome)
    except Exception:  # a listener's failure must not fail the sample
        log.exception("on_stage callback failed")


async def _call(run: _Run, stage: Mapping[str, Any], messages: list[dict[str, str]],
                params: dict[str, Any]) -> tuple[ChatResponse, bool, str, float]:
    model = stage.get("model")
    if not model:
        raise StageFailure("the stage has no model")
    try:
        handle = run.endpoints(stage.get("endpoint_id"))
    except Exception as exc:
        raise StageFailure(f"no usable endpoint ({exc})") from exc
    request = ChatRequest(model=str(model), messages=messages, params=params)
    response, cached, key = await run.chat.call(handle.adapter, handle.base_url, request, run.repeat_index,
                                                limiter=run.limiter)
    price_model = str(model) if str(model) in handle.pricing else response.model
    cost = estimate_cost(handle.pricing, price_model, response.tokens_in, response.tokens_out)
    return response, cached, key, cost


async def _run_stage(run: _Run, index: int, stage: Mapping[str, Any], sample: SampleDef,
                     context: templates.TemplateContext) -> StageOutcome:
    params = dict(stage.get("params") or {})
    outcome = StageOutcome(stage_index=index, stage_name=str(stage.get("name", index)), sample_id=sample.id,
                           prompt_sent="", response_raw=None, model_used=stage.get("model"), parameters=params)
    try:
        messages = await render_stage_messages(stage, context)
        outcome.prompt_sent = json.dumps(messages, ensure_ascii=False)
        response, cached, key, cost = await _call(run, stage, messages, params)
    except templates.TemplateError as exc:
        outcome.error = exc.message
    except AdapterError as exc:
        outcome.error, outcome.called = exc.message, True
    except StageFailure as exc:
        outcome.error = str(exc)
    except Exception as exc:  # an unexpected failure stops this sample, not the run
        log.exception("stage %s of sample %s crashed", outcome.stage_name, sample.id)
        outcome.error = f"unexpected error: {type(exc).__name__}: {exc}"
    else:
        outcome.response_raw, outcome.model_used = response.content, response.model
        outcome.tokens_in, outcome.tokens_out, outcome.latency_ms = (
            response.tokens_in, response.tokens_out, response.latency_ms)
        outcome.cached, outcome.cache_key, outcome.cost, outcome.called = cached, key, cost, True
    return outcome


async def _run_sample(run: _Run, config: Mapping[str, Any], sample: SampleDef) -> list[StageOutcome]:
    variables = templates.merge_vars(config.get("vars") or {}, sample.vars)
    outputs: dict[str, str] = {}
    previous: str | None = None
    results: list[StageOutcome] = []
    for index, stage in enumerate(config["stages"]):
        context = templates.build_context(input=sample.input, reference=sample.reference, vars=variables,
                                          previous=previous, stages=outputs, stage_index=index)
        outcome = await _run_stage(run, index, stage, sample, context)
        results.append(outcome)
        await _report(run, outcome)
        if outcome.error is not None or outcome.response_raw is None:
            break
        previous = outcome.response_raw
        outputs[outcome.stage_name] = outcome.response_raw
    return results


def _final_output(results: list[StageOutcome], stage_count: int) -> str | None:
    last = results[-1] if results else None
    if last is None or last.error is not None or len(results) != stage_count:
        return None
    return last.response_raw


def _summarise(config: Mapping[str, Any], samples: list[SampleDef], per_sample: list[list[StageOutcome]],
               started: float) -> RunOutcome:
    stage_count = len(config["stages"])
    flat = [outcome for results in per_sample for outcome in results]
    answered = [o for o in flat if o.error is None]
    fresh = [o for o in answered if not o.cached]
    calls = [o for o in flat if o.called]
    first_error = next(
        (f"sample {o.sample_id}, stage {o.stage_name}: {o.error}" for o in flat if o.error is not None), None)
    hits = sum(1 for o in answered if o.cached)
    if first_error is not None:
        status: RunStatus = "failed"
    elif answered and hits == len(answered):
        status = "cached"
    else:
        status = "completed"
    return RunOutcome(
        stage_results=flat,
        outputs={s.id: _final_output(r, stage_count) for s, r in zip(samples, per_sample, strict=True)},
        tokens_in=sum(o.tokens_in for o in answered), tokens_out=sum(o.tokens_out for o in answered),
        cost=sum(o.cost for o in answered), llm_calls=len(calls), cache_hits=hits,
        duration_ms=int((time.perf_counter() - started) * 1000), error=first_error, status=status,
        spent_tokens_in=sum(o.tokens_in for o in fresh), spent_tokens_out=sum(o.tokens_out for o in fresh),
        spent_cost=sum(o.cost for o in fresh),
    )


async def execute_run(config: Mapping[str, Any], samples: list[SampleDef], *,
                      endpoints: Callable[[str | None], EndpointHandle], chat: CachedChat,
                      limiter: asyncio.Semaphore, repeat_index: int = 0,
                      on_stage: Callable[[StageOutcome], Awaitable[None]] | None = None) -> RunOutcome:
    """Run a resolved config on every sample (samples concurrently, stages in order); never raises for a sample."""
    started = time.perf_counter()
    run = _Run(chat=chat, endpoints=endpoints, limiter=limiter, repeat_index=repeat_index, on_stage=on_stage)
    per_sample = await asyncio.gather(*(_run_sample(run, config, sample) for sample in samples))
    return _summarise(config, samples, list(per_sample), started)
