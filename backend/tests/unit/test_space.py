"""Parameter space -> configs: overrides, grid, random sampling, hashing."""

from __future__ import annotations

from typing import Any

import pytest

from promptlooper.engine.definition import ExperimentDefinition, RangeSpec
from promptlooper.engine.space import (
    SpaceError,
    SpaceTooLarge,
    apply_overrides,
    canonical_json,
    config_hash,
    count_grid,
    expand_grid,
    range_count,
    range_values,
    sample_random,
)


def defn(space: dict[str, Any] | None = None, stages: list[dict[str, Any]] | None = None) -> ExperimentDefinition:
    return ExperimentDefinition.model_validate({
        "name": "x",
        "sample_data": [{"id": "s1", "input": "a"}],
        "pipeline_stages": stages or [
            {"name": "extract", "model": "m1", "system_prompt": "sys", "prompt_template": "{{ input }}",
             "params": {"temperature": 0.2, "max_tokens": 64}},
            {"name": "summarize", "endpoint_id": "ep-2", "model": "m1", "prompt_template": "{{ previous }}"},
        ],
        "parameter_space": space or {},
    })


def test_canonical_json_and_hash_are_stable():
    assert canonical_json({"b": 1, "a": [0.5, "é"]}) == '{"a":[0.5,"é"],"b":1}'
    assert config_hash({"t": 0.1 + 0.2}) == config_hash({"t": 0.3})
    assert config_hash({"t": 0.50}) == config_hash({"t": 0.5})
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})
    assert config_hash({"t": 1}) != config_hash({"t": 2})
    assert len(config_hash({})) == 64
    with pytest.raises(SpaceError):
        canonical_json({"t": float("nan")})


def test_apply_overrides_resolves_everything():
    config = apply_overrides(defn(), {"temperature": 0.7, "stages.summarize.temperature": 0.9,
                                      "stages.1.model": "m2", "vars.topic": "cats", "top_p": 0.5}, "ep-default")
    extract, summarize = config["stages"]
    assert extract == {"name": "extract", "endpoint_id": "ep-default", "model": "m1", "system_prompt": "sys",
                       "prompt_template": "{{ input }}", "params": {"temperature": 0.7, "max_tokens": 64, "top_p": 0.5}}
    assert summarize["endpoint_id"] == "ep-2" and summarize["model"] == "m2"
    assert summarize["params"] == {"temperature": 0.9, "top_p": 0.5}
    assert config["vars"] == {"topic": "cats"}


def test_stage_specific_key_wins_whatever_the_order():
    a = apply_overrides(defn(), {"stages.extract.temperature": 0.1, "temperature": 0.5}, None)
    b = apply_overrides(defn(), {"temperature": 0.5, "stages.extract.temperature": 0.1}, None)
    assert a == b and a["stages"][0]["params"]["temperature"] == 0.1


def test_none_override_removes_a_param():
    config = apply_overrides(defn(), {"stages.extract.max_tokens": None}, None)
    assert "max_tokens" not in config["stages"][0]["params"]


@pytest.mark.parametrize("overrides", [{"stages.nope.model": "x"}, {"bad key": 1}, {"temperature": {"min": 0}}])
def test_bad_overrides(overrides):
    with pytest.raises(SpaceError):
        apply_overrides(defn(), overrides, None)


def test_range_values_by_step_and_types():
    assert range_values(RangeSpec(min=0.1, max=0.9, step=0.2)) == [0.1, 0.3, 0.5, 0.7, 0.9]
    assert range_values(RangeSpec(min=0.1, max=0.8, step=0.1)) == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    ints = range_values(RangeSpec(min=200, max=2000, step=600, type="int"))
    assert ints == [200, 800, 1400, 2000] and all(type(v) is int for v in ints)
    assert range_values(RangeSpec(min=0, max=1)) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert range_values(RangeSpec(min=1, max=10000, log=True)) == [1.0, 10.0, 100.0, 1000.0, 10000.0]
    assert range_values(RangeSpec(min=1, max=3, type="int")) == [1, 2, 3]  # 5 points rounded, deduplicated
    assert range_values(RangeSpec(min=2, max=2)) == [2.0]
    with pytest.raises(SpaceError):
        range_values(RangeSpec(min=1, max=0))


def test_expand_grid_order_count_and_contents():
    d = defn({"model": ["m1", "m2"], "temperature": [0.1, 0.5, 0.9],
              "vars.chunk_size": {"min": 200, "max": 2000, "step": 600, "type": "int"}})
    assert count_grid(d) == 24
    configs = expand_grid(d, "ep-default", None)
    assert len(configs) == 24
    assert len({config_hash(c) for c in configs}) == 24
    first, second = configs[0], configs[1]
    assert first["stages"][0]["model"] == "m1" and first["stages"][1]["model"] == "m1"
    assert first["vars"] == {"chunk_size": 200} and second["vars"] == {"chunk_size": 800}  # last key fastest
    assert configs[-1]["stages"][0]["model"] == "m2" and configs[-1]["stages"][0]["params"]["temperature"] == 0.9
    assert expand_grid(d, "ep-default", None) == configs  # deterministic


def test_expand_grid_dedupes_and_caps():
    d = defn({"temperature": [0.5, 0.50, 0.5000000000001, 0.7]})
    assert count_grid(d) == 4
    assert [c["stages"][0]["params"]["temperature"] for c in expand_grid(d, None, None)] == [0.5, 0.7]
    capped = expand_grid(defn({"seed": list(range(100))}), None, max_runs=7)
    assert [c["stages"][0]["params"]["seed"] for c in capped] == list(range(7))


def test_expand_grid_without_space_is_the_base_config():
    configs = expand_grid(defn(), "ep", None)
    assert len(configs) == 1 and count_grid(defn()) == 1
    assert configs[0]["stages"][0]["params"] == {"temperature": 0.2, "max_tokens": 64}


def test_sample_random_is_seeded_and_within_bounds():
    space = {"model": ["m1", "m2", "m3"], "temperature": {"min": 0.0, "max": 1.5},
             "top_p": {"min": 0.001, "max": 1.0, "log": True},
             "max_tokens": {"min": 16, "max": 512, "type": "int"},
             "seed": {"min": 0, "max": 100, "step": 25, "type": "int"},
             "presence_penalty": {"min": 0.0, "max": 1.0, "step": 0.25}}
    d = defn(space)
    a = sample_random(d, None, 30, seed=7)
    b = sample_random(d, None, 30, seed=7)
    c = sample_random(d, None, 30, seed=8)
    assert a == b and a != c and len(a) == 30
    assert len({config_hash(x) for x in a}) == 30
    for config in a:
        stage = config["stages"][0]
        params = stage["params"]
        assert stage["model"] in {"m1", "m2", "m3"}
        assert 0.0 <= params["temperature"] <= 1.5
        assert params["temperature"] == float(f"{params['temperature']:.4g}")
        assert 0.001 <= params["top_p"] <= 1.0
        assert type(params["max_tokens"]) is int and 16 <= params["max_tokens"] <= 512
        assert params["seed"] in {0, 25, 50, 75, 100}
        assert params["presence_penalty"] in {0.0, 0.25, 0.5, 0.75, 1.0}


def test_sample_random_stops_when_the_space_is_small():
    configs = sample_random(defn({"model": ["m1", "m2"]}), None, 10, seed=1)
    assert sorted(c["stages"][0]["model"] for c in configs) == ["m1", "m2"]
    with pytest.raises(SpaceError):
        sample_random(defn(), None, 0, seed=1)


def test_log_sampling_favours_small_values():
    configs = sample_random(defn({"top_p": {"min": 0.0001, "max": 1.0, "log": True}}), None, 200, seed=3)
    small = sum(1 for c in configs if c["stages"][0]["params"]["top_p"] < 0.01)
    assert small > len(configs) / 3  # uniform would put ~1% there


def test_linked_choice_sets_fields_together_and_counts_as_one_dimension():
    linked = [{"model": "m1", "params": {"temperature": 0.1}},
              {"model": "m2", "endpoint_id": "ep-9", "params": {"temperature": 0.9, "seed": 3}},
              {"model": "m3", "prompt_template": "Q: {{ input }}"}]
    d = defn({"stages.extract": linked, "stages.summarize.prompt_template": ["A {{ previous }}", "B {{ previous }}"]})
    assert count_grid(d) == 6  # 3 linked values x 2 templates, never 3 models x 3 temperatures x ...
    configs = expand_grid(d, "ep-default")
    assert len(configs) == 6
    extracts = [c["stages"][0] for c in configs[::2]]
    assert [(s["model"], s["endpoint_id"], s["params"].get("temperature")) for s in extracts] == [
        ("m1", "ep-default", 0.1), ("m2", "ep-9", 0.9), ("m3", "ep-default", 0.2)]
    assert extracts[1]["params"] == {"temperature": 0.9, "max_tokens": 64, "seed": 3}  # merged over the stage's
    assert extracts[2]["prompt_template"] == "Q: {{ input }}"
    drawn = sample_random(d, None, max_runs=6, seed=1)
    assert {c["stages"][0]["model"] for c in drawn} == {"m1", "m2", "m3"} and len(drawn) == 6


def test_a_stage_field_key_beats_the_linked_choice():
    d = defn()
    config = apply_overrides(d, {"stages.extract.temperature": 0.5, "stages.extract": {"params": {"temperature": 0.1}},
                                 "temperature": 0.3}, None)
    assert config["stages"][0]["params"]["temperature"] == 0.5
    with pytest.raises(SpaceError):
        apply_overrides(d, {"stages.extract": "m2"}, None)


def test_counting_is_arithmetic_and_huge_spaces_are_refused_before_expanding():
    import time

    started = time.perf_counter()
    huge_range = defn({"temperature": {"min": 0, "max": 1, "step": 1e-12}, "model": ["m1", "m2"]})
    assert count_grid(huge_range) == 2 * (10**12 + 1)
    assert range_count(RangeSpec(min=0, max=63_999, step=1, type="int")) == 64_000
    with pytest.raises(SpaceTooLarge, match=r"2,000,000,000,002 combinations; a sweep may hold at most 100,000") as caught:
        expand_grid(huge_range, None)
    assert caught.value.count == 2 * (10**12 + 1) and caught.value.cap == 100_000
    with pytest.raises(SpaceTooLarge, match=r"1,000,000,000,001 points"):
        expand_grid(huge_range, None, max_runs=10)  # one axis past the cap is never listed
    many_axes = defn({f"vars.v{i}": list(range(10)) for i in range(12)})
    assert count_grid(many_axes) == 10**12
    assert len(expand_grid(many_axes, None, max_runs=25)) == 25  # lazily: only what is taken is made
    with pytest.raises(SpaceTooLarge, match="max_runs is 200,000"):
        expand_grid(many_axes, None, max_runs=200_000)
    with pytest.raises(SpaceTooLarge, match="100 combinations; a sweep may hold at most 99"):
        expand_grid(defn({"seed": list(range(100))}), None, cap=99)
    assert time.perf_counter() - started < 2.0


def test_a_range_of_64000_points_expands_in_linear_time():
    import time

    started = time.perf_counter()
    values = range_values(RangeSpec(min=0, max=63_999, step=1, type="int"))
    assert values == list(range(64_000))
    assert time.perf_counter() - started < 1.0  # the membership test in a list made this quadratic (29 s)


def test_random_sampling_of_a_huge_space_draws_without_listing_it():
    import time

    started = time.perf_counter()
    space = {f"vars.v{i}": list(range(1000)) for i in range(10)} | {"temperature": {"min": 0, "max": 1, "step": 1e-12}}
    configs = sample_random(defn(space), None, 50, seed=4)
    assert len(configs) == 50 and len({config_hash(c) for c in configs}) == 50
    small = sample_random(defn({"model": ["m1", "m2", "m3"]}), None, 100_000, seed=1)
    assert len(small) == 3  # stops after a run of draws finds nothing new, not after 2,000,000 draws
    with pytest.raises(SpaceTooLarge):
        sample_random(defn(space), None, 100, seed=1, cap=99)
    assert time.perf_counter() - started < 3.0
