"""A simulated sweep loop for strategy tests: no Git, no DVC, a pure objective.

``Harness.simulate`` drives a strategy the way gitexp's runner does: queue the
initial batch; then, until nothing is pending, finish the oldest pending trial
(its metric is ``objective(params)``; None makes it fail), or the oldest
``burst`` ones, and ask for up to ``concurrency - pending`` new trials. Every ``suggest`` call is recorded with
its inputs, so tests can replay them against a freshly built strategy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from gitexp.strategies import strategy_for
from gitexp.strategies.base import Strategy, TrialOutcome, TrialPlan
from gitexp.sweep.spec import SweepSpec

Objective = Callable[[dict[str, Any]], "float | None"]


@dataclass(frozen=True)
class Call:
    finished: tuple[TrialOutcome, ...]
    pending: tuple[TrialOutcome, ...]
    limit: int
    plans: list[TrialPlan]


@dataclass(frozen=True)
class Simulation:
    initial: list[TrialPlan]
    calls: list[Call]
    finished: list[TrialOutcome]  # in the order they finished

    @property
    def plans(self) -> list[TrialPlan]:
        """Every trial created, in order."""
        return self.initial + [plan for call in self.calls for plan in call.plans]


class Harness:
    def pending(self, plan: TrialPlan) -> TrialOutcome:
        return TrialOutcome(_by_name(plan.params), "running", {}, dict(plan.tags))

    def finished(self, plan: TrialPlan, value: float | None, metric: str = "score") -> TrialOutcome:
        status, metrics = ("failed", {}) if value is None else ("succeeded", {metric: value})
        return TrialOutcome(_by_name(plan.params), status, metrics, dict(plan.tags))

    def simulate(self, spec: SweepSpec, objective: Objective, *, burst: int = 1, max_steps: int = 5000) -> Simulation:
        strategy = strategy_for(spec)
        metric = spec.objective.metric if spec.objective else "score"
        initial = strategy.initial_batch()
        queue = list(initial)  # created and not finished, oldest first
        finished: list[TrialOutcome] = []
        calls: list[Call] = []
        for _ in range(max_steps):
            if not queue:
                return Simulation(initial, calls, finished)
            done, queue = queue[:burst], queue[burst:]
            finished += [self.finished(plan, objective(_by_name(plan.params)), metric) for plan in done]
            limit = spec.concurrency - len(queue)
            if limit > 0:
                pending = tuple(map(self.pending, queue))
                plans = strategy.suggest(tuple(finished), pending, limit)
                assert len(plans) <= limit
                calls.append(Call(tuple(finished), pending, limit, plans))
                queue += plans
        raise AssertionError(f"the sweep did not end within {max_steps} trials")

    def one_at_a_time(self, strategy: Strategy, finished: Sequence[TrialOutcome], pending: Sequence[TrialOutcome], count: int) -> list[TrialPlan]:
        """What ``count`` calls with limit 1 give, each seeing the previous plans as pending."""
        plans: list[TrialPlan] = []
        for _ in range(count):
            plans += strategy.suggest(finished, [*pending, *map(self.pending, plans)], 1)
        return plans


def _by_name(params: dict) -> dict[str, Any]:
    # TrialOutcome.params are keyed by str(ParamTarget), as the runner reads them back from Git.
    return {str(target): value for target, value in params.items()}


@pytest.fixture
def harness() -> Harness:
    return Harness()
