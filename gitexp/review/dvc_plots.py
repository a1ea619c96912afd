"""The plots the project's dvc.yaml declares, made ready for the report: Vega-Lite, PNG, Mermaid or a table.

The one module of gitexp that imports dvc_render (DVC's renderer, installed
with DVC, a package of its own that imports no DVC and opens no repository):
it fills the plot's Vega template with the commits' rows, as ``dvc plots
show`` and the VS Code extension do, for the HTML report. Images for Markdown
are drawn with gitexp's own matplotlib figures from the same rows, since
dvc_render's Markdown output draws only linear templates and joins all
commits into one line; the PR comment gets a Mermaid line chart of a linear
plot and a table where a chart cannot say it (a confusion matrix).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from dvc_render import VegaRenderer
from dvc_render.vega_templates import Template

from gitexp.numbers import finite
from gitexp.project.plots import DeclaredPlot
from gitexp.review import mermaid

CONFUSION_TEMPLATES = {"confusion", "confusion_normalized"}
LINE_TEMPLATES = {None, "linear", "simple", "smooth", "scatter", "scatter_jitter"}
MAX_CLASSES = 20  # a confusion matrix with more classes is drawn, but gets no table


def _number(value: Any) -> float | None:
    try:
        return finite(float(value))
    except (TypeError, ValueError):
        return None


def vega_lite(plot: DeclaredPlot) -> dict[str, Any] | None:
    """The Vega-Lite specification dvc_render fills for ``plot``'s rows; None when its template cannot take them."""
    if not plot.rows:
        return None
    properties = dict(plot.properties)
    content = properties.pop("template_content", None)
    if content is not None:  # a custom template, as the commit has it
        properties["template"] = Template(content, name=str(properties.get("template")))
    try:
        return VegaRenderer(plot.rows, plot.id, **properties).get_filled_template()
    except Exception:  # a custom template that does not fit its data: the PNG and the notes still show  # noqa: BLE001
        return None


def confusion_counts(plot: DeclaredPlot) -> dict[str, tuple[list[str], list[str], list[list[int]]]]:
    """``label -> (predicted classes, actual classes, counts[actual][predicted])`` of a confusion plot."""
    x, y = plot.properties.get("x"), plot.properties.get("y")
    matrices = {}
    for label in dict.fromkeys(row["rev"] for row in plot.rows):
        pairs = Counter((str(row.get(y)), str(row.get(x))) for row in plot.rows if row["rev"] == label)
        classes = sorted({value for pair in pairs for value in pair}, key=_class_order)
        matrices[label] = (classes, classes, [[pairs[(actual, predicted)] for predicted in classes] for actual in classes])
    return matrices


def _class_order(value: str) -> tuple[int, float, str]:
    number = _number(value)
    return (0, number, "") if number is not None else (1, 0.0, value)


def lines(plot: DeclaredPlot) -> dict[str, list[tuple[float, float]]]:
    """``label -> [(x, y)]`` of a plot whose x and y are numbers."""
    x, y = plot.properties.get("x"), plot.properties.get("y")
    found: dict[str, list[tuple[float, float]]] = {}
    for row in plot.rows:
        point = (_number(row.get(x)), _number(row.get(y)))
        if point[0] is not None and point[1] is not None:
            found.setdefault(row["rev"], []).append(point)  # type: ignore[arg-type]
    return found


def template_of(plot: DeclaredPlot) -> str | None:
    template = plot.properties.get("template")
    return template if isinstance(template, str) or template is None else "custom"


def png_of(plot: DeclaredPlot) -> bytes | None:
    """The plot as a PNG: heat maps of a confusion plot, lines of any other whose x and y are numbers."""
    from gitexp.review import plots  # matplotlib loads only when a report draws

    x, y = axis_label(plot, "x"), axis_label(plot, "y")
    if template_of(plot) in CONFUSION_TEMPLATES:
        matrices = confusion_counts(plot)
        return plots.confusion_matrices(matrices, x, y, plot.title) if matrices else None
    found = lines(plot)
    return plots.step_curves(found, y, x_label=x, title=plot.title) if found else None


def axis_label(plot: DeclaredPlot, axis: str) -> str:
    return str(plot.properties.get(f"{axis}_label") or plot.properties.get(axis) or axis)


def chart_of(plot: DeclaredPlot) -> mermaid.Chart | None:
    """A Mermaid line per commit of a linear plot; None for others (they get ``table_of``)."""
    if template_of(plot) not in LINE_TEMPLATES:
        return None
    found = lines(plot)
    if not found:
        return None
    chart = mermaid.step_chart(axis_label(plot, "y"), found)
    return mermaid.Chart(plot.title, axis_label(plot, "x"), chart.x_values, chart.y_label, chart.series)


def confusion_table(plot: DeclaredPlot) -> tuple[list[str], list[list[str]]] | None:
    """The confusion matrices as one table: a row per commit and actual class, a column per predicted class."""
    if template_of(plot) not in CONFUSION_TEMPLATES:
        return None
    matrices = confusion_counts(plot)
    classes = sorted({value for xs, _, _ in matrices.values() for value in xs}, key=_class_order)
    if not matrices or len(classes) > MAX_CLASSES:
        return None
    headers = ["", "actual", *[f"predicted {value}" for value in classes]]
    rows = []
    for label, (xs, ys, counts) in matrices.items():
        for actual in classes:
            cells = [str(counts[ys.index(actual)][xs.index(value)]) if actual in ys and value in xs else "0" for value in classes]
            rows.append([label, actual, *cells])
    return headers, rows


def missing_notes(plot: DeclaredPlot) -> list[str]:
    """What the plot lacks, one line per commit: the data files DVC could not read there."""
    return [f"{label}: {', '.join(paths)} not found in its commit, so the plot lacks it" for label, paths in plot.missing.items()]


def file_stem(plot: DeclaredPlot) -> str:
    return "dvc-" + (re.sub(r"[^A-Za-z0-9._-]+", "_", plot.id).strip("._") or "plot")


def step_curve(name: str, found: dict[str, list[tuple[float, float]]]) -> DeclaredPlot:
    """dvclive's step curve of metric ``name`` (``label -> [(step, value)]``) as DVC declares it for
    ``dvclive/plots/metrics``: the linear template over ``step``, so ``vega_lite`` fills it as any plot."""
    field = name.rsplit("/", 1)[-1]
    rows = [{"rev": label, "step": step, field: value} for label, points in found.items() for step, value in points]
    properties = {"x": "step", "y": field, "template": "linear", "title": name}
    return DeclaredPlot(f"dvclive/plots/metrics/{name}.tsv", "vega", properties, rows)
