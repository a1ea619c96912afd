"""The sweep's report as a pull-request comment: readable at any size, plots drawn by GitHub itself.

- Ranking: every ranked trial up to ``MANY_TRIALS``; beyond, the best
  ``SHOWN_WHEN_MANY``, the baseline and a count (the full ranking is in the
  full report). Each metric's column is rounded to the significant digits
  that keep its values apart (``significant_digits``), deltas to the same
  place, signed, and those of the ranking metric marked better or worse in
  words and a mark every Markdown view shows.
- Plots (``PLOT_MODES``): Mermaid charts (``review.mermaid``) with a legend of
  coloured squares, a table where no chart fits (a confusion matrix), and/or
  PNG links to where the caller published them (``image_urls``: file name ->
  absolute URL); a plot with no URL is named, its image in the full report.
- Size: the comment stays under GitHub's limit (``COMMENT_LIMIT``): plot
  sections are left out from the last, then the failures' list, and the
  comment says so and where the full report is.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from gitexp.errors import UsageError
from gitexp.numbers import finite
from gitexp.review import mermaid
from gitexp.review.report import Plot, SweepReport, Table, finalize_markdown, markdown_inline, markdown_table_of, template_environment
from gitexp.review.results import Row
from gitexp.review.tables import format_value

PLOT_MODES = ("mermaid", "images", "both")
DEFAULT_PLOT_MODE = "both"
MANY_TRIALS = 20
SHOWN_WHEN_MANY = 10
FAILED_SHOWN = 10
REPORT_ARTIFACT = "gitexp-report"  # the CI report job's artifact, and its folder: the full reports and their plots
COMMENT_LIMIT = 65_536  # GitHub's, in characters
SIZE_MARGIN = 600  # gitexp's marker and the note of a cut comment
BETTER, WORSE = "✔ better", "✘ worse"  # text marks: no colour or font needed


def check_plot_mode(mode: str) -> str:
    if mode not in PLOT_MODES:
        raise UsageError(f"--report-plots {mode!r}: use mermaid, images or both")
    return mode


@dataclass(frozen=True)
class Rounding:
    """How one column's numbers are shown: ``digits`` significant ones, and the decimal place they reach."""

    digits: int
    place: int  # the exponent of the last digit shown, as in 10**place

    def rounded(self, value: Any) -> float | None:
        number = finite(value)
        return None if number is None else float(f"{number:.{self.digits}g}")

    def value(self, value: Any) -> str:
        if finite(value) is None or isinstance(value, int):
            return format_value(value)
        return f"{self.rounded(value):.{self.digits}g}"

    def delta(self, value: Any, base: Any) -> tuple[str, float | None]:
        """The difference of the two numbers as shown (so that it agrees with them), and its sign's number."""
        shown, baseline = self.rounded(value), self.rounded(base)
        if shown is None or baseline is None:
            return "", None
        delta = round(shown - baseline, max(0, -self.place))
        if delta == 0:
            return "±0", 0.0
        text = f"{delta:+.{max(0, -self.place)}f}"
        return (text.rstrip("0").rstrip(".") if "." in text else text), delta


def significant_digits(values: Sequence[Any], least: int = 3, most: int = 8) -> Rounding:
    """The fewest significant digits (at least ``least``) that keep apart the values that differ."""
    numbers = [number for number in map(finite, values) if number is not None]
    distinct = len(set(numbers))
    digits = least
    while digits < most and len({float(f"{number:.{digits}g}") for number in numbers}) < distinct:
        digits += 1
    largest = max((abs(number) for number in numbers if number), default=1.0)
    place = math.floor(math.log10(largest)) - digits + 1
    integral = all(float(number).is_integer() for number in numbers)
    return Rounding(digits, max(place, 0) if integral else place)


def marked(delta: tuple[str, float | None], goal: str | None) -> str:
    """A delta of the ranking metric with its mark: better or worse than the baseline."""
    text, number = delta
    if not number or goal is None:
        return text
    return f"{text} {BETTER if (number > 0) == (goal == 'maximize') else WORSE}"


def comment_rows(report: SweepReport) -> list[Row]:
    return report.ranked if len(report.ranked) <= MANY_TRIALS else report.ranked[:SHOWN_WHEN_MANY]


def ranking_table(report: SweepReport, rows: Sequence[Row]) -> Table:
    """The baseline, then ``rows`` ranked: varied params, the ranking metric with its marked delta, the other metrics."""
    ranking = report.ranking
    assert ranking is not None
    roundings = {metric: significant_digits([row.metrics.get(metric) for row in [report.baseline, *report.ranked]]) for metric in report.metrics}
    first, others = roundings[ranking.metric], report.metrics[1:]

    def cells(rank: str, row: Row, delta: str) -> list[str]:
        params = [format_value(row.params.get(param)) for param in report.varied]
        metrics = [roundings[metric].value(row.metrics.get(metric)) for metric in others]
        front = [str(report.pareto.fronts.get(row.name, "")) if rank else ""] if report.pareto else []
        return [rank, row.branch or row.name, *params, first.value(row.metrics.get(ranking.metric)), delta, *metrics, *front]

    base = report.baseline.metrics.get(ranking.metric)
    table_rows = [cells("", dataclasses.replace(report.baseline, branch="baseline"), "")]
    for rank, row in enumerate(rows, start=1):
        table_rows.append(cells(str(rank), row, marked(first.delta(row.metrics.get(ranking.metric), base), ranking.goal)))
    pareto = ["Pareto front"] if report.pareto else []
    return Table(["#", "trial", *report.varied, ranking.metric, "Δ vs baseline", *others, *pareto], table_rows)


def best_table(report: SweepReport, row: Row) -> Table:
    goal = report.ranking.goal if report.ranking else None
    rows = [[param, format_value(report.baseline.params.get(param)), format_value(row.params.get(param)), ""] for param in report.varied]
    for metric in report.metrics:
        base, value = report.baseline.metrics.get(metric), row.metrics.get(metric)
        rounding = significant_digits([base, value])
        mark_goal = goal if report.ranking and metric == report.ranking.metric else None
        rows.append([metric, rounding.value(base), rounding.value(value), marked(rounding.delta(value, base), mark_goal)])
    return Table(["", "baseline", row.name, "Δ"], rows)


def legend(chart: mermaid.Chart) -> Markup:
    return Markup(" · ".join(f"{square} {markdown_inline(name)}" for square, name in chart.legend))


def plot_section(plot: Plot, mode: str, image_urls: Mapping[str, str]) -> dict[str, Any]:
    """What the comment shows of one plot in ``mode``: a chart, an image link, a table, or its name."""
    chart = plot.chart if mode in ("mermaid", "both") else None
    url = image_urls.get(plot.file_name) if mode in ("images", "both") and plot.png else None
    table = plot.table if chart is None and url is None else None
    return {
        "title": plot.title,
        "chart": Markup(mermaid.render(chart)) if chart else None,
        "legend": legend(chart) if chart else None,
        "image": Markup(f"![{markdown_inline(plot.title)}]({url})") if url else None,
        "table": markdown_table_of(table) if table else None,
        "elsewhere": chart is None and url is None and table is None and bool(plot.png),
        "notes": plot.notes,
    }


def render_comment(
    report: SweepReport,
    plots: Sequence[Plot] = (),
    declared: Sequence[Plot] = (),
    mode: str = DEFAULT_PLOT_MODE,
    image_urls: Mapping[str, str] | None = None,
    full_report: str | None = None,  # Markup when it is a link gitexp built
    limit: int = COMMENT_LIMIT - SIZE_MARGIN,
) -> str:
    """The comment's Markdown, at most ``limit`` characters; ``full_report`` says where the full report is."""
    check_plot_mode(mode)
    urls = image_urls or {}
    sections = [plot_section(plot, mode, urls) for plot in plots]
    project = [plot_section(plot, mode, urls) for plot in declared]
    failed = report.failed
    cut = False
    while True:
        text = _render(report, sections, project, failed, full_report, cut)
        if len(text) <= limit:
            return text
        cut = True
        if project:
            project = project[:-1]
        elif sections:
            sections = sections[:-1]
        elif failed:
            failed = []
        else:
            return text[: limit - 200] + "\n\n*(cut at GitHub's size limit" + (f": the full report is {finalize_markdown(full_report)}" if full_report else "") + ")*\n"


def _render(report: SweepReport, sections, project, failed, full_report: str | None, cut: bool) -> str:
    rows = comment_rows(report)
    return template_environment(markdown=True).get_template("comment.md.j2").render(
        report=report,
        counts=", ".join(f"{count} {state}" for state, count in report.counts.items()) or "none yet",
        ranked=ranking_table(report, rows) if report.ranked else None,
        shown=len(rows),
        best=best_table(report, report.best) if report.best else None,
        failed=failed[:FAILED_SHOWN],
        failed_more=max(0, len(report.failed) - FAILED_SHOWN),
        sections=sections,
        project=project,
        full_report=full_report,
        cut=cut,
    )
