"""Bayes with several objectives (Optuna's multi-objective TPE and NSGA-II) and with constraints."""

from __future__ import annotations

import dataclasses
import statistics

import pytest

from gitexp.errors import UsageError
from gitexp.strategies import strategy_for
from gitexp.strategies.base import TrialOutcome
from gitexp.sweep.space import Axis, Distribution, ParamTarget, Space
from gitexp.sweep.spec import Constraint, Objective, SweepSpec

X, Y = ParamTarget(None, "x"), ParamTarget(None, "y")
SPACE = Space((Axis(X, Distribution("uniform", (-5, 5))), Axis(Y, Distribution("uniform", (-5, 5)))))
TWO = (Objective("f1", "minimize"), Objective("f2", "minimize"))


def spec_of(**changes) -> SweepSpec:
    spec = SweepSpec(SPACE, strategy="bayes", max_trials=30, seed=0, objective=TWO[0], more_objectives=TWO[1:], options={"n_initial_trials": 8})
    spec = dataclasses.replace(spec, **changes)
    spec.validate()
    return spec


def metrics(params) -> dict[str, float]:
    """Two bowls whose minima are apart: the Pareto set is x in [0, 2], y = 0."""
    x, y = params["x"], params["y"]
    return {"f1": x * x + y * y, "f2": (x - 2) ** 2 + y * y, "c": x}


def run(spec: SweepSpec) -> list[dict[str, float]]:
    """The sweep one trial at a time; the params of every trial, in order."""
    strategy = strategy_for(spec)
    finished: list[TrialOutcome] = []
    while plans := strategy.suggest(finished, [], 1):
        params = {str(target): value for target, value in plans[0].params.items()}
        finished.append(TrialOutcome(params, "succeeded", metrics(params)))
    return [trial.params for trial in finished]


def near_front(trials) -> float:
    later = trials[10:]
    return sum(-0.5 <= t["x"] <= 2.5 and abs(t["y"]) <= 1.5 for t in later) / len(later)


def test_multi_objective_tpe_searches_near_the_pareto_set():
    seeds = range(3)
    tpe = statistics.mean(near_front(run(spec_of(seed=seed))) for seed in seeds)
    random = statistics.mean(near_front(run(spec_of(seed=seed, strategy="random", options={}))) for seed in seeds)
    print(f"trials 11-30 near the Pareto set: multi-objective TPE {tpe:.2f}, random {random:.2f}")
    assert tpe > random + 0.15


def test_nsga2_runs_and_replays_the_same_plans():
    spec = spec_of(options={"sampler": "nsga2"}, max_trials=12)
    assert run(spec) == run(spec)


def test_constraints_steer_tpe_to_feasible_trials():
    constrained = spec_of(constraints=(Constraint("c", "<=", -2),))
    seeds = range(3)

    def feasible(spec):
        return statistics.mean(sum(t["x"] <= -2 for t in run(dataclasses.replace(spec, seed=seed))[10:]) / 20 for seed in seeds)

    with_constraint, without = feasible(constrained), feasible(spec_of())
    print(f"feasible among trials 11-30: constrained {with_constraint:.2f}, unconstrained {without:.2f}")
    assert with_constraint > without + 0.2


def test_a_trial_missing_a_metric_counts_as_failed_and_a_missing_constraint_metric_as_violated():
    spec = spec_of(constraints=(Constraint("latency", "<=", 1),))
    strategy = strategy_for(spec)
    outcomes = [
        TrialOutcome({"x": 0.0, "y": 0.0}, "succeeded", {"f1": 0.0}),  # no f2
        TrialOutcome({"x": 1.0, "y": 0.0}, "succeeded", {"f1": 1.0, "f2": 1.0}),  # no latency
        TrialOutcome({"x": 2.0, "y": 0.0}, "succeeded", {"f1": 4.0, "f2": 0.0, "latency": 0.5}),
    ]
    study = strategy._study(outcomes, [])
    assert [trial.state.name for trial in study.trials] == ["FAIL", "COMPLETE", "COMPLETE"]
    assert [list(trial.constraints.values()) for trial in study.trials[1:]] == [[1e300], [-0.5]]
    assert [trial.number for trial in study.best_trials] == [2]  # the feasible one


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        (dict(more_objectives=(Objective("f1", "maximize"),)), "lists f1 twice"),
        (dict(strategy="hyperband", options={"resource": "epochs", "max_iter": 9}), "hyperband promotes by one objective"),
        (dict(more_objectives=(), options={"sampler": "nsga2"}), "nsga2 sampler is for several objectives"),
    ],
)
def test_inconsistent_objectives_are_refused(refused_spec, changes, fragment):
    assert fragment in refused_spec(changes)


@pytest.fixture
def refused_spec():
    def check(changes) -> str:
        spec = SweepSpec(SPACE, strategy="bayes", max_trials=30, seed=0, objective=TWO[0], more_objectives=TWO[1:])
        with pytest.raises(UsageError) as caught:
            dataclasses.replace(spec, **changes).validate()
        return str(caught.value)

    return check
