"""The sweep's own views as Vega-Lite: parallel coordinates of params and objective, each param against the
objective, the best objective so far over the trials, and a multi-objective sweep's Pareto front (the ui
draws them; tests read them as data).

Each takes ``trials``: dicts as the ui's table has them (``id``, ``params``, ``metrics``), in the order the
sweep made them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gitexp.numbers import finite
from gitexp.review.results import Pareto

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
BRUSH = "brush"  # the parallel coordinates' interval selection: {"axis": [from, to], "position": [low, high]}
Trial = dict[str, Any]
FRONT, DOMINATED, INFEASIBLE = "front", "dominated", "infeasible"


@dataclass(frozen=True)
class Fronts:
    """A multi-objective sweep's trials by Pareto front, as ``results.Pareto`` ranks them, by trial id."""

    objectives: tuple[tuple[str, str], ...]  # (metric, goal), in the sweep's order
    front: dict[str, int]  # trial id -> its front (1: no feasible trial is better in every objective)
    infeasible: frozenset[str]

    @classmethod
    def of(cls, pareto: Pareto, sweep: str) -> Fronts:
        return cls(
            tuple((objective.metric, objective.goal) for objective in pareto.objectives),
            {f"{sweep}/{name}": number for name, number in pareto.fronts.items()},
            frozenset(f"{sweep}/{name}" for name in pareto.infeasible),
        )

    def group(self, trial_id: str) -> str | None:
        """``front``, ``dominated`` or ``infeasible``; None for a trial the ranking leaves out (unfinished, a metric missing)."""
        if trial_id in self.infeasible:
            return INFEASIBLE
        number = self.front.get(trial_id)
        return None if number is None else FRONT if number == 1 else DOMINATED


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


def parallel_coordinates(
    trials: Sequence[Trial], params: Sequence[str], metric: str, fronts: Fronts | None = None
) -> dict[str, Any]:
    """A line per trial across an axis per param and the objective last; dragging a rectangle over axes
    sets the ``brush`` signal (which axes, which positions) that the page filters its table with.

    With ``fronts`` of several objectives, each objective has an axis at the end, and the lines of the
    Pareto front's members stand out (``pareto`` of each row: front, dominated or infeasible)."""
    several = fronts is not None and len(fronts.objectives) > 1
    metrics = [metric, *(name for name, _ in fronts.objectives if name != metric)] if several else [metric]
    keys = [*params, *metrics]
    scored = [trial for trial in trials if _metric(trial, metric) is not None]
    positions = [axis_positions(scored, key, key if index >= len(params) else None) for index, key in enumerate(keys)]
    rows = []
    for trial in scored:
        for axis, key in enumerate(keys):
            if trial["id"] in positions[axis]:
                raw = _metric(trial, key) if axis >= len(params) else trial["params"].get(key)
                rows.append({"id": trial["id"], "axis": axis, "key": key, "value": str(raw), "position": positions[axis][trial["id"]]})
                if several:
                    rows[-1]["pareto"] = fronts.group(trial["id"]) or DOMINATED
    labels = "[" + ", ".join(json.dumps(key) for key in keys) + "][datum.value] || ''"
    stand_out = _front_stands_out() if several else {}
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
                                                                    "color": {"field": "id", "legend": None}, **stand_out}},
            {"params": [{"name": BRUSH, "select": {"type": "interval", "encodings": ["x", "y"]}}],
             "mark": {"type": "point", "filled": True}, "encoding": {"color": {"field": "id", "legend": None},
                                                                    "tooltip": [{"field": "id"}, {"field": "key"}, {"field": "value"},
                                                                                *([{"field": "pareto"}] if several else [])],
                                                                    **({"opacity": stand_out["opacity"]} if several else {})}},
        ],
    }


def _front_stands_out() -> dict[str, Any]:
    """Encodings that draw the front's members opaque and thick, the other trials faint."""
    domain = [FRONT, DOMINATED, INFEASIBLE]
    return {
        "opacity": {"field": "pareto", "type": "nominal", "scale": {"domain": domain, "range": [1, 0.2, 0.2]}, "legend": None},
        "strokeWidth": {"field": "pareto", "type": "nominal", "scale": {"domain": domain, "range": [3, 1, 1]}, "legend": None},
    }


def pareto_chart(trials: Sequence[Trial], fronts: Fronts) -> dict[str, Any]:
    """The trials by a two-objective sweep's objectives, the front's members joined by a line and the others
    dimmed; an axis whose objective is minimised runs backwards, so better is always up and to the right."""
    (first, first_goal), (second, second_goal) = fronts.objectives
    rows = []
    for trial in trials:
        group, x, y = fronts.group(trial["id"]), _metric(trial, first), _metric(trial, second)
        if group is not None and x is not None and y is not None:
            rows.append({"id": trial["id"], "first": x, "second": y, "pareto": group})
    domain = [FRONT, DOMINATED, INFEASIBLE]

    def axis(field: str, metric: str, goal: str) -> dict[str, Any]:
        return {"field": field, "type": "quantitative", "title": f"{metric} ({goal})", "scale": {"zero": False, "reverse": goal == "minimize"}}

    return {
        "$schema": SCHEMA,
        "title": f"Pareto front of {first} and {second} (better: up and right)",
        "width": 400, "height": 300,
        "data": {"values": rows},
        "encoding": {"x": axis("first", first, first_goal), "y": axis("second", second, second_goal)},
        "layer": [
            {"transform": [{"filter": {"field": "pareto", "equal": FRONT}}],
             "mark": {"type": "line", "color": "#cf222e"}, "encoding": {"order": {"field": "first"}}},
            {"mark": {"type": "point", "filled": True, "size": 70},
             "encoding": {"color": {"field": "pareto", "type": "nominal", "title": None, "legend": {"orient": "bottom"},
                                    "scale": {"domain": domain, "range": ["#cf222e", "#8c959f", "#bf8700"]}},
                          "opacity": {"field": "pareto", "type": "nominal", "scale": {"domain": domain, "range": [1, 0.4, 0.4]}, "legend": None},
                          "tooltip": [{"field": "id"}, {"field": "first", "title": first}, {"field": "second", "title": second},
                                      {"field": "pareto"}]}},
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
    trials: Sequence[Trial], params: Sequence[str], metric: str, goal: str, curve: Sequence[tuple[str, float]],
    fronts: Fronts | None = None,
) -> list[dict[str, Any]]:
    """``[{name, spec}]``: the three views of a sweep whose objective is ``metric`` (``curve``: see ``best_so_far``),
    after the Pareto front's when ``fronts`` has two objectives."""
    pareto = [{"name": "pareto", "spec": pareto_chart(trials, fronts)}] if fronts is not None and len(fronts.objectives) == 2 else []
    return [
        *pareto,
        {"name": "parallel", "spec": parallel_coordinates(trials, params, metric, fronts)},
        {"name": "scatter", "spec": param_scatter(trials, params, metric)},
        {"name": "best", "spec": best_so_far_chart(trials, curve, metric, goal)},
    ]
