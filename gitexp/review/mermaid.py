"""Charts GitHub draws from text: Mermaid ``xychart-beta`` blocks for the pull-request comment.

An xychart has no legend and reads its strings without escapes, so every
series gets a colour of ``PALETTE`` (fixed in the block's init directive) whose
coloured square emoji ``LEGEND`` names it in the Markdown below the chart; user
text inside the block is cut down to ``_SAFE`` characters, which can neither
close a string nor the block, and the exact names stand in the (escaped) legend.
Numbers are written as Mermaid's parser reads them (no exponent, no NaN).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gitexp.numbers import finite

# The colours of the legend's square emoji (blue, orange, green, red, purple, brown, yellow, black).
PALETTE = ("#55acee", "#f4900c", "#78b159", "#dd2e44", "#aa8ed6", "#c1694f", "#fdcb58", "#31373d")
LEGEND = ("🟦", "🟧", "🟩", "🟥", "🟪", "🟫", "🟨", "⬛")
MAX_SERIES = len(PALETTE)
MAX_POINTS = 60  # x positions of one chart: more steps are sampled down to these
MAX_CATEGORIES = 40  # bars of one chart; more values of a param get a table instead
LABEL_CHARACTERS = 40
_SAFE = re.compile(r"[^A-Za-z0-9 _.:/+=()-]")


@dataclass(frozen=True)
class Series:
    name: str  # shown in the legend (Markdown, escaped by the caller), never inside the block
    values: Sequence[float | None]  # one per x position; None where the series has no value
    kind: str = "line"  # line | bar


@dataclass(frozen=True)
class Chart:
    title: str
    x_label: str
    x_values: Sequence[str]  # the categories along the x axis
    y_label: str
    series: Sequence[Series]

    @property
    def legend(self) -> list[tuple[str, str]]:
        """``(coloured square, series name)``, in the order the chart draws them."""
        return [(LEGEND[index], series.name) for index, series in enumerate(self.series[:MAX_SERIES])]


def safe_text(text: str, limit: int = LABEL_CHARACTERS) -> str:
    """User text as a Mermaid string's content: only ``_SAFE`` characters, one line, at most ``limit`` long."""
    plain = " ".join(_SAFE.sub("_", str(text)).split())
    return plain if len(plain) <= limit else plain[: limit - 1] + "_"


def number(value: float) -> str:
    """A finite float as Mermaid reads it: plain decimal digits, no exponent."""
    text = f"{value:.6g}"
    if "e" in text or "E" in text:
        text = f"{value:.12f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def render(chart: Chart) -> str:
    """The chart as a fenced ``mermaid`` block: one ``line`` or ``bar`` per series, colours as ``LEGEND``."""
    series = [item for item in chart.series[:MAX_SERIES] if any(finite(value) is not None for value in item.values)]
    values = [value for item in series for value in map(finite, item.values) if value is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if math.isclose(low, high):
        low, high = low - 0.5, high + 0.5
    elif any(item.kind == "bar" for item in series):
        low -= (high - low) / 4  # the lowest bar still shows, and the differences too
    palette = ", ".join(PALETTE[chart.series.index(item)] for item in series)
    init = {"themeVariables": {"xyChart": {"plotColorPalette": palette}}}
    categories = ", ".join(json.dumps(safe_text(value, 16)) for value in chart.x_values)
    lines = [
        "```mermaid",
        f"%%{{init: {json.dumps(init)}}}%%",
        "xychart-beta",
        f'    title "{safe_text(chart.title, 2 * LABEL_CHARACTERS)}"',
        f'    x-axis "{safe_text(chart.x_label)}" [{categories}]',
        f'    y-axis "{safe_text(chart.y_label)}" {number(low)} --> {number(high)}',
    ]
    for item in series:
        filled = _filled(item.values)
        lines.append(f"    {item.kind} [{', '.join(number(value) for value in filled)}]")
    lines.append("```")
    return "\n".join(lines)


def _filled(values: Sequence[float | None]) -> list[float]:
    """A series with no gaps, as xychart needs one: a missing value repeats the one before it (the first
    value found, before any), so a trial that logged fewer steps ends in a flat line."""
    numbers = [finite(value) for value in values]
    last = next((value for value in numbers if value is not None), 0.0)
    filled = []
    for value in numbers:
        last = last if value is None else value
        filled.append(last)
    return filled


def step_chart(metric: str, curves: Mapping[str, Sequence[tuple[float, float]]]) -> Chart:
    """One line per trial of ``metric`` over its steps; steps sampled down to ``MAX_POINTS`` positions."""
    steps = sorted({step for points in curves.values() for step, _ in points})
    if len(steps) > MAX_POINTS:
        stride = (len(steps) - 1) / (MAX_POINTS - 1)
        steps = sorted({steps[round(index * stride)] for index in range(MAX_POINTS)})
    series = []
    for name, points in list(curves.items())[:MAX_SERIES]:
        by_step = dict(points)
        last = max(by_step, default=None)
        label = name if last is None or last >= steps[-1] else f"{name} (ends at step {number(last)})"
        series.append(Series(label, [_at_or_before(by_step, step) for step in steps]))
    return Chart(f"{metric} by step", "step", [number(step) for step in steps], metric, series)


def _at_or_before(by_step: Mapping[float, float], step: float) -> float | None:
    """The value logged at ``step``, else the last one before it (sampling may skip the exact step)."""
    if step in by_step:
        return by_step[step]
    earlier = [logged for logged in by_step if logged <= step]
    return by_step[max(earlier)] if earlier else None


def objective_chart(metric: str, param: str, points: Sequence[tuple[str, float]], baseline: float | None, goal: str) -> Chart:
    """A bar per value of ``param``: the best ``metric`` a trial with it reached; the baseline as a line."""
    best: dict[str, float] = {}
    for label, value in points:
        if label not in best or (value > best[label] if goal == "maximize" else value < best[label]):
            best[label] = value
    labels = list(best)
    series = [Series(f"best {metric}", [best[label] for label in labels], kind="bar")]
    if baseline is not None:
        series.append(Series("baseline", [baseline] * len(labels)))
    return Chart(f"{metric} against {param}", param, labels, metric, series)
