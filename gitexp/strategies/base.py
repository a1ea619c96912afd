"""The seam every search strategy implements.

A strategy turns a sweep's space into trials. Static strategies (grid, random)
know every trial up front; adaptive ones (hyperband, bayes) look at finished
trials to choose the next. Strategies are pure and deterministic for a seed:
the runner rebuilds them from what Git records, so a sweep can be resumed or
extended from any clone.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gitexp.numbers import finite
from gitexp.store.records import SUCCEEDED
from gitexp.sweep.space import ParamTarget
from gitexp.sweep.spec import Objective, SweepSpec


@dataclass(frozen=True)
class TrialPlan:
    """A trial a strategy asks for: the values to set, and tags it wants recorded."""

    params: dict[ParamTarget, Any]
    tags: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialOutcome:
    """A trial as a strategy sees it: what was set, tags, status and metrics."""

    params: dict[str, Any]
    status: str
    metrics: dict[str, Any]
    tags: dict[str, Any] = field(default_factory=dict)

    def score(self, objective: Objective) -> float | None:
        """The objective value of a trial that succeeded with a finite value, else None.

        Adaptive strategies treat None alike (failed, metric missing, NaN): the
        trial taught nothing about where the optimum is.
        """
        return finite(self.metrics.get(objective.metric)) if self.status == SUCCEEDED else None


class Strategy(ABC):
    """Chooses trials. ``suggest`` is called with every trial the sweep has so far."""

    name: ClassVar[str]
    adaptive: ClassVar[bool] = False

    def __init__(self, spec: SweepSpec):
        self.spec = spec

    @abstractmethod
    def suggest(self, finished: Sequence[TrialOutcome], pending: Sequence[TrialOutcome], limit: int) -> list[TrialPlan]:
        """Up to ``limit`` new trials, given the finished and the queued or running ones."""

    def planned_trials(self) -> int | None:
        """The most trials the sweep will create (None: not known in advance)."""
        return self.spec.num_planned_trials()

    def is_complete(self, finished: Sequence[TrialOutcome], pending: Sequence[TrialOutcome]) -> bool:
        """True when nothing is running and the strategy wants no further trial."""
        return not pending and not self.suggest(finished, pending, 1)

    def initial_batch(self) -> list[TrialPlan]:
        """What ``gitexp queue`` creates: every trial for static strategies, the first batch otherwise."""
        limit = self.spec.num_planned_trials() if not self.adaptive else self.spec.concurrency
        return self.suggest([], [], limit if limit is not None else self.spec.concurrency)


def seeded_rng(spec: SweepSpec, *salt: Any) -> random.Random:
    """A generator fixed by the sweep's seed and ``salt`` (e.g. a trial's index).

    Deriving every draw from (seed, salt) rather than from a generator carried
    between calls is what lets a strategy be rebuilt from Git in another clone.
    String seeds are hashed with SHA-512, so this is stable across processes
    and Python versions. A sweep without a seed uses 0, as ``--set`` does.
    """
    return random.Random(":".join(map(str, ("gitexp", spec.seed or 0, *salt))))
