"""Guided sweeps: Bayesian search over the parameter space with Optuna's TPE sampler (ask/tell).

Stateless like every strategy: on each `ask` an in-memory Optuna study is rebuilt from the runs
told (`optuna.trial.create_trial`, value = the run's weighted score; failed runs as FAIL), then
asked for a batch sized to the sweep's concurrency. Lists are categorical over the *indices* of
their values (values may be objects or long prompts); ranges are float/int distributions with
`log` and `step`. A proposal whose `config_hash` was already proposed in the sweep is skipped (it
is not a new run). The sampler's seed is the sweep's `seed` mixed with how many runs were told, so
the same seed and the same history give the same proposals, and a restart (or another worker)
continues the same study.
"""

from __future__ import annotations

import functools
import logging
import warnings
from typing import TYPE_CHECKING, Any

from promptlooper.engine.definition import ExperimentDefinition, RangeSpec, SpaceKey, parse_space_key
from promptlooper.engine.space import SpaceError, apply_overrides, canonical_json, config_hash, normalize, range_count
from promptlooper.errors import BadRequest
from promptlooper.models import RunOrigin
from promptlooper.services.strategies import Decision, Proposal, StrategySpec, Trial

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

DEFAULT_MAX_RUNS = 30
DEFAULT_N_STARTUP = 8
ASK_ATTEMPTS_PER_RUN = 24  # study.ask() tries per wanted proposal before the space counts as exhausted
DUPLICATES_BEFORE_RANDOM = 2
SUCCEEDED = ("completed", "cached")
log = logging.getLogger("promptlooper.guided")


@functools.cache
def _optuna() -> Any:
    """Optuna, imported on first use, quiet: its INFO logs off, the experimental-feature warnings of the
    options used here (multivariate, constant_liar) filtered once (not per call: threads share the filters)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def distributions_of(defn: ExperimentDefinition) -> dict[str, BaseDistribution]:
    """One Optuna distribution per parameter_space key (lists: categorical over value indices)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, BaseDistribution] = {}
    for key, value in defn.parameter_space.items():
        if isinstance(value, RangeSpec):
            range_count(value)  # raises SpaceError on an invalid range
            if value.log and value.min <= 0:
                raise SpaceError(f"`{key}`: a log range needs min greater than 0")
            if value.log and value.step is not None:
                raise SpaceError(f"`{key}`: a guided sweep cannot honour both `log` and `step`; pick one")
            if value.type == "int":
                step = max(1, round(value.step)) if value.step is not None else 1
                out[key] = IntDistribution(round(value.min), round(value.max), log=value.log, step=step)
            else:
                out[key] = FloatDistribution(value.min, value.max, log=value.log, step=value.step)
        else:
            if not value:
                raise SpaceError(f"`{key}` has no values")
            out[key] = CategoricalDistribution(list(range(len(value))))
    return out


def _stage_value(config: dict[str, Any], target: SpaceKey) -> Any:
    stages = config.get("stages") or []
    stage = stages[target.stage or 0] if stages else {}
    if target.kind == "field":
        return stage.get(target.name)
    return (stage.get("params") or {}).get(target.name)


def params_of(defn: ExperimentDefinition, config: dict[str, Any]) -> dict[str, Any] | None:
    """The sampler's parameters of a resolved config, or None when it lies outside the space (an agent's)."""
    params: dict[str, Any] = {}
    for key, value in defn.parameter_space.items():
        target = parse_space_key(key, defn.pipeline_stages)
        if isinstance(target, str):
            return None
        if target.kind == "var":
            found = (config.get("vars") or {}).get(target.name)
        elif target.kind == "linked":
            found = None
        else:
            found = _stage_value(config, target)
        if isinstance(value, RangeSpec):
            if not isinstance(found, int | float) or isinstance(found, bool):
                return None
            if not value.min - 1e-9 <= found <= value.max + 1e-9:
                return None
            params[key] = round(found) if value.type == "int" else float(min(max(found, value.min), value.max))
            continue
        index = _choice_index(value, found, config, target)
        if index is None:
            return None
        params[key] = index
    return params


def _choice_index(choices: list[Any], found: Any, config: dict[str, Any], target: SpaceKey) -> int | None:
    if target.kind == "linked":
        stage = (config.get("stages") or [{}])[target.stage or 0]
        for index, choice in enumerate(choices):
            if isinstance(choice, dict) and _linked_matches(normalize(choice), stage):
                return index
        return None
    wanted = normalize(found)
    for index, choice in enumerate(choices):
        if normalize(choice) == wanted:
            return index
    return None


def _linked_matches(choice: dict[str, Any], stage: dict[str, Any]) -> bool:
    for field, item in choice.items():
        if field == "params":
            params = stage.get("params") or {}
            if any(params.get(k) != v for k, v in (item or {}).items()):
                return False
        elif stage.get(field) != item:
            return False
    return True


def overrides_of(defn: ExperimentDefinition, params: dict[str, Any]) -> dict[str, Any]:
    """parameter_space single values from the sampler's parameters (indices back to list values)."""
    out: dict[str, Any] = {}
    for key, value in defn.parameter_space.items():
        chosen = params[key]
        if isinstance(value, RangeSpec):
            if value.type == "int":
                out[key] = round(chosen)
            elif value.step is not None:
                out[key] = round(float(chosen), 10)
            else:  # 4 significant digits, like a random sweep's draws: readable configs, few near-duplicates
                out[key] = min(max(float(f"{float(chosen):.4g}"), value.min), value.max)
        else:
            out[key] = value[int(chosen)]
    return out


class GuidedStrategy:
    """TPE over the parameter space, in waves of `concurrency` runs, up to `max_runs` configurations."""

    def __init__(self, spec: StrategySpec) -> None:
        self.spec = spec
        self.trials: list[Trial] = []

    def tell(self, trial: Trial) -> None:
        self.trials.append(trial)

    @property
    def max_runs(self) -> int:
        return self.spec.max_runs or DEFAULT_MAX_RUNS

    @property
    def n_startup(self) -> int:
        guided = self.spec.options.get("guided") or {}
        return int(guided.get("n_startup") or DEFAULT_N_STARTUP)

    @property
    def batch(self) -> int:
        return max(1, int(self.spec.options.get("concurrency") or 1))

    def proposed_hashes(self) -> set[str]:
        """Every configuration the sweep holds (pending, running, done or failed)."""
        return {config_hash(t.config) for t in self.trials}

    def ask(self) -> Decision:
        left = self.max_runs - len(self.proposed_hashes())
        if left <= 0:
            return Decision()
        overrides = self.suggest(min(self.batch, left))
        repeats = self.spec.repeats
        return Decision(propose=[
            Proposal(config=apply_overrides(self.spec.defn, o, self.spec.default_endpoint_id), repeat_index=r,
                     origin=RunOrigin.SAMPLER)
            for o in overrides for r in range(repeats)
        ])

    def suggest(self, n: int) -> list[dict[str, Any]]:
        """Up to n new configurations (as parameter_space overrides) the sampler would try next."""
        try:
            return self._suggest(n)
        except SpaceError as exc:
            raise BadRequest(str(exc), code="invalid_parameter_space") from exc

    def _suggest(self, n: int) -> list[dict[str, Any]]:
        optuna = _optuna()
        from optuna.trial import TrialState, create_trial

        defn = self.spec.defn
        dists = distributions_of(defn)
        seen = self.proposed_hashes()
        # Told in an order of their own (the parameters, not arrival or ids), so the same seed and the same
        # results give the same proposals on any worker, database or endpoint id.
        told = sorted(self.trials, key=lambda t: (canonical_json(params_of(defn, t.config) or {}),
                                                  canonical_json(t.config), t.repeat_index))
        seed = ((self.spec.seed or 0) * 1_000_003 + len(told)) % (2**32)
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=self.n_startup, constant_liar=True,
                                             multivariate=True)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        for trial in told:
            params = params_of(defn, trial.config)
            if params is None:
                continue  # outside the space (an agent's config): it still counts against max_runs
            try:
                if trial.status in SUCCEEDED and trial.weighted_score is not None:
                    study.add_trial(create_trial(params=params, distributions=dists,
                                                 value=float(trial.weighted_score)))
                elif trial.status == "failed":
                    study.add_trial(create_trial(params=params, distributions=dists, state=TrialState.FAIL))
            except ValueError:
                continue  # off the distribution's grid (an agent's value between steps): not told
            # pending/running: not yet told; their hashes keep the sampler from proposing them again
        # TPE keeps proposing its favourite point once that is known (a small or flat categorical space):
        # after DUPLICATES_BEFORE_RANDOM duplicates in a row a slot is drawn by a seeded random sampler.
        fallback = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed))
        out: list[dict[str, Any]] = []
        misses = 0
        for _ in range(n * ASK_ATTEMPTS_PER_RUN):
            if len(out) >= n:
                break
            source = fallback if misses >= DUPLICATES_BEFORE_RANDOM else study
            asked = source.ask(dists)
            overrides = overrides_of(defn, asked.params)
            digest = config_hash(apply_overrides(defn, overrides, self.spec.default_endpoint_id))
            if digest in seen:
                source.tell(asked, state=TrialState.FAIL)  # a duplicate is not a new run
                misses += 1
                continue
            misses = 0
            seen.add(digest)
            out.append(overrides)
        return out


def build(spec: StrategySpec) -> GuidedStrategy:
    """The registry's factory for `"type": "guided"`."""
    return GuidedStrategy(spec)
