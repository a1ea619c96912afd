import itertools
import json
import random
import time
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitexp.errors import UsageError
from gitexp.sweep.space import (
    Axis,
    Choice,
    Distribution,
    ParamTarget,
    PChoice,
    Space,
    dimension_from_json,
)


def choice_space(sizes: list[int]) -> Space:
    return Space(tuple(Axis(ParamTarget(None, f"p{i}"), Choice(tuple(range(size)))) for i, size in enumerate(sizes)))


@given(st.lists(st.integers(1, 6), max_size=5))
def test_grid_size_is_the_product_of_axis_sizes(sizes):
    space = choice_space(sizes)
    expected = 1
    for size in sizes:
        expected *= size
    assert space.grid_size() == expected
    assert space.is_discrete


@given(st.lists(st.lists(st.integers(), min_size=1, max_size=4), max_size=4))
def test_grid_points_follow_itertools_product_order(value_lists):
    targets = [ParamTarget("params.yaml" if i % 2 else None, f"k{i}") for i in range(len(value_lists))]
    space = Space(tuple(Axis(target, Choice(tuple(values))) for target, values in zip(targets, value_lists)))
    expected = [dict(zip(targets, combination)) for combination in itertools.product(*value_lists)]
    assert [space.grid_point(index) for index in range(space.grid_size())] == expected
    assert list(space.iter_grid()) == expected
    assert all(list(point) == targets for point in expected)  # keys in axis order


def test_an_empty_space_has_one_point():
    assert Space().grid_size() == 1
    assert list(Space().iter_grid()) == [{}]


def test_a_billion_point_grid_costs_nothing():
    started = time.perf_counter()
    space = choice_space([10] * 9)
    assert space.grid_size() == 10**9
    assert space.grid_point(10**9 - 1) == {ParamTarget(None, f"p{i}"): 9 for i in range(9)}
    assert space.grid_point(123_456_789)[ParamTarget(None, "p8")] == 9
    huge = Space((Axis(ParamTarget(None, "seed"), Distribution("randint", (0, 10**12))),))
    assert huge.grid_size() == 10**12
    assert huge.grid_point(10**12 - 1) == {ParamTarget(None, "seed"): 10**12 - 1}
    next(iter(huge.iter_grid()))
    assert time.perf_counter() - started < 0.5


def test_grid_point_outside_the_grid():
    with pytest.raises(IndexError):
        choice_space([2, 3]).grid_point(6)
    with pytest.raises(IndexError):
        choice_space([2]).grid_point(-1)


def test_a_continuous_axis_has_no_grid(refused):
    space = Space((Axis(ParamTarget(None, "lr"), Distribution("uniform", (0, 1))),))
    assert not space.is_discrete
    message = refused(UsageError, space.grid_size)
    assert "lr" in message and "uniform(0, 1, 10)" in message and "--strategy random" in message
    refused(UsageError, lambda: Distribution("normal", (0, 1)).values)


def test_duplicate_targets_are_refused(refused):
    axis = Axis(ParamTarget(None, "lr"), Choice((1,)))
    assert "set twice" in refused(UsageError, Space, (axis, axis))


def test_randint_is_discrete_and_excludes_high():
    dimension = Distribution("randint", (2, 5))
    assert dimension.is_discrete and dimension.size == 3
    assert list(dimension.values) == [2, 3, 4]
    assert {dimension.sample(random.Random(seed)) for seed in range(200)} == {2, 3, 4}


def test_sizes_and_discreteness():
    assert Choice((1, 2)).size == 2 and Choice((1,)).is_discrete
    assert PChoice(("a", "b"), (0.5, 0.5)).size == 2
    assert Distribution("uniform", (0, 1)).size is None and not Distribution("uniform", (0, 1)).is_discrete


@given(st.integers(0, 2**32))
def test_same_seed_same_draws(seed):
    space = Space(
        (
            Axis(ParamTarget(None, "a"), Distribution("loguniform", (1e-5, 1.0))),
            Axis(ParamTarget(None, "b"), Choice(("x", "y", "z"))),
            Axis(ParamTarget(None, "c"), PChoice((1, 2), (0.3, 0.7))),
        )
    )
    first = [space.sample(random.Random(seed)) for _ in range(3)]
    assert first == [space.sample(random.Random(seed)) for _ in range(3)]


finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(finite, finite, st.integers(0, 2**32))
def test_uniform_samples_stay_in_bounds(low, high, seed):
    if not low < high:
        return
    value = Distribution("uniform", (low, high)).sample(random.Random(seed))
    assert low <= value <= high


@given(st.floats(1e-8, 1e6), st.floats(1e-8, 1e6), st.integers(0, 2**32))
def test_loguniform_samples_stay_in_bounds(low, high, seed):
    if not low < high:
        return
    assert low <= Distribution("loguniform", (low, high)).sample(random.Random(seed)) <= high


@given(st.integers(-1000, 1000), st.integers(1, 1000), st.integers(0, 2**32))
def test_randint_samples_stay_in_bounds(low, width, seed):
    value = Distribution("randint", (low, low + width)).sample(random.Random(seed))
    assert low <= value < low + width and isinstance(value, int)


quanta = st.sampled_from([0.1, 0.25, 0.05, 0.3, 1, 2, 5, 0.001, 0.7])


def is_multiple(value, q) -> bool:
    return (Fraction(repr(value)) / Fraction(repr(q))).denominator == 1


@given(st.integers(-100, 100), st.integers(1, 100), quanta, st.integers(0, 2**32))
def test_quniform_gives_multiples_of_q_within_bounds(low_tenths, width_tenths, q, seed):
    low, high = low_tenths / 10, (low_tenths + width_tenths) / 10
    try:
        dimension = Distribution("quniform", (low, high, q))
    except UsageError:
        return  # no multiple of q between the bounds
    value = dimension.sample(random.Random(seed))
    assert is_multiple(value, q)
    assert low <= value <= high
    assert isinstance(value, int) == isinstance(q, int)


@given(st.sampled_from(["qnormal", "qlognormal"]), quanta, st.integers(0, 2**32))
def test_unbounded_q_kinds_give_multiples_of_q(kind, q, seed):
    assert is_multiple(Distribution(kind, (0.5, 2, q)).sample(random.Random(seed)), q)


@given(quanta, st.integers(0, 2**32))
def test_qloguniform_gives_multiples_of_q_within_bounds(q, seed):
    value = Distribution("qloguniform", (1, 1000, q)).sample(random.Random(seed))
    assert is_multiple(value, q) and 1 <= value <= 1000


def test_q_values_print_as_decimals():
    values = {Distribution("quniform", (0, 1, 0.1)).sample(random.Random(seed)) for seed in range(300)}
    assert values == {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0}


def test_pvalues_sample_by_probability():
    dimension = PChoice(("rare", "common"), (0.1, 0.9))
    rng = random.Random(0)
    draws = [dimension.sample(rng) for _ in range(2000)]
    assert 100 < draws.count("rare") < 300


def test_probabilities_may_miss_one_by_rounding_only(refused):
    PChoice(tuple(range(10)), (0.1,) * 10)  # sums to 0.9999999999999999
    assert "sum to" in refused(UsageError, PChoice, ("a", "b"), (0.5, 0.5 + 1e-6))


@pytest.mark.parametrize(
    "build, fragment",
    [
        (lambda: Choice(()), "empty"),
        (lambda: PChoice((), ()), "at least one"),
        (lambda: PChoice(("a", "b"), (1.0,)), "one probability per value"),
        (lambda: PChoice(("a",), (True,)), "between 0 and 1"),
        (lambda: PChoice.from_pairs([("a", 0.5, 1)]), "pair"),
        (lambda: Distribution("gamma", (1, 2)), "unknown distribution"),
        (lambda: Distribution("unifrom", (1, 2)), "did you mean 'uniform'"),
        (lambda: Distribution("uniform", (1,)), "takes 2 arguments"),
        (lambda: Distribution("uniform", (0, float("inf"))), "finite number"),
        (lambda: Distribution("uniform", (0, "1")), "finite number"),
        (lambda: Distribution("lognormal", (0, -1)), "scale"),
        (lambda: ParamTarget(None, ""), "empty"),
        (lambda: ParamTarget(None, "a."), "empty part"),
        (lambda: ParamTarget("", "a"), "empty file name"),
    ],
)
def test_invalid_dimensions_and_targets(refused, build, fragment):
    assert fragment in refused(UsageError, build)


def test_param_target_text():
    assert str(ParamTarget(None, "train.lr")) == "train.lr"
    assert str(ParamTarget("conf/p.yaml", "model.layers.0.units")) == "conf/p.yaml:model.layers.0.units"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=5,
)


@st.composite
def dimensions(draw):
    kind = draw(st.sampled_from(["choice", "pvalues", "uniform", "qloguniform", "qnormal", "randint"]))
    if kind == "choice":
        values = tuple(draw(st.lists(json_values, min_size=1, max_size=5)))
        return Choice(values, frozenset(draw(st.sets(st.integers(0, len(values) - 1)))))
    if kind == "pvalues":
        values = tuple(draw(st.lists(json_values, min_size=1, max_size=4)))
        return PChoice(values, (1 / len(values),) * len(values))
    if kind == "randint":
        low = draw(st.integers(-100, 100))
        return Distribution("randint", (low, low + draw(st.integers(1, 100))))
    if kind == "qloguniform":
        return Distribution(kind, (draw(st.floats(0.5, 10)), draw(st.floats(20, 1000)), draw(st.sampled_from([0.5, 1, 2]))))
    if kind == "qnormal":
        return Distribution(kind, (draw(finite), draw(st.floats(0.1, 10)), draw(st.sampled_from([0.1, 3]))))
    low = draw(finite)
    return Distribution(kind, (low, low + draw(st.floats(0.001, 1e6))))


@given(dimensions())
def test_dimensions_round_trip_through_json(dimension):
    recorded = json.loads(json.dumps(dimension.to_json()))
    assert dimension_from_json(recorded) == dimension


@given(st.lists(dimensions(), max_size=4))
def test_spaces_round_trip_through_json(dimension_list):
    space = Space(tuple(Axis(ParamTarget("p.yaml" if i % 2 else None, f"k{i}"), d) for i, d in enumerate(dimension_list)))
    assert Space.from_json(json.loads(json.dumps(space.to_json()))) == space


def test_unreadable_recorded_dimension(refused):
    assert "re-create the sweep" in refused(UsageError, dimension_from_json, {"kind": "choice"})
