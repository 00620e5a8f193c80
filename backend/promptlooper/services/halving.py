"""Early stopping: successive halving over samples, wrapped around any sweep type's strategy.

`"early_stopping": {"min_samples": 4, "eta": 3}` on a sweep: every configuration first runs on the
first `min_samples` samples (rung 0); when a rung is settled (no run open), the best 1/eta of the
runs that finished it (at least one) continue on eta times more samples, the others become
`pruned`; this repeats until the survivors have seen every sample. A rung is a prefix of the
experiment's samples in their stored order, so each continuation adds exactly the samples the run
has not seen: a run keeps its stage results and `run_once` executes only the missing samples
(no sample is ever called twice for a configuration, and nothing is pruned below `min_samples`).

Like every strategy it holds no state of its own: the rung of a run is the size of its `sample_ids`
(NULL once it is evaluated on every sample), so a restart or another worker continues the halving
from the `runs` table alone. The wrapped strategy (grid, random, guided) proposes the
configurations; it sees a run still climbing the rungs as running (not yet scored), a pruned one as
`pruned` (guided tells Optuna `TrialState.PRUNED` with its partial score), and is asked for new
configurations only when no run waits on a rung (a guided batch is halved before the next is asked).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from promptlooper.models import RunStatus
from promptlooper.services.strategies import Decision, Proposal, Strategy, StrategySpec, Trial

SUCCEEDED = (RunStatus.COMPLETED.value, RunStatus.CACHED.value)
OPEN = (RunStatus.PENDING.value, RunStatus.RUNNING.value)


def rungs(n_samples: int, min_samples: int, eta: int) -> list[int]:
    """The sample counts of the rungs: min_samples, x eta, ... capped by (and always ending at) n_samples."""
    if n_samples <= 0:
        return [0]
    sizes: list[int] = []
    size = max(1, min_samples)
    while size < n_samples:
        sizes.append(size)
        size *= max(2, eta)
    sizes.append(n_samples)
    return sizes


def survivors(entering: int, eta: int) -> int:
    """How many of the runs that finished a rung continue: the best 1/eta, at least one."""
    return max(1, entering // max(2, eta)) if entering > 0 else 0


def projected_calls(configs: int, n_samples: int, min_samples: int, eta: int, stages: int) -> tuple[int, int]:
    """(best, worst) LLM calls of a sweep of `configs` runs: worst = no pruning, best = what halving makes.

    Best assumes every run succeeds (failed runs stop earlier and cost less still).
    """
    worst = configs * n_samples * stages
    sizes = rungs(n_samples, min_samples, eta)
    alive, previous, best = configs, 0, 0
    for index, size in enumerate(sizes):
        best += alive * (size - previous) * stages
        previous = size
        if index < len(sizes) - 1:
            alive = survivors(alive, eta)
    return best, worst


def options_of(spec: StrategySpec) -> tuple[int, int]:
    """(min_samples, eta) of the sweep's early_stopping option."""
    options: dict[str, Any] = spec.options.get("early_stopping") or {}
    return int(options.get("min_samples") or 4), int(options.get("eta") or 3)


def first_rung(spec: StrategySpec) -> tuple[str, ...] | None:
    """The sample ids a new configuration starts on (None: every sample, nothing to halve)."""
    min_samples, eta = options_of(spec)
    ids = [s.id for s in spec.defn.sample_data]
    sizes = rungs(len(ids), min_samples, eta)
    return tuple(ids[: sizes[0]]) if len(sizes) > 1 else None


class HalvingStrategy:
    """Successive halving around another strategy (see the module docstring)."""

    def __init__(self, spec: StrategySpec, inner: Strategy) -> None:
        self.spec = spec
        self.inner = inner
        self.min_samples, self.eta = options_of(spec)
        self.sample_ids = [s.id for s in spec.defn.sample_data]
        self.sizes = rungs(len(self.sample_ids), self.min_samples, self.eta)
        self.trials: list[Trial] = []

    def tell(self, trial: Trial) -> None:
        self.trials.append(trial)
        self.inner.tell(self.as_inner_sees_it(trial))

    @staticmethod
    def as_inner_sees_it(trial: Trial) -> Trial:
        """A run still climbing the rungs is not scored yet for the wrapped strategy (its score is partial)."""
        if trial.samples is None or trial.status not in SUCCEEDED:
            return trial  # scored on every sample, pruned, failed, open or cancelled: as it is
        return dataclasses.replace(trial, status=RunStatus.RUNNING.value, weighted_score=None)  # still climbing

    def _next_samples(self, size: int) -> tuple[str, ...] | None:
        bigger = [s for s in self.sizes if s > size]
        if not bigger or bigger[0] >= len(self.sample_ids):
            return None  # the last rung: every sample
        return tuple(self.sample_ids[: bigger[0]])

    def ask(self) -> Decision:
        if any(t.status in OPEN for t in self.trials):
            return Decision()  # a rung is decided only once settled (advance asks when no run is open)
        waiting: dict[int, list[Trial]] = {}
        for trial in self.trials:
            if trial.samples is not None and trial.status in SUCCEEDED:
                waiting.setdefault(len(trial.samples), []).append(trial)
        if waiting:
            return self._promote(waiting)
        decision = self.inner.ask()
        start = first_rung(self.spec)
        decision.propose = [
            p if p.parent_run_id is not None or p.samples is not None else dataclasses.replace(p, samples=start)
            for p in decision.propose
        ]
        return decision

    def _promote(self, waiting: dict[int, list[Trial]]) -> Decision:
        decision = Decision()
        for size, group in sorted(waiting.items()):
            order = {t.run_id: i for i, t in enumerate(group)}  # ties: the earlier run first
            ranked = sorted(group, key=lambda t: (-(t.weighted_score if t.weighted_score is not None else -1.0),
                                                  order[t.run_id]))
            keep = survivors(len(ranked), self.eta)
            samples = self._next_samples(size)
            decision.propose += [Proposal(config=t.config, repeat_index=t.repeat_index, samples=samples,
                                          parent_run_id=t.run_id) for t in ranked[:keep]]
            decision.prune += [t.run_id for t in ranked[keep:]]
        return decision

