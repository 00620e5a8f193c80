"""Early stopping's schedule and strategy alone: rungs, survivors, projected calls, and what it decides."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from promptlooper.engine.definition import ExperimentDefinition
from promptlooper.services.halving import HalvingStrategy, first_rung, projected_calls, rungs, survivors
from promptlooper.services.strategies import Decision, StrategySpec, Trial, UpFrontStrategy, build_strategy


def test_rungs_grow_by_eta_from_min_samples_and_end_at_every_sample() -> None:
    assert rungs(9, 1, 3) == [1, 3, 9]
    assert rungs(10, 2, 3) == [2, 6, 10]
    assert rungs(20, 4, 2) == [4, 8, 16, 20]
    assert rungs(5, 5, 3) == [5], "min_samples covers every sample: nothing to halve"
    assert rungs(3, 8, 3) == [3]
    assert rungs(0, 4, 3) == [0]


def test_the_best_one_in_eta_survive_and_at_least_one() -> None:
    assert [survivors(n, 3) for n in (0, 1, 2, 3, 8, 9, 27)] == [0, 1, 1, 1, 2, 3, 9]
    assert survivors(10, 2) == 5


def test_projected_calls_best_case_follows_the_rungs() -> None:
    # 9 configs, 9 samples, 1 stage: rung 1 (9 runs x 1), rung 3 (3 runs x 2 more), rung 9 (1 run x 6 more)
    assert projected_calls(9, 9, 1, 3, 1) == (9 + 6 + 6, 81)
    assert projected_calls(9, 10, 2, 3, 2) == ((9 * 2 + 3 * 4 + 1 * 4) * 2, 180)
    assert projected_calls(4, 3, 4, 3, 1) == (12, 12), "min_samples >= samples: no pruning"


def _spec(samples: int, options: dict[str, Any] | None = None, space: dict[str, Any] | None = None) -> StrategySpec:
    defn = ExperimentDefinition.model_validate({
        "name": "halving",
        "sample_data": [{"id": f"s{i}", "input": f"text {i}"} for i in range(samples)],
        "pipeline_stages": [{"name": "a", "endpoint_id": "e1", "model": "m1", "prompt_template": "{{ input }}"}],
        "parameter_space": space or {"temperature": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]},
    })
    opts = {"early_stopping": {"min_samples": 2, "eta": 3}} | (options or {})
    return StrategySpec("grid", defn, opts, None)


def _trial(config: dict[str, Any], status: str, score: float | None, samples: tuple[str, ...] | None,
           run_id: uuid.UUID | None = None) -> Trial:
    return Trial(run_id=run_id or uuid.uuid4(), config=config, repeat_index=0, status=status, weighted_score=score,
                 samples=samples, samples_evaluated=len(samples) if samples is not None else None)


def test_every_configuration_starts_on_the_first_rung() -> None:
    spec = _spec(10)
    strategy = build_strategy(spec)
    assert isinstance(strategy, HalvingStrategy)
    proposals = strategy.ask().propose
    assert len(proposals) == 9
    assert {p.samples for p in proposals} == {("s0", "s1")}
    assert all(p.parent_run_id is None for p in proposals)
    assert first_rung(_spec(2)) is None, "as many samples as min_samples: every run is a full run"


def test_a_settled_rung_continues_the_best_third_and_prunes_the_rest() -> None:
    spec = _spec(10)
    first = build_strategy(spec).ask().propose
    trials = [_trial(p.config, "completed", score / 10, p.samples) for score, p in enumerate(first)]
    trials[4] = _trial(first[4].config, "failed", None, first[4].samples)
    decision = build_strategy(spec, trials).ask()
    best = sorted((t for t in trials if t.status == "completed"), key=lambda t: -(t.weighted_score or 0))
    assert [p.parent_run_id for p in decision.propose] == [t.run_id for t in best[:2]], "8 succeeded: 8 // 3 = 2"
    assert {p.samples for p in decision.propose} == {tuple(f"s{i}" for i in range(6))}
    assert set(decision.prune) == {t.run_id for t in best[2:]}
    assert trials[4].run_id not in decision.prune, "a failed run stays failed"
    assert not decision.done


def test_the_last_rung_is_every_sample_and_then_the_sweep_is_done() -> None:
    spec = _spec(10)
    config = build_strategy(spec).ask().propose[0].config
    survivors_ = [_trial(config, "completed", 0.9, tuple(f"s{i}" for i in range(6))),
                  _trial(config | {"x": 1}, "completed", 0.5, tuple(f"s{i}" for i in range(6)))]
    pruned = [_trial(config | {"x": i}, "pruned", 0.1, ("s0", "s1")) for i in range(2, 9)]
    decision = build_strategy(spec, pruned + survivors_).ask()
    assert [p.parent_run_id for p in decision.propose] == [survivors_[0].run_id]
    assert decision.propose[0].samples is None, "the last rung: every sample"
    assert decision.prune == [survivors_[1].run_id]
    final = _trial(config, "completed", 0.9, None, run_id=survivors_[0].run_id)
    done = build_strategy(spec, [*pruned, _trial(survivors_[1].config, "pruned", 0.5, survivors_[1].samples),
                                 final]).ask()
    assert done.done


def test_nothing_is_decided_while_a_run_is_open() -> None:
    spec = _spec(10)
    first = build_strategy(spec).ask().propose
    trials = [_trial(p.config, "completed", 0.5, p.samples) for p in first[:-1]]
    trials.append(_trial(first[-1].config, "running", None, first[-1].samples))
    assert build_strategy(spec, trials).ask() == Decision()


def test_the_wrapped_strategy_sees_climbing_runs_as_running_and_pruned_ones_as_pruned() -> None:
    told: list[Trial] = []

    class Recorder(UpFrontStrategy):
        def tell(self, trial: Trial) -> None:
            told.append(trial)
            super().tell(trial)

    spec = _spec(10)
    strategy = HalvingStrategy(spec, Recorder(spec))
    for trial in (_trial({"a": 1}, "completed", 0.7, ("s0", "s1")), _trial({"a": 2}, "pruned", 0.2, ("s0", "s1")),
                  _trial({"a": 3}, "completed", 0.9, None)):
        strategy.tell(trial)
    assert [(t.status, t.weighted_score) for t in told] == [("running", None), ("pruned", 0.2), ("completed", 0.9)]


@pytest.mark.parametrize("kind", ["grid", "random"])
def test_up_front_types_without_early_stopping_are_unchanged(kind: str) -> None:
    spec = StrategySpec(kind, _spec(10).defn, {"max_runs": 3, "seed": 1}, None)
    proposals = build_strategy(spec).ask().propose
    assert proposals and all(p.samples is None for p in proposals)


def test_guided_tells_optuna_a_pruned_run_as_pruned() -> None:
    from promptlooper.services.guided import GuidedStrategy

    spec = StrategySpec("guided", _spec(10).defn, {"seed": 3, "concurrency": 2,
                                                  "early_stopping": {"min_samples": 2, "eta": 3}}, None)
    first = build_strategy(spec).ask().propose
    assert len(first) == 2 and all(p.samples == ("s0", "s1") for p in first)
    inner = GuidedStrategy(spec)
    for index, proposal in enumerate(first):
        inner.tell(_trial(proposal.config, "pruned", 0.1 * index, proposal.samples))
    assert len(inner.suggest(2)) == 2, "a study with pruned trials still proposes"
