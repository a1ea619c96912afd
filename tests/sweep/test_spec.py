import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitexp.errors import UsageError
from gitexp.sweep.expr import parse_set
from gitexp.sweep.space import ParamTarget, Space
from gitexp.sweep.spec import EarlyStoppingRule, Objective, SweepSpec, spec_from_flags

DISCRETE = Space((parse_set("a=[1, 2, 3]"), parse_set("b=[x, y]")))
CONTINUOUS = Space((parse_set("lr=loguniform(1e-5, 0.1)"), parse_set("b=[x, y]")))
LOSS = Objective("loss", "min")
HYPERBAND = {"resource": "train.epochs", "max_iter": 81}


def test_grid_ai_example_is_a_twelve_point_grid():
    spec = spec_from_flags(["alpha=uniform(1e-5, 1e-1, 3)", "beta=[1, 2, 3, 4]"])
    assert spec.space.grid_size() == 12 and spec.num_planned_trials() == 12
    points = list(spec.space.iter_grid())
    alphas = [point[ParamTarget(None, "alpha")] for point in points]
    assert [point[ParamTarget(None, "beta")] for point in points] == [1, 2, 3, 4] * 3
    assert alphas[0:4] == [alphas[0]] * 4 and len(set(alphas)) == 3
    assert all(1e-5 <= alpha <= 1e-1 for alpha in alphas)


def test_grid_ai_random_search_with_num_trials():
    spec = spec_from_flags(
        ["alpha=uniform(1e-5, 1e-1, 3)", "beta=[1, 2, 3, 4]"], strategy="random_search", num_trials=3, seed=4
    )
    assert spec.strategy == "random" and spec.num_planned_trials() == 3


@given(st.integers(0, 2**31), st.lists(st.sampled_from(["uniform(0, 1, 3)", "randint(0, 50, 2)", "[1, 2]"]), min_size=1, max_size=3))
def test_same_seed_same_plan(seed, exprs):
    flags = [f"k{i}={expr}" for i, expr in enumerate(exprs)]
    first = spec_from_flags(flags, seed=seed)
    assert spec_from_flags(flags, seed=seed) == first
    assert list(first.space.iter_grid()) == list(spec_from_flags(flags, seed=seed).space.iter_grid())
    rng_a, rng_b = random.Random(seed), random.Random(seed)
    assert [first.space.sample(rng_a) for _ in range(3)] == [first.space.sample(rng_b) for _ in range(3)]


def test_duplicate_keys_are_refused(refused):
    assert "train.lr is set twice" in refused(UsageError, spec_from_flags, ["train.lr=0.1", "train.lr=[1, 2]"])


def test_flags_are_validated(refused):
    assert "continuous" in refused(UsageError, spec_from_flags, ["lr=uniform(0, 1)"])


@pytest.mark.parametrize("goal, normal", [("max", "maximize"), ("MAXIMIZE", "maximize"), ("min", "minimize"), ("minimize", "minimize")])
def test_goals_are_normalised(goal, normal):
    assert Objective("acc", goal).goal == normal
    assert EarlyStoppingRule("acc", 0.9, goal).goal == normal


@pytest.mark.parametrize(
    "build, fragment",
    [
        (lambda: Objective("acc", "up"), "neither maximize nor minimize"),
        (lambda: Objective("", "max"), "metric name"),
        (lambda: EarlyStoppingRule("acc", "high", "max"), "must be a number"),
        (lambda: EarlyStoppingRule("acc", 0.9, None), "neither maximize nor minimize"),
    ],
)
def test_invalid_objectives(refused, build, fragment):
    assert fragment in refused(UsageError, build)


def test_early_stopping_rules():
    assert EarlyStoppingRule("accuracy", 0.9, "maximize").is_met(0.9)
    assert not EarlyStoppingRule("accuracy", 0.9, "maximize").is_met(0.89)
    assert EarlyStoppingRule("loss", 0.05, "minimize").is_met(0.01)
    assert not EarlyStoppingRule("loss", 0.05, "minimize").is_met(0.06)


def valid(**fields) -> SweepSpec:
    spec = SweepSpec(**fields)
    spec.validate()
    return spec


@pytest.mark.parametrize(
    "fields, fragment",
    [
        (dict(space=DISCRETE, strategy="gird"), "did you mean 'grid'"),
        (dict(space=DISCRETE, strategy="annealing"), "grid, random, hyperband, bayes"),
        (dict(space=CONTINUOUS, strategy="random"), "needs a number of trials"),
        (dict(space=DISCRETE, strategy="bayes", objective=LOSS), "needs a number of trials"),
        (dict(space=DISCRETE, max_trials=0), "neither a count"),
        (dict(space=DISCRETE, max_trials=-2), "neither a count"),
        (dict(space=DISCRETE, max_trials=1.5), "fraction in (0, 1]"),
        (dict(space=DISCRETE, max_trials=0.0), "fraction in (0, 1]"),
        (dict(space=DISCRETE, max_trials=True), "neither a count"),
        (dict(space=DISCRETE, max_trials="5"), "neither a count"),
        (dict(space=CONTINUOUS, strategy="random", max_trials=0.5), "give a count instead"),
        (dict(space=DISCRETE, concurrency=0), "concurrency"),
        (dict(space=DISCRETE, concurrency=-1), "concurrency"),
        (dict(space=DISCRETE, seed="x"), "seed"),
        (dict(space=DISCRETE, command=""), "command"),
        (dict(space=CONTINUOUS), "continuous distribution with no grid"),
        (dict(space=DISCRETE, strategy="hyperband", objective=LOSS), "needs the option resource"),
        (dict(space=DISCRETE, strategy="hyperband", objective=LOSS, options={"resource": "epochs"}), "needs the option max_iter"),
        (dict(space=DISCRETE, strategy="hyperband", options=HYPERBAND), "needs an objective"),
        (dict(space=DISCRETE, strategy="bayes", max_trials=10), "needs an objective"),
        (dict(space=DISCRETE, strategy="hyperband", objective=LOSS, options={**HYPERBAND, "eta": 1}), "above 1"),
        (dict(space=DISCRETE, strategy="hyperband", objective=LOSS, options={**HYPERBAND, "max_iter": 0}), "at least 1"),
        (dict(space=DISCRETE, strategy="hyperband", objective=LOSS, options={**HYPERBAND, "resource": "a"}), "remove it from the matrix"),
        (dict(space=DISCRETE, strategy="hyperband", objective=LOSS, options={**HYPERBAND, "etaa": 3}), "did you mean 'eta'"),
        (dict(space=DISCRETE, strategy="bayes", objective=LOSS, max_trials=9, options={"sampler": "cmaes"}), "tpe or gp"),
        (dict(space=DISCRETE, strategy="bayes", objective=LOSS, max_trials=9, options={"n_initial_trials": 0}), "at least 1"),
        (dict(space=DISCRETE, options={"eta": 3}), "takes no options"),
        (dict(space=DISCRETE, constants=((ParamTarget(None, "a"), 1),)), "both a constant and swept"),
        (dict(space=DISCRETE, constants=((ParamTarget(None, "c"), 1), (ParamTarget(None, "c"), 2))), "twice as a constant"),
    ],
)
def test_validate_refuses(refused, fields, fragment):
    assert fragment in refused(UsageError, valid, **fields)


def test_strategy_aliases():
    assert SweepSpec(DISCRETE, strategy="sequential").strategy == "grid"
    assert SweepSpec(DISCRETE, strategy="Random").strategy == "random"
    assert SweepSpec(DISCRETE, strategy="bo").strategy == "bayes"


@pytest.mark.parametrize(
    "fields, planned",
    [
        (dict(space=DISCRETE), 6),
        (dict(space=DISCRETE, max_trials=4), 4),
        (dict(space=DISCRETE, max_trials=40), 6),
        (dict(space=DISCRETE, max_trials=0.5), 3),
        (dict(space=DISCRETE, max_trials=0.29), 1),
        (dict(space=DISCRETE, max_trials=1.0), 6),
        (dict(space=DISCRETE, strategy="random"), 6),  # Polyaxon's search_method: random without n_experiments
        (dict(space=DISCRETE, strategy="random", max_trials=100), 6),
        (dict(space=CONTINUOUS, strategy="random", max_trials=100), 100),
        (dict(space=CONTINUOUS, strategy="hyperband", objective=LOSS, options=HYPERBAND), None),
        (dict(space=CONTINUOUS, strategy="hyperband", objective=LOSS, options=HYPERBAND, max_trials=30), 30),
        (dict(space=CONTINUOUS, strategy="bayes", objective=LOSS, max_trials=25, options={"sampler": "tpe"}), 25),
    ],
)
def test_num_planned_trials(fields, planned):
    assert valid(**fields).num_planned_trials() == planned


def test_fraction_rounds_down_exactly():
    space = Space((parse_set("a=range(0, 100)"),))
    assert valid(space=space, max_trials=0.29).num_planned_trials() == 29  # 0.29 * 100 is 28.999999999999996 in floats
    assert valid(space=space, max_trials=0.001).num_planned_trials() == 1


@st.composite
def specs(draw):
    exprs = draw(st.lists(st.sampled_from(["[1, 'a', [2, 3]]", "range(0, 1, 0.25)", "uniform(0, 1, 2)", "randint(0, 9)", "pvalues([[x, 0.5], [y, 0.5]])"]), max_size=3))
    space = Space(tuple(parse_set(f"{'p.yaml:' if i % 2 else ''}k{i}={expr}") for i, expr in enumerate(exprs)))
    strategy = draw(st.sampled_from(["grid", "random", "hyperband", "bayes"]))
    return SweepSpec(
        space=space,
        strategy=strategy,
        options={"hyperband": {**HYPERBAND, "eta": 3, "resume": True}, "bayes": {"sampler": "gp", "utility_function": {"kappa": 1.2}}}.get(strategy, {}),
        max_trials=draw(st.none() | st.integers(1, 100) | st.sampled_from([0.25, 1.0])),
        seed=draw(st.none() | st.integers()),
        concurrency=draw(st.integers(1, 8)),
        objective=draw(st.none() | st.just(Objective("roc_auc.test", "max"))),
        early_stopping=tuple(draw(st.lists(st.builds(EarlyStoppingRule, st.sampled_from(["acc", "loss"]), st.floats(0, 1), st.sampled_from(["max", "min"])), max_size=2))),
        command=draw(st.none() | st.just("python train.py --lr={{ lr }}")),
        constants=tuple((ParamTarget(None, f"c{i}"), value) for i, value in enumerate(draw(st.lists(st.integers() | st.text(max_size=5) | st.none(), max_size=2)))),
    )


@given(specs())
def test_specs_round_trip_through_json(spec):
    recorded = json.dumps(spec.to_json())
    assert SweepSpec.from_json(json.loads(recorded)) == spec


def test_to_json_does_not_share_options():
    spec = SweepSpec(DISCRETE, strategy="bayes", options={"utility_function": {"kappa": 1}})
    spec.to_json()["options"]["utility_function"]["kappa"] = 2
    assert spec.options["utility_function"]["kappa"] == 1


@pytest.mark.parametrize("data", [{"version": 99}, {"version": 1, "space": []}])
def test_unreadable_recorded_specs(refused, data):
    refused(UsageError, SweepSpec.from_json, data)


def test_a_spec_with_only_constants_is_one_trial():
    spec = valid(space=Space(), constants=((ParamTarget(None, "a"), 1),))
    assert spec.num_planned_trials() == 1
