"""Random search: ``num_planned_trials()`` distinct points drawn from the space.

Each trial's point is drawn from a generator fixed by (seed, trial index), and
points already in the sweep (finished or pending) are rejected, so the plan
does not depend on how the runner batches its calls, and a sweep extended with
``--more`` never repeats a point.

- A discrete space no larger than the plan runs whole, in a seeded shuffled
  order (``num_planned_trials()`` caps the plan at the size of such a space).
- Otherwise points are drawn with ``Space.sample`` (so ``pvalues`` weights
  hold) and a duplicate is redrawn, at most ``MAX_ATTEMPTS`` times. A discrete
  space then falls back to scanning the grid from a random index, which always
  finds a free point because the plan fits in the space. A space with a
  continuous axis that keeps giving duplicates (say, a lone ``quniform`` with
  three values) is exhausted in practice: the sweep ends with fewer trials.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

from gitexp.strategies.base import Strategy, TrialOutcome, TrialPlan, seeded_rng
from gitexp.sweep.space import Space

# Enough that a repeat is never the reason a plan ends early unless the space is
# nearly used up: with half the space taken, 100 misses in a row has odds 2**-100.
MAX_ATTEMPTS = 100


def point_key(space: Space, params: Mapping[Any, Any]) -> tuple[Hashable, ...]:
    """A point's identity: its values in axis order; ``params`` keyed by target or by str(target)."""
    return tuple(_hashable(params.get(axis.target, params.get(str(axis.target)))) for axis in space.axes)


def _hashable(value: Any) -> Hashable:
    # Choice values may be lists or mappings (e.g. layers: [32, 64]).
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _hashable(item)) for key, item in value.items()))
    return value


class RandomStrategy(Strategy):
    name = "random"

    def suggest(self, finished: Sequence[TrialOutcome], pending: Sequence[TrialOutcome], limit: int) -> list[TrialPlan]:
        space = self.spec.space
        trials = [*finished, *pending]
        wanted = min(limit, (self.spec.num_planned_trials() or 0) - len(trials))
        if wanted <= 0:
            return []
        seen = {point_key(space, trial.params) for trial in trials}
        points = self._whole_space(seen) if self._runs_whole_space() else self._draws(seen, first_index=len(trials))
        return [TrialPlan(point) for point in itertools.islice(points, wanted)]

    def _runs_whole_space(self) -> bool:
        space = self.spec.space
        return space.is_discrete and self.spec.num_planned_trials() == space.grid_size()

    def _whole_space(self, seen: set) -> Iterable[dict]:
        """The unseen points of a seeded permutation of the grid.

        Skipping seen points, rather than starting at index len(seen), keeps this
        right when the sweep began with fewer trials than the space and was extended.
        """
        space = self.spec.space
        order = list(range(space.grid_size()))
        seeded_rng(self.spec, "random-order").shuffle(order)
        for index in order:
            point = space.grid_point(index)
            if point_key(space, point) not in seen:
                yield point

    def _draws(self, seen: set, first_index: int) -> Iterable[dict]:
        """One new point per trial index, from that index's own generator."""
        space = self.spec.space
        for index in itertools.count(first_index):
            point = self._draw(seeded_rng(self.spec, "random", index), seen)
            if point is None:
                return  # the space is used up in practice
            seen.add(point_key(space, point))
            yield point

    def _draw(self, rng: random.Random, seen: set) -> dict | None:
        space = self.spec.space
        for _ in range(MAX_ATTEMPTS):
            point = space.sample(rng)
            if point_key(space, point) not in seen:
                return point
        return self._scan_grid(rng, seen) if space.is_discrete else None

    def _scan_grid(self, rng: random.Random, seen: set) -> dict | None:
        # Only len(seen) points are taken, so at most len(seen) + 1 steps find a free one.
        space = self.spec.space
        size = space.grid_size()
        start = rng.randrange(size)
        for step in range(min(size, len(seen) + 1)):
            point = space.grid_point((start + step) % size)
            if point_key(space, point) not in seen:
                return point
        return None
