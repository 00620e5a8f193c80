"""execute_run against the loopback server: stages, failures, cache status, the sweep-wide limiter."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from promptlooper.engine.adapters import OpenAICompatAdapter
from promptlooper.engine.cache import CachedChat, MemoryCacheStore
from promptlooper.engine.definition import ExperimentDefinition, SampleDef
from promptlooper.engine.runner import EndpointHandle, StageOutcome, execute_run
from promptlooper.engine.space import apply_overrides

PRICING = {"m1": {"input_per_1m": 1_000_000, "output_per_1m": 2_000_000}}  # $1 / $2 per token: easy sums


def definition(stages=None, samples=None) -> ExperimentDefinition:
    return ExperimentDefinition.model_validate({
        "name": "pipeline",
        "sample_data": samples or [
            {"id": "s1", "input": "alpha text", "reference": "ref1", "vars": {"topic": "cats"}},
            {"id": "s2", "input": "beta text", "vars": {"topic": "dogs"}},
        ],
        "pipeline_stages": stages or [
            {"name": "extract", "model": "m1", "system_prompt": "Topic {{ vars.topic }}",
             "prompt_template": "Facts in: {{ input }} ref={{ reference }}", "params": {"temperature": 0.2}},
            {"name": "summarize", "model": "m2", "prompt_template": "Summarize: {{ previous }}"},
            {"name": "check", "model": "m1", "prompt_template": "Compare {{ stages.extract.output }} / {{ previous }}"},
        ],
    })


@pytest.fixture
async def handle(llm) -> AsyncIterator[EndpointHandle]:
    adapter = OpenAICompatAdapter(llm.base_url, None, max_retries=0)
    yield EndpointHandle(id="ep1", base_url=llm.base_url, adapter=adapter, pricing=PRICING)
    await adapter.aclose()


def lookup(handle: EndpointHandle):
    def endpoints(endpoint_id: str | None) -> EndpointHandle:
        if endpoint_id != "ep1":
            raise LookupError(f"endpoint {endpoint_id} does not exist")
        return handle
    return endpoints


async def run(defn, handle, chat=None, limiter=None, overrides=None, **kw):
    config = apply_overrides(defn, overrides or {}, "ep1")
    return await execute_run(config, defn.sample_data, endpoints=lookup(handle),
                             chat=chat or CachedChat(MemoryCacheStore()), limiter=limiter or asyncio.Semaphore(8),
                             **kw)


async def test_multi_stage_pipeline_passes_outputs_along(llm, handle):
    seen: list[StageOutcome] = []

    async def on_stage(outcome: StageOutcome) -> None:
        seen.append(outcome)

    outcome = await run(definition(), handle, on_stage=on_stage)
    assert outcome.status == "completed" and outcome.error is None
    assert len(outcome.stage_results) == 6 and len(seen) == 6 and outcome.llm_calls == 6 and outcome.cache_hits == 0
    s1 = [r for r in outcome.stage_results if r.sample_id == "s1"]
    assert [r.stage_index for r in s1] == [0, 1, 2] and [r.stage_name for r in s1] == ["extract", "summarize", "check"]
    messages = json.loads(s1[0].prompt_sent)
    assert messages == [{"role": "system", "content": "Topic cats"},
                        {"role": "user", "content": "Facts in: alpha text ref=ref1"}]
    assert json.loads(s1[1].prompt_sent) == [{"role": "user", "content": f"Summarize: {s1[0].response_raw}"}]
    assert json.loads(s1[2].prompt_sent)[0]["content"] == f"Compare {s1[0].response_raw} / {s1[1].response_raw}"
    assert s1[0].parameters == {"temperature": 0.2} and s1[1].model_used == "m2"
    assert outcome.outputs == {"s1": s1[2].response_raw,
                               "s2": next(r.response_raw for r in outcome.stage_results if r.sample_id == "s2"
                                          and r.stage_index == 2)}
    assert outcome.tokens_in == sum(r.tokens_in for r in outcome.stage_results) > 0
    priced = [r for r in outcome.stage_results if r.model_used == "m1"]
    assert outcome.cost == pytest.approx(sum(r.tokens_in + 2 * r.tokens_out for r in priced))
    assert llm.per_model == {"m1": 4, "m2": 2}


async def test_a_failing_stage_fails_only_its_sample(llm, handle):
    stages = [{"name": "only", "model": "m1", "prompt_template": "{{ input }}"}]
    samples = [{"id": f"s{i}", "input": f"text {i}"} for i in range(4)]
    llm.script(["500"])  # the first request answers 500; max_retries=0 so that sample fails
    outcome = await run(definition(stages, samples), handle)
    failed = [r for r in outcome.stage_results if r.error]
    assert len(failed) == 1 and outcome.status == "failed"
    assert outcome.error == f"sample {failed[0].sample_id}, stage only: {failed[0].error}"
    assert "Endpoint answered 500" in outcome.error
    assert outcome.outputs[failed[0].sample_id] is None
    assert sum(1 for v in outcome.outputs.values() if v) == 3
    assert outcome.llm_calls == 4


async def test_template_error_stops_the_sample_before_calling(llm, handle):
    stages = [{"name": "a", "model": "m1", "prompt_template": "{{ vars.topic }}"},
              {"name": "b", "model": "m1", "prompt_template": "{{ previous }}"}]
    samples = [{"id": "s1", "input": "x", "vars": {"topic": "t"}}, {"id": "s2", "input": "y"}]
    outcome = await run(definition(stages, samples), handle)
    assert outcome.status == "failed" and outcome.error.startswith("sample s2, stage a: Template uses an undefined")
    assert [r.sample_id for r in outcome.stage_results] == ["s1", "s1", "s2"]
    assert outcome.outputs["s1"] and outcome.outputs["s2"] is None
    assert llm.calls == 2 and outcome.llm_calls == 2


async def test_unknown_endpoint_fails_the_sample_with_a_reason(llm, handle):
    outcome = await run(definition(), handle, overrides={"stages.summarize.endpoint_id": "ghost"})
    assert outcome.status == "failed" and "no usable endpoint" in outcome.error
    assert all(v is None for v in outcome.outputs.values())


async def test_rerun_with_warm_cache_is_cached(llm, handle):
    chat = CachedChat(MemoryCacheStore())
    first = await run(definition(), handle, chat=chat)
    calls = llm.calls
    second = await run(definition(), handle, chat=chat)
    assert first.status == "completed" and second.status == "cached"
    assert second.cache_hits == second.llm_calls == 6 and llm.calls == calls
    assert second.outputs == first.outputs and second.tokens_in == first.tokens_in and second.cost == first.cost
    assert second.spent_tokens_in == 0 and second.spent_cost == 0 and first.spent_tokens_in == first.tokens_in
    third = await run(definition(), handle, chat=chat, repeat_index=1)
    assert third.status == "completed" and third.cache_hits == 0


async def test_limiter_peak_is_never_exceeded(llm, handle):
    llm.latency_s = 0.05
    stages = [{"name": "a", "model": "m1", "prompt_template": "{{ input }}"},
              {"name": "b", "model": "m1", "prompt_template": "{{ previous }} again"}]
    samples = [{"id": f"s{i}", "input": f"text {i}"} for i in range(12)]
    defn = definition(stages, samples)
    limiter = asyncio.Semaphore(3)
    chat = CachedChat(MemoryCacheStore())
    outcomes = await asyncio.gather(*(run(defn, handle, chat=chat, limiter=limiter, overrides={"temperature": t})
                                      for t in (0.1, 0.5)))
    assert all(o.status == "completed" for o in outcomes)
    assert llm.calls == 48
    assert 2 <= llm.peak_in_flight <= 3


async def test_empty_samples_complete_with_nothing(handle):
    defn = definition(samples=[{"id": "s", "input": "x", "vars": {"topic": "t"}}])
    config = apply_overrides(defn, {}, "ep1")
    outcome = await execute_run(config, [], endpoints=lookup(handle), chat=CachedChat(MemoryCacheStore()),
                                limiter=asyncio.Semaphore(1))
    assert outcome.status == "completed" and outcome.stage_results == [] and outcome.outputs == {}


async def test_on_stage_failure_does_not_fail_the_run(handle):
    async def broken(outcome: StageOutcome) -> None:
        raise RuntimeError("listener bug")

    samples = [SampleDef(id="s1", input="x", vars={"topic": "t"}).model_dump()]
    outcome = await run(definition(samples=samples), handle, on_stage=broken)
    assert outcome.status == "completed"


def test_templates_with_statements_render_off_the_event_loop() -> None:
    """A loop or macro may spend up to the step budget: it renders on the render pool, not the loop."""
    import asyncio
    import threading

    from promptlooper.engine import runner

    def who() -> str:
        return threading.current_thread().name

    async def both() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        heavy = await runner.render_stage_messages({"prompt_template": "{% for i in [1] %}{{ who() }}{% endfor %}"}, {"who": who})
        light = await runner.render_stage_messages({"prompt_template": "{{ who() }}"}, {"who": who})
        return heavy, light

    heavy, light = asyncio.run(both())
    assert heavy[0]["content"].startswith("pl-render")
    assert light[0]["content"] == threading.current_thread().name  # plain substitutions stay inline
