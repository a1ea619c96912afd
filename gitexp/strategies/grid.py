"""Grid search: the cartesian product of the axes, in order, up to max_trials."""

from __future__ import annotations

from collections.abc import Sequence

from gitexp.strategies.base import Strategy, TrialOutcome, TrialPlan


class GridStrategy(Strategy):
    name = "grid"

    def suggest(self, finished: Sequence[TrialOutcome], pending: Sequence[TrialOutcome], limit: int) -> list[TrialPlan]:
        start = len(finished) + len(pending)
        stop = min(start + limit, self.spec.num_planned_trials() or 0)
        space = self.spec.space
        return [TrialPlan(space.grid_point(index)) for index in range(start, stop)]
