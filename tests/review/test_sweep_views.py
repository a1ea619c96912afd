"""The sweep's views as data: axis positions, the parallel coordinates' rows and brush, best so far, the scatter."""

from __future__ import annotations

import math

import pytest

from gitexp.review.sweep_views import BRUSH, Fronts, axis_positions, best_so_far, param_scatter, parallel_coordinates, sweep_views

TRIALS = [
    {"id": "s/t001", "params": {"train.lr": 0.01, "opt": "sgd"}, "metrics": {"test.acc": 0.5}},
    {"id": "s/t002", "params": {"train.lr": 0.1, "opt": "adam"}, "metrics": {"test.acc": 0.9}},
    {"id": "s/t003", "params": {"train.lr": 0.05, "opt": "sgd"}, "metrics": {"test.acc": 0.7}},
    {"id": "s/t004", "params": {"train.lr": 0.5, "opt": "adam"}, "metrics": {"test.acc": math.nan}},  # diverged
    {"id": "s/t005", "params": {"train.lr": 0.2, "opt": "rms"}, "metrics": {}},  # failed before its metrics
]


def test_numbers_sit_on_their_axis_by_min_and_max_and_other_values_by_their_sorted_order():
    assert axis_positions(TRIALS[:3], "train.lr") == {"s/t001": 0.0, "s/t002": 1.0, "s/t003": pytest.approx(4 / 9)}
    assert axis_positions(TRIALS, "opt") == {"s/t001": 1.0, "s/t002": 0.0, "s/t003": 1.0, "s/t004": 0.0, "s/t005": 0.5}  # adam, rms, sgd
    assert axis_positions(TRIALS[:1], "train.lr") == {"s/t001": 0.5}  # one value: the middle
    assert axis_positions(TRIALS, "", metric="test.acc") == {"s/t001": 0.0, "s/t002": 1.0, "s/t003": pytest.approx(0.5)}


def test_the_parallel_coordinates_draw_a_line_per_scored_trial_with_the_objective_as_the_last_axis():
    spec = parallel_coordinates(TRIALS, ["train.lr", "opt"], "test.acc")

    rows = spec["data"]["values"]
    assert sorted({row["id"] for row in rows}) == ["s/t001", "s/t002", "s/t003"]  # no score, no line
    assert [(row["axis"], row["key"], row["value"]) for row in rows if row["id"] == "s/t002"] == [
        (0, "train.lr", "0.1"), (1, "opt", "adam"), (2, "test.acc", "0.9"),
    ]  # fmt: skip
    assert spec["encoding"]["x"]["axis"]["labelExpr"] == '["train.lr", "opt", "test.acc"][datum.value] || \'\''
    [brush] = [param for layer in spec["layer"] for param in layer.get("params", [])]
    assert brush == {"name": BRUSH, "select": {"type": "interval", "encodings": ["x", "y"]}}


def test_best_so_far_puts_each_trial_s_value_beside_the_progress_curve_and_skips_trials_with_neither():
    curve = [("s/t001", 0.5), ("s/t002", 0.9), ("s/t003", 0.9), ("s/t004", 0.9)]  # as review.progress gives it

    assert best_so_far(TRIALS, curve, "test.acc") == [
        {"id": "s/t001", "trial": 1, "objective": 0.5, "best": 0.5},
        {"id": "s/t002", "trial": 2, "objective": 0.9, "best": 0.9},
        {"id": "s/t003", "trial": 3, "objective": 0.7, "best": 0.9},
        {"id": "s/t004", "trial": 4, "objective": None, "best": 0.9},  # NaN: no point, the line goes on
    ]  # s/t005 neither finished nor scored


def test_the_scatter_has_a_panel_per_numeric_param_and_plain_field_names():
    spec = param_scatter(TRIALS, ["train.lr", "opt"], "test.acc")

    assert {row["param"] for row in spec["data"]["values"]} == {"train.lr"}  # opt is text: no axis to place it on
    assert all("." not in field for row in spec["data"]["values"] for field in row)  # Vega-Lite reads a dot as nesting
    assert spec["spec"]["encoding"]["y"]["title"] == "test.acc"
    assert [view["name"] for view in sweep_views(TRIALS, ["train.lr"], "test.acc", "maximize", [])] == ["parallel", "scatter", "best"]


def test_a_two_objective_sweep_gets_a_pareto_view_and_its_front_stands_out_in_the_parallel_coordinates():
    trials = [
        {"id": "s/t001", "params": {"lr": 0.1}, "metrics": {"acc": 0.9, "ms": 30}},
        {"id": "s/t002", "params": {"lr": 0.2}, "metrics": {"acc": 0.8, "ms": 10}},
        {"id": "s/t003", "params": {"lr": 0.3}, "metrics": {"acc": 0.7, "ms": 40}},  # worse in both than t001
        {"id": "s/t004", "params": {"lr": 0.4}, "metrics": {"acc": 0.95, "ms": 99}},  # breaks a constraint
    ]
    fronts = Fronts((("acc", "maximize"), ("ms", "minimize")), {"s/t001": 1, "s/t002": 1, "s/t003": 2}, frozenset({"s/t004"}))

    views = sweep_views(trials, ["lr"], "acc", "maximize", [], fronts)
    assert [view["name"] for view in views] == ["pareto", "parallel", "scatter", "best"]
    chart = views[0]["spec"]
    assert {row["id"]: row["pareto"] for row in chart["data"]["values"]} == {
        "s/t001": "front", "s/t002": "front", "s/t003": "dominated", "s/t004": "infeasible",
    }  # fmt: skip
    assert chart["encoding"]["x"]["scale"]["reverse"] is False and chart["encoding"]["y"]["scale"]["reverse"] is True
    parallel = views[1]["spec"]["data"]["values"]
    assert [row["key"] for row in parallel if row["id"] == "s/t001"] == ["lr", "acc", "ms"]  # every objective has an axis
    assert {row["id"] for row in parallel if row["pareto"] == "front"} == {"s/t001", "s/t002"}


def test_three_objectives_get_no_scatter_but_an_axis_each_with_the_front_marked():
    trials = [
        {"id": "s/t001", "params": {"lr": 0.1}, "metrics": {"acc": 0.9, "ms": 30, "mb": 5}},
        {"id": "s/t002", "params": {"lr": 0.2}, "metrics": {"acc": 0.8, "ms": 40, "mb": 6}},
    ]
    fronts = Fronts((("acc", "maximize"), ("ms", "minimize"), ("mb", "minimize")), {"s/t001": 1, "s/t002": 2}, frozenset())

    views = sweep_views(trials, ["lr"], "acc", "maximize", [], fronts)
    assert [view["name"] for view in views] == ["parallel", "scatter", "best"]
    rows = views[0]["spec"]["data"]["values"]
    assert [row["key"] for row in rows if row["id"] == "s/t002"] == ["lr", "acc", "ms", "mb"]
    assert {(row["id"], row["pareto"]) for row in rows} == {("s/t001", "front"), ("s/t002", "dominated")}
