"""A sweep seen as it goes: the best value so far after each finished trial, and what pruning saved.

Steps are dvclive's: a trial that ran ``step`` 0..k logged k + 1 of them
(dvclive's summary holds the last ``step``). A pruned trial would have run as
many steps as the longest trial that finished; the seconds it saved are those
steps at the sweep's mean seconds per step of the trials that finished.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gitexp.numbers import finite
from gitexp.review.results import Row
from gitexp.store.records import FINAL_STATES, PRUNED, SUCCEEDED


@dataclass(frozen=True)
class SweepProgress:
    metric: str
    goal: str
    best_so_far: list[tuple[str, float]]  # (trial, the best value of the succeeded trials up to it), in trial order
    steps_run: int  # by every finished trial
    steps_saved: int  # by pruning
    seconds_saved: float
    pruned: int

    @property
    def best_value(self) -> float | None:
        return self.best_so_far[-1][1] if self.best_so_far else None

    def summary(self) -> str:
        """One line: the best so far, and what pruning saved when it pruned."""
        best = f"best {self.metric} so far {self.best_value:.6g}" if self.best_value is not None else f"no {self.metric} yet"
        if not self.pruned:
            return best
        share = self.steps_saved / (self.steps_run + self.steps_saved) if self.steps_run + self.steps_saved else 0.0
        return (
            f"{best}; pruning stopped {self.pruned} trial(s), saving {self.steps_saved} steps ({share:.0%}) "
            f"and about {self.seconds_saved:.1f} step-seconds"
        )


def sweep_progress(rows: Sequence[Row], metric: str, goal: str) -> SweepProgress:
    """The progress of a sweep from its trials' rows (trial order), ranked by ``metric`` towards ``goal``."""
    finished = [row for row in rows if row.status in FINAL_STATES]
    curve, best = [], None
    for row in finished:
        value = finite(row.metrics.get(metric)) if row.status == SUCCEEDED else None
        if value is not None and (best is None or (value < best if goal == "minimize" else value > best)):
            best = value
        if best is not None:
            curve.append((row.name, best))
    steps = {row.name: _steps(row) for row in finished}
    full = max((steps[row.name] for row in finished if row.status == SUCCEEDED), default=0)
    timed = [(row.duration, steps[row.name]) for row in finished if row.status == SUCCEEDED and row.duration and steps[row.name]]
    per_step = sum(duration for duration, _ in timed) / sum(count for _, count in timed) if timed else 0.0
    pruned = [row for row in finished if row.status == PRUNED]
    saved = sum(max(0, full - steps[row.name]) for row in pruned)
    return SweepProgress(metric, goal, curve, sum(steps.values()), saved, saved * per_step, len(pruned))


def _steps(row: Row) -> int:
    step = row.metrics.get("step")
    return int(step) + 1 if finite(step) is not None and step >= 0 else 0
