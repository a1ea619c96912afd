"""The sweep's own views as Vega-Lite: parallel coordinates of params and objective, each param against the
objective, and the best objective so far over the trials (the ui draws them; tests read them as data).

Each takes ``trials``: dicts as the ui's table has them (``id``, ``params``, ``metrics``), in the order the
sweep made them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gitexp.numbers import finite

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
BRUSH = "brush"  # the parallel coordinates' interval selection: {"axis": [from, to], "position": [low, high]}
Trial = dict[str, Any]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return finite(float(value))


def _metric(trial: Trial, metric: str) -> float | None:
    return _number((trial.get("metrics") or {}).get(metric))


def axis_positions(trials: Sequence[Trial], key: str, metric: str | None = None) -> dict[str, float]:
    """``trial id -> position on the axis of key`` in [0, 1]: numbers by min-max, other values by their sorted order."""
    values = {trial["id"]: (_metric(trial, metric) if metric else (trial.get("params") or {}).get(key)) for trial in trials}
    values = {name: value for name, value in values.items() if value is not None}
    numbers = {name: _number(value) for name, value in values.items()}
    if values and all(number is not None for number in numbers.values()):
        low, high = min(numbers.values()), max(numbers.values())
        return {name: (number - low) / (high - low) if high > low else 0.5 for name, number in numbers.items()}
    order = sorted({str(value) for value in values.values()})
    return {name: order.index(str(value)) / max(1, len(order) - 1) for name, value in values.items()}


def parallel_coordinates(trials: Sequence[Trial], params: Sequence[str], metric: str) -> dict[str, Any]:
    """A line per trial across an axis per param and the objective last; dragging a rectangle over axes
    sets the ``brush`` signal (which axes, which positions) that the page filters its table with."""
    keys = [*params, metric]
    scored = [trial for trial in trials if _metric(trial, metric) is not None]
    positions = [axis_positions(scored, key, metric if index == len(params) else None) for index, key in enumerate(keys)]
    rows = []
    for trial in scored:
        for axis, key in enumerate(keys):
            if trial["id"] in positions[axis]:
                raw = _metric(trial, metric) if axis == len(params) else trial["params"].get(key)
                rows.append({"id": trial["id"], "axis": axis, "key": key, "value": str(raw), "position": positions[axis][trial["id"]]})
    labels = "[" + ", ".join(json.dumps(key) for key in keys) + "][datum.value] || ''"
    return {
        "$schema": SCHEMA,
        "title": f"params against {metric}",
        "width": max(300, 120 * len(keys)),
        "height": 300,
        "data": {"values": rows},
        "encoding": {
            "x": {"field": "axis", "type": "quantitative", "scale": {"domain": [-0.2, len(keys) - 0.8]},
                  "axis": {"values": list(range(len(keys))), "labelExpr": labels, "title": None, "grid": True}},
            "y": {"field": "position", "type": "quantitative", "scale": {"domain": [0, 1]}, "axis": None},
        },
        "layer": [
            {"mark": {"type": "line", "opacity": 0.6}, "encoding": {"detail": {"field": "id"}, "order": {"field": "axis"},
                                                                    "color": {"field": "id", "legend": None}}},
            {"params": [{"name": BRUSH, "select": {"type": "interval", "encodings": ["x", "y"]}}],
             "mark": {"type": "point", "filled": True}, "encoding": {"color": {"field": "id", "legend": None},
                                                                    "tooltip": [{"field": "id"}, {"field": "key"}, {"field": "value"}]}},
        ],
    }


def param_scatter(trials: Sequence[Trial], params: Sequence[str], metric: str) -> dict[str, Any]:
    """The objective against each numeric param, one panel per param."""
    rows = [
        {"id": trial["id"], "param": key, "value": _number(trial["params"].get(key)), "objective": _metric(trial, metric)}
        for key in params
        for trial in trials
        if _number((trial.get("params") or {}).get(key)) is not None and _metric(trial, metric) is not None
    ]
    return {
        "$schema": SCHEMA,
        "title": f"{metric} against each param",
        "data": {"values": rows},
        "facet": {"column": {"field": "param", "type": "nominal", "title": None}},
        "spec": {
            "width": 220, "height": 220, "mark": {"type": "point", "filled": True},
            "encoding": {"x": {"field": "value", "type": "quantitative", "title": None, "scale": {"zero": False}},
                         "y": {"field": "objective", "type": "quantitative", "scale": {"zero": False}, "title": metric},
                         "tooltip": [{"field": "id"}, {"field": "value"}, {"field": "objective", "title": metric}]},
        },
        "resolve": {"scale": {"x": "independent"}},
    }


def best_so_far(trials: Sequence[Trial], curve: Sequence[tuple[str, float]], metric: str) -> list[dict[str, Any]]:
    """``[{id, trial: n, objective, best}]``: each trial in order (n from 1) with its value and the best so far
    (``curve``: ``review.progress``'s best after each finished trial, by trial id). Fields are plain words:
    Vega-Lite reads a dot in a field name as a nested field."""
    best = dict(curve)
    found = []
    for number, trial in enumerate(trials, 1):
        value = _metric(trial, metric)
        if value is not None or trial["id"] in best:
            found.append({"id": trial["id"], "trial": number, "objective": value, "best": best.get(trial["id"])})
    return found


def best_so_far_chart(trials: Sequence[Trial], curve: Sequence[tuple[str, float]], metric: str, goal: str) -> dict[str, Any]:
    y = {"type": "quantitative", "scale": {"zero": False}, "title": metric}
    return {
        "$schema": SCHEMA,
        "title": f"best {metric} so far ({goal})",
        "width": 400, "height": 250,
        "data": {"values": best_so_far(trials, curve, metric)},
        "encoding": {"x": {"field": "trial", "type": "quantitative", "title": "trial", "axis": {"tickMinStep": 1}}},
        "layer": [
            {"mark": {"type": "point", "opacity": 0.6}, "encoding": {"y": {**y, "field": "objective"}, "tooltip": [{"field": "id"}, {"field": "objective", "title": metric}]}},
            {"mark": {"type": "line", "interpolate": "step-after"}, "encoding": {"y": {**y, "field": "best"}}},
        ],
    }


def sweep_views(
    trials: Sequence[Trial], params: Sequence[str], metric: str, goal: str, curve: Sequence[tuple[str, float]]
) -> list[dict[str, Any]]:
    """``[{name, spec}]``: the three views of a sweep whose objective is ``metric`` (``curve``: see ``best_so_far``)."""
    return [
        {"name": "parallel", "spec": parallel_coordinates(trials, params, metric)},
        {"name": "scatter", "spec": param_scatter(trials, params, metric)},
        {"name": "best", "spec": best_so_far_chart(trials, curve, metric, goal)},
    ]
