from __future__ import annotations

import dataclasses
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from gitexp.strategies import random_search, strategy_for
from gitexp.strategies.random_search import point_key
from gitexp.sweep.space import Axis, Choice, Distribution, ParamTarget, PChoice, Space
from gitexp.sweep.spec import SweepSpec


def choice_space(*sizes: int) -> Space:
    return Space(tuple(Axis(ParamTarget(None, f"p{i}"), Choice(tuple(range(size)))) for i, size in enumerate(sizes)))


def random_spec(space: Space, max_trials=None, seed=1) -> SweepSpec:
    spec = SweepSpec(space, strategy="random", max_trials=max_trials, seed=seed)
    spec.validate()
    return spec


def keys(spec: SweepSpec, plans) -> list:
    return [point_key(spec.space, plan.params) for plan in plans]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.integers(1, 60), st.integers(0, 2**31))
def test_no_duplicates_and_capped_at_the_space(sizes, max_trials, seed):
    spec = random_spec(choice_space(*sizes), max_trials, seed)
    points = keys(spec, strategy_for(spec).initial_batch())
    assert len(points) == len(set(points)) == min(max_trials, spec.space.grid_size())


def test_a_space_smaller_than_the_plan_runs_whole_in_a_seeded_shuffled_order():
    spec = random_spec(choice_space(4, 5), max_trials=100)
    grid = [point_key(spec.space, point) for point in spec.space.iter_grid()]
    first = keys(spec, strategy_for(spec).initial_batch())
    assert sorted(first) == sorted(grid) and first != grid
    assert keys(spec, strategy_for(spec).initial_batch()) == first
    assert keys(spec, strategy_for(dataclasses.replace(spec, seed=2)).initial_batch()) != first


def test_extending_a_sweep_to_the_whole_space_adds_only_new_points(harness):
    small = random_spec(choice_space(4, 5), max_trials=5)
    done = [harness.finished(plan, 0.0) for plan in strategy_for(small).initial_batch()]
    whole = dataclasses.replace(small, max_trials=20)
    more = strategy_for(whole).suggest(done, [], 100)
    points = [point_key(small.space, trial.params) for trial in done] + keys(whole, more)
    assert len(more) == 15 and len(set(points)) == 20


def test_continuous_points_do_not_repeat_and_follow_pvalues_weights():
    space = Space((
        Axis(ParamTarget(None, "x"), Distribution("uniform", (0, 1))),
        Axis(ParamTarget(None, "opt"), PChoice(("adam", "sgd"), (0.9, 0.1))),
    ))
    spec = random_spec(space, max_trials=300)
    plans = strategy_for(spec).initial_batch()
    assert len(set(keys(spec, plans))) == 300
    assert Counter(plan.params[ParamTarget(None, "opt")] for plan in plans)["adam"] > 240


def test_a_nearly_used_up_discrete_space_falls_back_to_scanning(monkeypatch):
    monkeypatch.setattr(random_search, "MAX_ATTEMPTS", 1)
    spec = random_spec(choice_space(7, 9), max_trials=62)  # one point short of the whole space
    points = keys(spec, strategy_for(spec).initial_batch())
    assert len(points) == len(set(points)) == 62


def test_a_space_exhausted_in_practice_ends_the_sweep_early():
    # quniform(0, 1, 0.5) has three values but no grid, so the plan cannot be capped in advance.
    spec = random_spec(Space((Axis(ParamTarget(None, "x"), Distribution("quniform", (0, 1, 0.5))),)), max_trials=10)
    plans = strategy_for(spec).initial_batch()
    assert sorted(plan.params[ParamTarget(None, "x")] for plan in plans) == [0, 0.5, 1]


def test_list_values_count_as_one_point():
    spec = random_spec(Space((Axis(ParamTarget(None, "layers"), Choice(([16], [16, 16], [32]))),)), max_trials=3)
    values = [plan.params[ParamTarget(None, "layers")] for plan in strategy_for(spec).initial_batch()]
    assert sorted(values) == [[16], [16, 16], [32]]
