"""Sweep strategies: what runs a sweep makes next, asked and told like Optuna's ask/tell interface.

The sweep policy (`services/sweep_policy.py`) owns *when* to ask; a strategy owns *what* to run.
A strategy holds no state of its own that the database does not: the policy builds a fresh one
from the sweep's row (`StrategySpec`), tells it every run of the sweep (`Trial`, in creation
order), then asks it for a `Decision`. So a restarted server, or another worker, continues a
sweep exactly where it was, and a proposal exists only once it is persisted as a `pending` run
(the policy inserts it in the same transaction that decided it, so a crash loses nothing and
pays for nothing twice).

Today the policy asks when a sweep has no open run left (a "wave" is done): grid and random
propose everything in the first answer and nothing after. What the seam allows without another
refactor:
- guided / TPE (`services/guided.py`): a batch per wave, chosen from the results told;
- successive halving: `Proposal.samples` names the sample ids a run is evaluated on; a strategy
  prunes a trial by not continuing it and continues the best on more samples with a new
  proposal (`Proposal.parent_run_id` says which run it continues) -- executing a sample subset is
  the runner's part, left for the issue that adds halving;
- redirecting a sweep that proposes in waves: `Decision.drop` names pending runs to delete in the
  same transaction as the new proposals (asked with `advance(..., force=True)`). Grid and random
  are redirected by `sweeps.redirect_sweep` instead (paused sweeps too; see its docstring).

Strategies are keyed by the sweep `type`. Third parties (and the tests) add one with
`register_strategy`, from a module named in the `STRATEGY_MODULES` setting so that the API
process and every worker know it.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from promptlooper.engine.definition import ExperimentDefinition
from promptlooper.engine.space import MAX_SWEEP_RUNS, SpaceError, SpaceTooLarge, expand_grid, sample_random
from promptlooper.errors import BadRequest, InvalidDefinition


@dataclass(frozen=True)
class StrategySpec:
    """What a strategy is built from: the sweep's row and its experiment's document."""

    sweep_type: str
    defn: ExperimentDefinition
    options: dict[str, Any]
    default_endpoint_id: str | None
    cap: int = MAX_SWEEP_RUNS  # Settings.max_sweep_runs: the most configs one sweep may expand to

    @property
    def max_runs(self) -> int | None:
        value = self.options.get("max_runs")
        return int(value) if value is not None else None

    @property
    def seed(self) -> int | None:
        value = self.options.get("seed")
        return int(value) if value is not None else None

    @property
    def repeats(self) -> int:
        return int(self.options.get("repeats") or 1)


@dataclass(frozen=True)
class Trial:
    """A run of the sweep as a strategy sees it (rebuilt from the `runs` table)."""

    run_id: uuid.UUID
    config: dict[str, Any]
    repeat_index: int
    status: str
    weighted_score: float | None


@dataclass(frozen=True)
class Proposal:
    """A run to make: persisted as `pending` before anything executes it."""

    config: dict[str, Any]
    repeat_index: int = 0
    origin: str | None = None  # who proposed it (`RunOrigin`); None: the sweep's type
    samples: tuple[str, ...] | None = None  # successive halving: evaluate on these sample ids only (reserved)
    parent_run_id: uuid.UUID | None = None  # successive halving: the run this one continues (reserved)


@dataclass
class Decision:
    """A strategy's answer: runs to add, pending runs to drop. Both empty: the sweep is done."""

    propose: list[Proposal] = field(default_factory=list)
    drop: list[uuid.UUID] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Nothing more to run."""
        return not self.propose and not self.drop


class Strategy(Protocol):
    """Ask/tell: told every run of the sweep so far, asked what to do next."""

    def tell(self, trial: Trial) -> None:
        """Learn one run (pending, running or finished) of the sweep."""

    def ask(self) -> Decision:
        """What to run next, given everything told."""


StrategyFactory = Callable[[StrategySpec], Strategy]


def sweep_configs(defn: ExperimentDefinition, sweep_type: str, max_runs: int | None, seed: int | None,
                  default_endpoint_id: str | None, cap: int = MAX_SWEEP_RUNS,
                  loc: tuple[str, ...] = ("body",)) -> list[dict[str, Any]]:
    """The distinct configs an up-front sweep of this type runs (grid: every combination up to max_runs).

    The size is counted before anything is expanded: past `cap` (Settings.max_sweep_runs) it is a 422
    `sweep_too_large` naming the count. CPU-bound: call it through `offload.run_cpu` from async code.
    """
    try:
        if sweep_type == "grid":
            return expand_grid(defn, default_endpoint_id, max_runs, cap)
        if sweep_type == "random":
            return sample_random(defn, default_endpoint_id, max_runs or 20, seed, cap)
    except SpaceTooLarge as exc:
        field = "max_runs" if max_runs is not None and exc.count == max_runs else "parameter_space"
        where = ["body", field] if field == "max_runs" else [*loc, "parameter_space"]
        error = InvalidDefinition([{"loc": where, "msg": str(exc), "type": "sweep_too_large"}])
        error.code = "sweep_too_large"
        raise error from exc
    except SpaceError as exc:
        raise BadRequest(str(exc), code="invalid_parameter_space") from exc
    raise unsupported(sweep_type)


class UpFrontStrategy:
    """Grid and random: every run in the first answer (configs x repeats), nothing afterwards."""

    def __init__(self, spec: StrategySpec) -> None:
        self.spec = spec
        self.told = 0

    def tell(self, trial: Trial) -> None:
        self.told += 1

    def ask(self) -> Decision:
        if self.told:
            return Decision()  # everything was proposed at the start (some runs may have been stopped since)
        spec = self.spec
        configs = sweep_configs(spec.defn, spec.sweep_type, spec.max_runs, spec.seed, spec.default_endpoint_id,
                                spec.cap)
        return Decision(propose=[Proposal(config=c, repeat_index=r, origin=spec.sweep_type)
                                 for c in configs for r in range(spec.repeats)])


def _guided(spec: StrategySpec) -> Strategy:
    from promptlooper.services.guided import GuidedStrategy  # imports optuna only when a guided sweep needs it

    return GuidedStrategy(spec)


_REGISTRY: dict[str, StrategyFactory] = {"grid": UpFrontStrategy, "random": UpFrontStrategy, "guided": _guided}
_loaded_modules: set[str] = set()


def register_strategy(sweep_type: str, factory: StrategyFactory) -> None:
    """Make a sweep type available (call at import time of a module named in STRATEGY_MODULES)."""
    _REGISTRY[sweep_type] = factory


def load_strategy_modules(modules: str) -> None:
    """Import the comma-separated modules of the STRATEGY_MODULES setting (once each)."""
    for name in (m.strip() for m in modules.split(",")):
        if name and name not in _loaded_modules:
            importlib.import_module(name)
            _loaded_modules.add(name)


def unsupported(sweep_type: str) -> BadRequest:
    """The error for a sweep type no strategy implements."""
    return BadRequest(f"Unknown sweep type {sweep_type!r}; use grid, random or guided.", code="unsupported_sweep_type")


def is_known(sweep_type: str) -> bool:
    """Whether a strategy is registered for this type."""
    return sweep_type in _REGISTRY


def known_types() -> list[str]:
    """Registered sweep types, grid, random and guided first."""
    builtin = ("grid", "random", "guided")
    return sorted(_REGISTRY, key=lambda t: (t not in builtin, builtin.index(t) if t in builtin else 0, t))


def build_strategy(spec: StrategySpec, trials: list[Trial] | None = None) -> Strategy:
    """A strategy for the spec, told the given runs (its whole state)."""
    factory = _REGISTRY.get(spec.sweep_type)
    if factory is None:
        raise unsupported(spec.sweep_type)
    strategy = factory(spec)
    for trial in trials or []:
        strategy.tell(trial)
    return strategy
