"""A test-only sweep strategy that proposes runs in two waves, the second chosen from the first's scores.

Registered on import (`STRATEGY_MODULES=tests.support.strategies`, see `strategy_env`), so the API
process, subprocess servers and workers all know the sweep type `two_wave`:
- wave 1: every grid combination (repeat 0);
- wave 2, asked once wave 1 is done: the `WAVE2_SIZE` best-scoring configs of wave 1 again
  (repeat 1, so new calls), as a successive-halving or guided strategy would continue its best.
Its state is only what it is told: the sweep's runs in the database.
"""

from __future__ import annotations

import os

from promptlooper.engine.space import config_hash
from promptlooper.services.strategies import (
    Decision,
    Proposal,
    StrategySpec,
    Trial,
    register_strategy,
    sweep_configs,
)
from tests.support.environment import BACKEND_DIR

WAVE2_SIZE = 2
MODULE = "tests.support.strategies"


class TwoWaves:
    """Wave 1: the grid; wave 2: the best WAVE2_SIZE of wave 1, repeated."""

    def __init__(self, spec: StrategySpec) -> None:
        self.spec = spec
        self.trials: list[Trial] = []

    def tell(self, trial: Trial) -> None:
        self.trials.append(trial)

    def ask(self) -> Decision:
        if not self.trials:
            configs = sweep_configs(self.spec.defn, "grid", None, None, self.spec.default_endpoint_id)
            return Decision(propose=[Proposal(config=c) for c in configs])
        if any(t.repeat_index == 1 for t in self.trials):
            return Decision()
        return Decision(propose=[Proposal(config=t.config, repeat_index=1) for t in second_wave(self.trials)])


def second_wave(first: list[Trial]) -> list[Trial]:
    """The best runs of the first wave (ties broken by config hash, so every process agrees)."""
    scored = [t for t in first if t.repeat_index == 0 and t.weighted_score is not None
              and t.status in ("completed", "cached")]
    scored.sort(key=lambda t: (-(t.weighted_score or 0.0), config_hash(t.config)))
    return scored[:WAVE2_SIZE]


def strategy_env() -> dict[str, str]:
    """Environment entries that make a subprocess (server, worker) load this strategy."""
    path = os.pathsep.join(p for p in (str(BACKEND_DIR), os.environ.get("PYTHONPATH", "")) if p)
    return {"STRATEGY_MODULES": MODULE, "PYTHONPATH": path}


register_strategy("two_wave", TwoWaves)
