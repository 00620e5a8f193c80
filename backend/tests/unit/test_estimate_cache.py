"""The estimate's look-up of what is already cached: keys as the runner makes them, chained stages, a bound."""

from __future__ import annotations

import asyncio

from promptlooper.engine.cache import CachedChat, MemoryCacheStore
from promptlooper.engine.definition import SampleDef
from promptlooper.engine.estimate import count_cached, estimate_sweep, with_cache
from promptlooper.engine.runner import EndpointHandle, execute_run
from tests.support.llm_server import LLMServer

SAMPLES = [SampleDef(id="a", input="alpha"), SampleDef(id="b", input="beta")]


def _config(temperature: float) -> dict[str, object]:
    return {"stages": [
        {"name": "first", "endpoint_id": "e", "model": "m1", "system_prompt": None,
         "prompt_template": "Q: {{ input }}", "params": {"temperature": temperature}},
        {"name": "second", "endpoint_id": "e", "model": "m1", "system_prompt": None,
         "prompt_template": "Shorten: {{ previous }}", "params": {}},
    ], "vars": {}}


async def test_counts_the_calls_a_real_run_cached_following_each_stage_into_the_next() -> None:
    from promptlooper.engine.adapters import OpenAICompatAdapter

    store = MemoryCacheStore()
    with LLMServer(models=["m1"]) as server:
        adapter = OpenAICompatAdapter(server.base_url, None, max_concurrency=4, timeout_s=5.0, max_retries=0)
        handle = EndpointHandle(id="e", base_url=server.base_url, adapter=adapter)
        try:
            outcome = await execute_run(_config(0.1), SAMPLES, endpoints=lambda _: handle, chat=CachedChat(store),
                                        limiter=asyncio.Semaphore(4))
        finally:
            await adapter.aclose()
        assert outcome.status == "completed" and len(store.data) == 4

        async def lookup(keys: list[str]) -> dict[str, str]:
            return {k: store.data[k].content for k in keys if k in store.data}

        configs = [_config(0.1), _config(0.9)]  # the second was never run
        checked, cached = await count_cached(configs, SAMPLES, 1, {"e": server.base_url}, lookup)
        assert (checked, cached) == (8, 4), "both stages of the run config, none of the other"
        estimate = with_cache(estimate_sweep(configs, SAMPLES, 1, {}), checked, cached)
        assert estimate.cached_calls == 4 and estimate.cache_checked == 8 and estimate.llm_calls == 8
        # Past the bound the share is extrapolated (and the look-ups stay bounded).
        checked, cached = await count_cached(configs, SAMPLES, 1, {"e": server.base_url}, lookup, limit=4)
        assert checked == 4 and cached == 2, "one sample of each config checked (spread, not the first ones)"
        assert with_cache(estimate_sweep(configs, SAMPLES, 1, {}), checked, cached).cached_calls == 4


def test_scorer_calls_are_counted_per_scored_output() -> None:
    estimate = estimate_sweep([_config(0.1)], SAMPLES, 2, {}, scorers=["keyword", "llm_judge", "embedding_similarity"])
    assert estimate.llm_calls == 2 * 2 * 2 and estimate.scorer_calls == 2 * 2 * 2
    assert estimate.calls == estimate.llm_calls + estimate.scorer_calls
