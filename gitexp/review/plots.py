"""PNG plots for reports, drawn with matplotlib's object API (no pyplot state, Agg canvas).

Each function takes plain data and answers PNG bytes; where they go (files
beside a Markdown report, or inlined in an HTML page) is the caller's choice.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gitexp.numbers import finite
from gitexp.terminal import terminal_text

FIGURE_SIZE = (6.4, 4.0)
DPI = 100
LABEL_CHARACTERS = 40  # of a tick label or legend entry drawn from user text
LOG_SCALE_SPAN = 100.0  # positive values spanning this factor or more get a log axis


def objective_against_param(
    points: Sequence[tuple[Any, float]],
    param: str,
    metric: str,
    baseline: float | None = None,
) -> bytes:
    """A scatter of ``metric`` against the values ``param`` took; text and booleans become categories."""
    figure, axes = _figure()
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    if all(finite(x) is not None for x in xs):
        axes.scatter(xs, ys, zorder=3)
        numbers = [float(x) for x in xs]
        if numbers and min(numbers) > 0 and max(numbers) / min(numbers) >= LOG_SCALE_SPAN:
            axes.set_xscale("log")
    else:
        categories = list(dict.fromkeys(str(x) for x in xs))
        axes.scatter([categories.index(str(x)) for x in xs], ys, zorder=3)
        axes.set_xticks(range(len(categories)), [_plain(category) for category in categories])
    if baseline is not None:
        axes.axhline(baseline, linestyle="--", color="grey", label="baseline")
        axes.legend(loc="best")
    axes.set_xlabel(_plain(param))
    axes.set_ylabel(_plain(metric))
    axes.set_title(_plain(f"{metric} against {param}", 2 * LABEL_CHARACTERS))
    return _png(figure)


def step_curves(
    curves: Mapping[str, Sequence[tuple[float, float]]],
    metric: str,
    x_label: str = "step",
    title: str | None = None,
    pruned: Collection[str] = (),
) -> bytes:
    """One line per trial: ``metric`` over the steps dvclive logged (or any ``y`` over ``x``); the ``pruned`` trials' dashed, where they stopped."""
    figure, axes = _figure()
    for label, points in curves.items():
        style = {"linestyle": "--", "marker": "x", "alpha": 0.7} if label in pruned else {"marker": "."}
        name = f"{label} (pruned)" if label in pruned else label
        axes.plot([step for step, _ in points], [value for _, value in points], label=_plain(name), **style)
    values = [value for points in curves.values() for _, value in points]
    if pruned and values and min(values) > 0 and max(values) / min(values) >= LOG_SCALE_SPAN:
        axes.set_yscale("log")  # a diverging trial would flatten every other curve
    axes.set_xlabel(_plain(x_label))
    axes.set_ylabel(_plain(metric))
    axes.set_title(_plain(metric if title is None else title, 2 * LABEL_CHARACTERS))
    if curves:
        axes.legend(loc="best", fontsize="small")
    return _png(figure)


def pareto_front(points: Sequence[tuple[float, float, bool]], objectives: Sequence[Any]) -> bytes:
    """Trials by their two objectives (``objectives``: each with ``metric`` and ``goal``), the front joined by a line."""
    figure, axes = _figure()
    front = sorted((x, y) for x, y, on_front in points if on_front)
    others = [(x, y) for x, y, on_front in points if not on_front]
    if others:
        axes.scatter([x for x, _ in others], [y for _, y in others], color="grey", alpha=0.6, label="dominated", zorder=2)
    axes.plot([x for x, _ in front], [y for _, y in front], marker="o", color="C3", label="Pareto front", zorder=3)
    first, second = objectives
    axes.set_xlabel(_plain(f"{first.metric} ({first.goal})"))
    axes.set_ylabel(_plain(f"{second.metric} ({second.goal})"))
    axes.set_title(_plain(f"Pareto front of {first.metric} and {second.metric}", 2 * LABEL_CHARACTERS))
    axes.legend(loc="best")
    return _png(figure)


def confusion_matrices(matrices: Mapping[str, tuple[list[str], list[str], list[list[int]]]], x_label: str, y_label: str, title: str) -> bytes:
    """One heat map per commit (side by side): ``(x classes, y classes, counts[y][x])``, each cell's count written in it."""
    figure = Figure(figsize=(FIGURE_SIZE[0] * max(1, min(len(matrices), 3)) / 1.5, FIGURE_SIZE[1]), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    for index, (label, (xs, ys, counts)) in enumerate(matrices.items(), start=1):
        axes = figure.add_subplot(1, len(matrices), index)
        axes.imshow(counts, cmap="Blues")
        axes.set_xticks(range(len(xs)), [_plain(x) for x in xs])
        axes.set_yticks(range(len(ys)), [_plain(y) for y in ys])
        axes.set_xlabel(_plain(x_label))
        axes.set_ylabel(_plain(y_label))
        axes.set_title(_plain(label))
        peak = max((max(row) for row in counts if row), default=0)
        for row_index, row in enumerate(counts):
            for column_index, count in enumerate(row):
                colour = "white" if peak and count > peak / 2 else "black"
                axes.text(column_index, row_index, str(count), ha="center", va="center", color=colour)
    figure.suptitle(_plain(title, 2 * LABEL_CHARACTERS))
    return _png(figure)


def best_so_far(points: Sequence[tuple[str, float]], metric: str) -> bytes:
    """The best ``metric`` of the sweep after each finished trial, as a step line."""
    figure, axes = _figure()
    axes.step(range(1, len(points) + 1), [value for _, value in points], where="post", marker=".")
    values = [value for _, value in points]
    if min(values) > 0 and max(values) / min(values) >= LOG_SCALE_SPAN:
        axes.set_yscale("log")
    axes.set_xlabel("finished trials")
    axes.set_ylabel(_plain(f"best {metric}"))
    axes.set_title(_plain(f"best {metric} so far", 2 * LABEL_CHARACTERS))
    return _png(figure)


def _plain(text: str, limit: int = LABEL_CHARACTERS) -> str:
    """User text drawn as itself: controls visible, ``$`` escaped so matplotlib reads no mathtext, and
    cut to ``limit`` characters (a longer label would squeeze the axes to nothing)."""
    text = terminal_text(text)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def _figure():
    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.grid(True, alpha=0.3)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
