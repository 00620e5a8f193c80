"""The guided (Optuna TPE) strategy on its own: distributions, determinism, dedupe, max_runs, told history."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from promptlooper.engine.definition import ExperimentDefinition
from promptlooper.engine.space import apply_overrides, config_hash
from promptlooper.errors import BadRequest
from promptlooper.services.guided import GuidedStrategy, distributions_of, params_of
from promptlooper.services.strategies import StrategySpec, Trial, build_strategy


def _defn(space: dict[str, Any]) -> ExperimentDefinition:
    return ExperimentDefinition.model_validate({
        "name": "g", "pipeline_stages": [{"name": "a", "endpoint_id": "e1", "model": "m1",
                                           "prompt_template": "{{ input }}", "params": {}}],
        "parameter_space": space})


SPACE = {"model": ["m1", "m2"], "system_prompt": ["short", "a long prompt " * 50],
         "temperature": {"min": 0.0, "max": 1.0}, "top_p": {"min": 0.1, "max": 1.0, "step": 0.1},
         "max_tokens": {"min": 8, "max": 512, "type": "int", "log": True}}


def score(config: dict[str, Any]) -> float:
    stage = config["stages"][0]
    return 0.5 * (stage["model"] == "m2") + 0.5 * (1 - abs(stage["params"]["temperature"] - 0.3))


def drive(spec: StrategySpec, fail_every: int = 0) -> tuple[list[int], list[Trial]]:
    trials: list[Trial] = []
    waves: list[int] = []
    while True:
        decision = build_strategy(spec, trials).ask()
        if decision.done:
            return waves, trials
        waves.append(len(decision.propose))
        for proposal in decision.propose:
            failed = fail_every and len(trials) % fail_every == 0
            trials.append(Trial(uuid.uuid4(), proposal.config, proposal.repeat_index, "failed" if failed else "completed",
                                None if failed else score(proposal.config)))


def _spec(defn: ExperimentDefinition, **options: Any) -> StrategySpec:
    return StrategySpec("guided", defn, {"concurrency": 3, "seed": 4, **options}, None)


def test_distributions_follow_lists_ranges_log_and_step() -> None:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    dists = distributions_of(_defn(SPACE))
    assert dists["model"] == CategoricalDistribution([0, 1]) and dists["system_prompt"] == CategoricalDistribution([0, 1])
    assert dists["temperature"] == FloatDistribution(0.0, 1.0)
    assert dists["top_p"] == FloatDistribution(0.1, 1.0, step=0.1)
    assert dists["max_tokens"] == IntDistribution(8, 512, log=True)


def test_waves_are_sized_to_concurrency_and_stop_at_max_runs() -> None:
    waves, trials = drive(_spec(_defn(SPACE), max_runs=10))
    assert waves == [3, 3, 3, 1]
    assert len({config_hash(t.config) for t in trials}) == 10
    assert all(8 <= t.config["stages"][0]["params"]["max_tokens"] <= 512 for t in trials)
    assert all(round(t.config["stages"][0]["params"]["top_p"] * 10, 6) % 1 == 0 for t in trials)


def test_default_max_runs_is_30_and_failed_runs_are_told() -> None:
    waves, trials = drive(_spec(_defn(SPACE), guided={"n_startup": 4}), fail_every=4)
    assert sum(waves) == 30 and any(t.status == "failed" for t in trials)


def test_same_seed_and_history_give_the_same_proposals() -> None:
    first = [t.config for t in drive(_spec(_defn(SPACE), max_runs=12, guided={"n_startup": 3}))[1]]
    again = [t.config for t in drive(_spec(_defn(SPACE), max_runs=12, guided={"n_startup": 3}))[1]]
    other = [t.config for t in drive(_spec(_defn(SPACE), max_runs=12, seed=5, guided={"n_startup": 3}))[1]]
    assert first == again and first != other
    # told in another order, the next wave is the same
    _, trials = drive(_spec(_defn(SPACE), max_runs=9))
    spec = _spec(_defn(SPACE), max_runs=12)
    assert build_strategy(spec, trials).ask().propose == build_strategy(spec, trials[::-1]).ask().propose


def test_a_small_space_is_exhausted_without_duplicates() -> None:
    waves, trials = drive(_spec(_defn({"model": ["m1", "m2"], "temperature": [0.1, 0.5, 0.9]}), max_runs=50))
    assert sum(waves) == 6 and len({config_hash(t.config) for t in trials}) == 6


def test_configs_map_back_to_parameters_and_foreign_ones_are_not_told() -> None:
    defn = _defn(SPACE)
    overrides = {"model": "m2", "system_prompt": "short", "temperature": 0.25, "top_p": 0.3, "max_tokens": 64}
    params = params_of(defn, apply_overrides(defn, overrides, None))
    assert params == {"model": 1, "system_prompt": 0, "temperature": 0.25, "top_p": 0.3, "max_tokens": 64}
    assert params_of(defn, apply_overrides(defn, overrides | {"model": "m9"}, None)) is None
    off_grid = Trial(uuid.uuid4(), apply_overrides(defn, overrides | {"top_p": 0.35}, None), 0, "completed", 0.9)
    foreign = Trial(uuid.uuid4(), apply_overrides(defn, overrides | {"model": "m9"}, None), 0, "completed", 1.0)
    strategy = GuidedStrategy(_spec(defn, max_runs=3))
    strategy.tell(off_grid)
    strategy.tell(foreign)
    assert len(strategy.ask().propose) == 1, "both count against max_runs; neither breaks the study"


def test_an_invalid_range_is_a_400() -> None:
    spec = _spec(_defn({"top_p": {"min": 0.1, "max": 1.0, "step": 0.1, "log": True}}))
    with pytest.raises(BadRequest) as refused:
        build_strategy(spec).ask()
    assert refused.value.code == "invalid_parameter_space"


def test_linked_choices_vars_and_stage_keys_map_back() -> None:
    defn = ExperimentDefinition.model_validate({
        "name": "g", "pipeline_stages": [{"name": "a", "endpoint_id": "e1", "model": "m1",
                                           "prompt_template": "{{ input }} {{ vars.tone }}", "params": {}}],
        "parameter_space": {"stages.a": [{"model": "m1", "params": {"temperature": 0.1}},
                                         {"model": "m2", "params": {"temperature": 0.9}}],
                            "vars.tone": ["dry", "warm"], "stages.a.top_p": [0.5, 1.0]}})
    config = apply_overrides(defn, {"stages.a": {"model": "m2", "params": {"temperature": 0.9}}, "vars.tone": "warm",
                                    "stages.a.top_p": 1.0}, None)
    assert params_of(defn, config) == {"stages.a": 1, "vars.tone": 1, "stages.a.top_p": 1}
    waves, trials = drive(StrategySpec("guided", defn, {"concurrency": 2, "seed": 1}, None))
    assert sum(waves) == 8 and len({config_hash(t.config) for t in trials}) == 8, "the whole space, once each"


def test_a_flat_categorical_space_is_still_explored_when_tpe_repeats_its_favourite() -> None:
    defn = _defn({"model": ["m1", "m2"], "temperature": [0.1, 0.3, 0.5, 0.7, 0.9]})

    def keyword(config: dict[str, Any]) -> float:
        return 1.0 if config["stages"][0]["model"] == "m2" else 0.0

    for seed in range(5):
        spec = StrategySpec("guided", defn, {"concurrency": 2, "seed": seed, "max_runs": 8, "guided": {"n_startup": 2}},
                            None)
        trials: list[Trial] = []
        while not (decision := build_strategy(spec, trials).ask()).done:
            trials += [Trial(uuid.uuid4(), p.config, 0, "completed", keyword(p.config)) for p in decision.propose]
        assert len({config_hash(t.config) for t in trials}) == 8, seed
