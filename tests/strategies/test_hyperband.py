from __future__ import annotations

import math
from collections import defaultdict

import pytest

from gitexp.strategies import strategy_for
from gitexp.strategies.hyperband import max_bracket, schedule
from gitexp.sweep.space import Axis, Choice, Distribution, ParamTarget, Space
from gitexp.sweep.spec import Objective, SweepSpec

EPOCHS = ParamTarget(None, "train.epochs")


def hyperband_spec(goal="maximize", max_iter=81, eta=3, **changes) -> SweepSpec:
    space = Space((
        Axis(ParamTarget(None, "x"), Distribution("uniform", (-2, 2))),
        Axis(ParamTarget("params.yaml", "opt"), Choice(("adam", "sgd"))),
    ))
    spec = SweepSpec(
        space,
        strategy="hyperband",
        options={"resource": "train.epochs", "max_iter": max_iter, "eta": eta, **changes.pop("options", {})},
        seed=3,
        concurrency=4,
        objective=Objective("acc", goal),
        **changes,
    )
    spec.validate()
    return spec


def table(max_iter, eta, resource_type="int"):
    return [[(rung.size, rung.resource) for rung in rungs] for rungs in schedule(max_iter, eta, resource_type)]


def test_the_brackets_of_li_et_al_for_81_and_3():
    assert table(81, 3) == [
        [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        [(34, 3), (11, 9), (3, 27), (1, 81)],
        [(15, 9), (5, 27), (1, 81)],
        [(8, 27), (2, 81)],
        [(5, 81)],
    ]
    assert strategy_for(hyperband_spec()).planned_trials() == 206


def test_s_max_is_computed_without_floating_logarithms():
    assert math.log(243) / math.log(3) < 5  # the trap: floor() of it would say 4
    assert max_bracket(243, 3) == 5
    assert max_bracket(242, 3) == 4
    assert max_bracket(1, 3) == 0
    assert max_bracket(100, 2.5) == 5  # 2.5**5 = 97.65625


def test_float_resources_and_rounded_down_int_resources():
    assert [rungs[0].resource for rungs in schedule(10, 3, "float")] == [10 / 9, 10 / 3, 10.0]
    assert table(10, 3) == [[(9, 1), (3, 3), (1, 10)], [(5, 3), (1, 10)], [(3, 10)]]


def test_the_first_batch_is_the_largest_brackets_first_configurations():
    spec = hyperband_spec()
    plans = strategy_for(spec).initial_batch()
    assert [plan.tags for plan in plans] == [{"bracket": 4, "rung": 0, "config": c} for c in range(4)]
    assert all(plan.params[EPOCHS] == 1 for plan in plans)
    assert all(plan.params.keys() == {axis.target for axis in spec.space.axes} | {EPOCHS} for plan in plans)


def test_a_rung_is_promoted_only_once_all_of_it_has_finished(harness):
    spec = hyperband_spec()
    strategy = strategy_for(spec)
    rung0 = strategy.suggest([], [], 81)
    finished = [harness.finished(plan, 0.5, "acc") for plan in rung0[:-1]]
    waiting = strategy.suggest(finished, [harness.pending(rung0[-1])], 2)
    assert [plan.tags for plan in waiting] == [{"bracket": 3, "rung": 0, "config": c} for c in (0, 1)]
    done = strategy.suggest([*finished, harness.finished(rung0[-1], 0.5, "acc")], [], 2)
    assert [plan.tags["rung"] for plan in done] == [1, 1]


def accuracy(params) -> float | None:
    """Better near x = 0.3 and with more epochs; x above 1.5 fails."""
    if params["x"] > 1.5:
        return None
    return -((params["x"] - 0.3) ** 2) + 0.001 * params["train.epochs"]


def without_epochs(params: dict) -> dict:
    return {key: value for key, value in params.items() if key != "train.epochs"}


@pytest.mark.parametrize("goal", ["maximize", "minimize"])
def test_each_rung_promotes_the_best_of_the_one_before(harness, goal):
    spec = hyperband_spec(goal)
    run = harness.simulate(spec, accuracy)
    assert len(run.plans) == 206
    ran = defaultdict(dict)  # (bracket, rung) -> {config: outcome}
    for trial in run.finished:
        ran[trial.tags["bracket"], trial.tags["rung"]][trial.tags["config"]] = trial
    planned = {rungs[0].bracket: rungs for rungs in schedule(81, 3)}
    sign = -1 if goal == "maximize" else 1

    def rank(item):  # failures last, then best first, ties to the lower config
        config, trial = item
        score = trial.score(spec.objective)
        return (score is None, sign * (score or 0), config)

    for (bracket, rung), trials in ran.items():
        assert len(trials) == planned[bracket][rung].size
        assert {trial.params["train.epochs"] for trial in trials.values()} == {planned[bracket][rung].resource}
        promoted = ran.get((bracket, rung + 1), {})
        best = [config for config, _ in sorted(trials.items(), key=rank)[: len(promoted)]]
        assert set(promoted) == set(best)
        for config, trial in promoted.items():  # the same configuration, with more epochs
            assert without_epochs(trial.params) == without_epochs(trials[config].params)


def test_failed_trials_rank_last(harness):
    spec = hyperband_spec(max_iter=9)
    strategy = strategy_for(spec)
    rung0 = strategy.suggest([], [], 9)
    values = [None, 0.9, None, 0.1, 0.5, None, 0.2, 0.3, None]
    finished = [harness.finished(plan, value, "acc") for plan, value in zip(rung0, values)]
    promoted = strategy.suggest(finished, [], 3)
    assert [plan.tags["config"] for plan in promoted] == [1, 4, 7]
    assert all(plan.params[EPOCHS] == 3 for plan in promoted)


def test_max_trials_caps_the_schedule(harness):
    spec = hyperband_spec(max_trials=10)
    assert strategy_for(spec).planned_trials() == 10
    assert len(harness.simulate(spec, accuracy).plans) == 10


def test_the_resource_may_name_a_params_file():
    spec = hyperband_spec(options={"resource": "params.yaml:train.epochs"})
    plan = strategy_for(spec).initial_batch()[0]
    assert plan.params[ParamTarget("params.yaml", "train.epochs")] == 1
