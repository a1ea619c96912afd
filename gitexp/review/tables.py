"""Results tables as text: CSV, Markdown, JSON, and a rich table for terminals."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from gitexp import collector
from gitexp.terminal import terminal_text

if TYPE_CHECKING:  # rich is imported by to_rich: status, --json and --csv never load it; results only by show
    from rich.console import Console
    from rich.table import Table

    from gitexp.review.results import ResultsTable, Row


STREAM_ROWS = 500  # rows per piece of streamed JSON and CSV


def format_value(value: Any) -> str:
    """A param or metric as people read it in a table or a line of output (floats to 6 digits, nothing as ``-``).

    ``sweep.scalars.format_literal`` writes values that read back as ``--set`` EXPRs instead.
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def row_label(row: Row) -> str:
    if row.is_baseline:
        return f"{row.sweep} (baseline)"
    return f"{row.sweep}/{row.name}" + (" (archived)" if row.archived else "")


def _cells(table: ResultsTable, row: Row) -> list[str]:
    duration = "" if row.duration is None else f"{row.duration:.1f}s"
    return [
        row_label(row),
        row.status,
        duration,
        *(format_value(row.params.get(key)) for key in table.param_columns),
        *(format_value(row.metrics.get(key)) for key in table.metric_columns),
        *([table.pareto_mark(row) or ""] if table.pareto else []),
    ]


def _headers(table: ResultsTable) -> list[str]:
    return ["trial", "status", "duration", *table.param_columns, *table.metric_columns, *(["pareto"] if table.pareto else [])]


def to_json(table: ResultsTable) -> str:
    """One line, as dvc exp show --json prints it (and json's C encoder writes only without indent).

    NaN and the infinities become null: dvc exp show --json prints them bare,
    which JSON does not allow and strict readers (jq, JSON.parse) refuse.
    """
    return "".join(json_chunks(table))


def strict_json_text(value: Any) -> str:
    """``value`` as one line of JSON, with NaN and the infinities as null."""
    return json.dumps(_strict_json(value), ensure_ascii=False, allow_nan=False)


def json_chunks(table: ResultsTable) -> Iterator[str]:
    """``to_json`` in pieces of a few hundred rows, for a reader to start on before the last row is encoded."""
    yield '{"trials": ['
    for start in range(0, len(table.rows), STREAM_ROWS):
        with collector.paused():
            rows = [table.row_json(row) for row in table.rows[start : start + STREAM_ROWS]]
            try:  # NaN is rare (a diverged loss): walk the rows only when the encoder finds one
                encoded = json.dumps(rows, ensure_ascii=False, allow_nan=False)[1:-1]
            except ValueError:
                encoded = json.dumps(_strict_json(rows), ensure_ascii=False, allow_nan=False)[1:-1]
        yield (", " if start else "") + encoded
    yield "]}"


def _strict_json(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(item) for item in value]
    return value


def to_csv(table: ResultsTable) -> str:
    return "".join(csv_chunks(table))


def csv_chunks(table: ResultsTable) -> Iterator[str]:
    """``to_csv`` in pieces of a few hundred rows (the header first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    headers = ["sweep", "trial", "branch", "status", "duration", *table.param_columns, *table.metric_columns]
    headers += ["pareto"] if table.pareto else []
    writer.writerow([spreadsheet_cell(header) for header in headers])
    for index, row in enumerate(table.rows):
        if index % STREAM_ROWS == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        writer.writerow(
            [
                spreadsheet_cell(cell)
                for cell in (
                    row.sweep,
                    row.name,
                    row.branch or "",
                    row.status,
                    "" if row.duration is None else f"{row.duration:.2f}",
                    *("" if row.params.get(key) is None else row.params[key] for key in table.param_columns),
                    *("" if row.metrics.get(key) is None else row.metrics[key] for key in table.metric_columns),
                    *([table.pareto_mark(row) or ""] if table.pareto else []),
                )
            ]
        )
    yield out.getvalue()


# A cell that a spreadsheet would evaluate (a formula, or a DDE command) begins with one of these.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def spreadsheet_cell(value: Any) -> Any:
    """``value`` for a CSV cell: text a spreadsheet would evaluate gets a leading ``'``, as OWASP
    advises against CSV injection; numbers, and text that is a plain number such as ``-0.5``, do not."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


# Characters that would make Markdown of user text: emphasis, code, links, HTML,
# entities, strikethrough, math and mentions (``_`` only where it can emphasise,
# not inside a word like train.n_est). ``|`` is left to ``markdown_table``.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>&~$@]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
# Where GitHub makes a link of plain text: ``scheme://``, ``www.`` and ``@`` (an e-mail
# address, a mention). A word joiner after the colon, before the dot and after the at sign
# shows nothing and stops each; a backslash would not stop the e-mail, since GitHub joins
# escaped text up again before it looks for addresses (cmark-gfm's autolink extension).
_AUTOLINK = re.compile(r"(?i)(?<=[a-z]:)(?=//)|(?<=www)(?=\.)|(?<=@)")
WORD_JOINER = "\u2060"


def markdown_text(value: Any) -> str:
    """``value`` as inline Markdown that shows as itself on GitHub: one line, special characters escaped,
    no autolink, controls and bidi overrides in their visible form as on a terminal."""
    text = terminal_text(" ".join((value if isinstance(value, str) else format_value(value)).split()))
    escaped = _MARKDOWN_SPECIAL.sub(lambda match: "\\" + match.group(0), text)
    return _AUTOLINK.sub(WORD_JOINER, escaped)


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table of cells already Markdown (``markdown_text``); pipes are escaped."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"

    return "\n".join([line(headers), line(["---"] * len(headers)), *(line(cells) for cells in rows)]) + "\n"


def to_markdown(table: ResultsTable) -> str:
    headers = [markdown_text(header) for header in _headers(table)]
    return markdown_table(headers, [[markdown_text(cell) for cell in _cells(table, row)] for row in table.rows])


STATUS_STYLES = {"succeeded": "green", "failed": "red", "running": "yellow", "queued": "dim", "cancelled": "magenta"}


def to_rich(table: ResultsTable) -> Table:
    from rich.table import Table
    from rich.text import Text

    rich_table = Table(show_lines=False, header_style="bold")
    for index, header in enumerate(_headers(table)):
        # Text: user values are never markup (a [link=...] would be an OSC 8 hyperlink), nor terminal controls
        column = Text(terminal_text(header))
        rich_table.add_column(column, justify="right" if index >= 2 else "left", no_wrap=index == 0)
    for row in table.rows:
        cells = [Text(terminal_text(cell)) for cell in _cells(table, row)]
        cells[1].stylize(STATUS_STYLES.get(row.status, ""))
        rich_table.add_row(*cells, style="bold" if row.is_baseline else None)
    return rich_table


def plain_text_chunks(table: ResultsTable, console: Console) -> Iterator[str] | None:
    """The lines ``console.print(to_rich(table))`` writes, drawn here in pieces of a few hundred rows, when the
    console writes no styles (a pipe, NO_COLOR) and every cell fits unwrapped; None when rich must lay it out.

    Rich lays out every cell of every row, a third of a millisecond each: 10,000 rows in a pipe took 4 s.
    """
    from rich import box
    from rich.cells import cell_len

    if console.color_system is not None:
        return None
    headers = [terminal_text(header) for header in _headers(table)]
    rows = [[terminal_text(cell) for cell in _cells(table, row)] for row in table.rows]
    if any(cell != cell.strip() or "\n" in cell or "\t" in cell for cells in [headers, *rows] for cell in cells):
        return None  # rich strips, wraps or expands these
    widths = [max(map(cell_len, column)) for column in zip(headers, *rows)]
    if sum(widths) + 3 * len(widths) + 1 > console.width:
        return None  # rich would wrap cells to fit
    drawn = box.HEAVY_HEAD.substitute(console.options, safe=console.safe_box)

    def line(cells: list[str], left: str, divider: str, right: str) -> str:
        padded = [
            " " + (text + " " * (width - cell_len(text)) if index < 2 else " " * (width - cell_len(text)) + text) + " "
            for index, (text, width) in enumerate(zip(cells, widths))
        ]
        return left + divider.join(padded) + right + "\n"

    def chunks() -> Iterator[str]:
        spaced = [width + 2 for width in widths]
        yield drawn.get_top(spaced) + "\n" + line(headers, drawn.head_left, drawn.head_vertical, drawn.head_right)
        yield drawn.get_row(spaced, "head") + "\n"
        for start in range(0, len(rows), STREAM_ROWS):
            yield "".join(
                line(cells, drawn.foot_left, drawn.foot_vertical, drawn.foot_right)
                if index == len(rows) - 1
                else line(cells, drawn.mid_left, drawn.mid_vertical, drawn.mid_right)
                for index, cells in enumerate(rows[start : start + STREAM_ROWS], start)
            )
        yield drawn.get_bottom(spaced) + "\n"

    return chunks()
