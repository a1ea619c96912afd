"""What every strategy promises the runner, checked on a small sweep of each kind."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from gitexp.strategies import strategy_for
from gitexp.sweep.space import (
    Axis,
    Choice,
    Distribution,
    ParamTarget,
    PChoice,
    Space,
    exact,
)
from gitexp.sweep.spec import Objective, SweepSpec


def axis(key: str, dimension) -> Axis:
    return Axis(ParamTarget(None, key), dimension)


def numbers(params: dict[str, Any]) -> list[float]:
    return [value for _, value in sorted(params.items()) if isinstance(value, (int, float)) and not isinstance(value, bool)]


def bowl(params: dict[str, Any]) -> float | None:
    """Smooth in every numeric param; trials with x above 1 fail, so every strategy sees failures."""
    if params.get("x", 0) > 1:
        return None
    return -sum((value - 0.3) ** 2 for value in numbers(params))


SPECS = {
    "grid": SweepSpec(
        Space((axis("x", Choice((-1, 0, 1, 2))), axis("train.depth", Distribution("randint", (0, 3))))),
        strategy="grid",
        concurrency=2,
    ),
    "random": SweepSpec(
        Space((
            axis("x", Distribution("uniform", (-2, 2))),
            axis("train.opt", PChoice(("adam", "sgd"), (0.7, 0.3))),
            axis("params.yaml:train.width", Distribution("qloguniform", (1, 64, 4))),
        )),
        strategy="random",
        max_trials=12,
        seed=7,
        concurrency=3,
    ),
    "hyperband": SweepSpec(
        Space((axis("x", Distribution("uniform", (-2, 2))), axis("layers", Choice(([16], [16, 16], [32, 32, 32]))))),
        strategy="hyperband",
        options={"resource": "train.epochs", "max_iter": 9, "eta": 3},
        seed=7,
        concurrency=3,
        objective=Objective("score", "maximize"),
    ),
    "bayes": SweepSpec(
        Space((
            axis("x", Distribution("uniform", (-2, 2))),
            axis("lr", Distribution("loguniform", (1e-3, 1.0))),
            axis("drop", Distribution("quniform", (0, 0.5, 0.1))),
            axis("noise", Distribution("normal", (0, 1))),
            axis("opt", Choice(("adam", "sgd", [1, 2]))),
        )),
        strategy="bayes",
        options={"n_initial_trials": 4},
        max_trials=10,
        seed=7,
        concurrency=2,
        objective=Objective("score", "maximize"),
    ),
}


@pytest.fixture(params=sorted(SPECS))
def spec(request) -> SweepSpec:
    spec = SPECS[request.param]
    spec.validate()
    return spec


@pytest.fixture
def run(spec, harness):
    # Trials finish two at a time, so the strategies are asked for batches too.
    return harness.simulate(spec, bowl, burst=2)


def in_domain(dimension, value) -> bool:
    if isinstance(dimension, (Choice, PChoice)):
        return value in dimension.values
    kind, args = dimension.kind, dimension.args
    if kind == "randint":
        return isinstance(value, int) and args[0] <= value < args[1]
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    if kind.startswith("q") and (exact(value) / exact(args[-1])).denominator != 1:
        return False
    if kind.endswith("uniform"):
        return args[0] <= value <= args[1]
    return value >= 0 if "lognormal" in kind else True


def test_the_loop_ends_with_the_planned_number_of_trials(spec, run):
    planned = strategy_for(spec).planned_trials()
    assert planned is not None and len(run.plans) == planned
    assert len(run.finished) == planned


def test_every_call_respects_its_limit(spec, run):
    assert all(len(call.plans) <= call.limit for call in run.calls)
    strategy = strategy_for(spec)
    assert strategy.suggest([], [], 0) == []
    assert len(strategy.suggest([], [], 1)) == 1
    assert len(strategy.suggest(run.calls[0].finished, run.calls[0].pending, 1)) <= 1


def test_values_stay_in_bounds(spec, run):
    targets = {axis.target: axis.dimension for axis in spec.space.axes}
    for plan in run.plans:
        swept = {target: value for target, value in plan.params.items() if target in targets}
        assert swept.keys() == targets.keys()
        assert all(in_domain(targets[target], value) for target, value in swept.items()), plan


def test_same_seed_same_sweep(spec, run, harness):
    assert harness.simulate(spec, bowl, burst=2).plans == run.plans


def test_a_rebuilt_strategy_suggests_what_the_running_one_did(spec, run):
    """A sweep resumed from another clone continues exactly as it would have."""
    fresh = strategy_for(spec)
    assert fresh.initial_batch() == run.initial
    for call in run.calls:
        assert fresh.suggest(call.finished, call.pending, call.limit) == call.plans


def test_plans_do_not_depend_on_how_the_runner_batches_calls(spec, run, harness):
    strategy = strategy_for(spec)
    assert harness.one_at_a_time(strategy, [], [], len(run.initial)) == run.initial
    batched = [call for call in run.calls if len(call.plans) > 1]
    for call in batched[:3]:
        assert harness.one_at_a_time(strategy, call.finished, call.pending, len(call.plans)) == call.plans


def test_the_sweep_is_complete_only_at_the_end(spec, run):
    strategy = strategy_for(spec)
    assert not strategy.is_complete([], [])
    assert strategy.is_complete(run.finished, [])


def test_another_seed_gives_another_sweep(spec, run, harness):
    if spec.strategy == "grid":
        pytest.skip("grid order does not depend on the seed")
    reseeded = harness.simulate(dataclasses.replace(spec, seed=8), bowl, burst=2)
    assert reseeded.plans != run.plans

