"""The sweep policy's pure parts: the one ETA and what counts as a new best."""

from __future__ import annotations

from promptlooper.models import Run
from promptlooper.services.sweep_policy import eta_s, is_new_best


def test_eta_is_the_pace_of_this_session() -> None:
    assert eta_s(left=5, done_in_session=0, elapsed_s=30.0) is None, "right after a resume: no pace yet, not 0.0"
    assert eta_s(left=5, done_in_session=2, elapsed_s=4.0) == 10.0
    assert eta_s(left=0, done_in_session=0, elapsed_s=0.0) == 0.0


def test_only_a_succeeded_run_that_beats_the_best_is_a_new_best() -> None:
    def run(status: str, score: float | None) -> Run:
        return Run(status=status, weighted_score=score)

    assert is_new_best(run("completed", 0.5), None)
    assert is_new_best(run("cached", 0.7), 0.5)
    assert not is_new_best(run("failed", 0.0), None), "a failure's score never makes a best"
    assert not is_new_best(run("completed", 0.5), 0.5)
    assert not is_new_best(run("completed", None), None)
