"""Results tables as text: CSV, Markdown, JSON, and a rich table for terminals."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rich.table import Table
from rich.text import Text

from gitexp.review.results import ResultsTable, Row


def format_value(value: Any) -> str:
    """A param or metric as people read it in a table or a line of output (floats to 6 digits, nothing as ``-``).

    ``sweep.format_literal`` writes values that read back as ``--set`` EXPRs instead.
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def row_label(row: Row) -> str:
    return f"{row.sweep} (baseline)" if row.is_baseline else f"{row.sweep}/{row.name}"


def _cells(table: ResultsTable, row: Row) -> list[str]:
    duration = "" if row.duration is None else f"{row.duration:.1f}s"
    return [
        row_label(row),
        row.status,
        duration,
        *(format_value(row.params.get(key)) for key in table.param_columns),
        *(format_value(row.metrics.get(key)) for key in table.metric_columns),
    ]


def _headers(table: ResultsTable) -> list[str]:
    return ["trial", "status", "duration", *table.param_columns, *table.metric_columns]


def to_json(table: ResultsTable) -> str:
    """One line, as dvc exp show --json prints it (and json's C encoder writes only without indent)."""
    return json.dumps(table.to_json(), ensure_ascii=False)


def to_csv(table: ResultsTable) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["sweep", "trial", "branch", "status", "duration", *table.param_columns, *table.metric_columns])
    for row in table.rows:
        writer.writerow(
            [
                row.sweep,
                row.name,
                row.branch or "",
                row.status,
                "" if row.duration is None else f"{row.duration:.2f}",
                *("" if row.params.get(key) is None else row.params[key] for key in table.param_columns),
                *("" if row.metrics.get(key) is None else row.metrics[key] for key in table.metric_columns),
            ]
        )
    return out.getvalue()


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table; pipes inside cells are escaped."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"

    return "\n".join([line(headers), line(["---"] * len(headers)), *(line(cells) for cells in rows)]) + "\n"


def to_markdown(table: ResultsTable) -> str:
    return markdown_table(_headers(table), [_cells(table, row) for row in table.rows])


STATUS_STYLES = {"succeeded": "green", "failed": "red", "running": "yellow", "queued": "dim", "cancelled": "magenta"}


def to_rich(table: ResultsTable) -> Table:
    rich_table = Table(show_lines=False, header_style="bold")
    for index, header in enumerate(_headers(table)):
        rich_table.add_column(header, justify="right" if index >= 2 else "left", no_wrap=index == 0)
    for row in table.rows:
        cells = [Text(cell) for cell in _cells(table, row)]  # Text: user values are never markup
        cells[1].stylize(STATUS_STYLES.get(row.status, ""))
        rich_table.add_row(*cells, style="bold" if row.is_baseline else None)
    return rich_table
