"""The plain table of ``show`` off a terminal: drawn by gitexp, the very text rich draws, or left to rich."""

import io

import pytest
from rich.console import Console

from gitexp.review.results import Pareto, ResultsTable, Row
from gitexp.review.tables import plain_text_chunks, to_rich


def console(width=240, **options) -> Console:
    """The console ``Environment.console`` makes off a terminal (a pipe, a CI log)."""
    return Console(file=io.StringIO(), highlight=False, soft_wrap=False, width=width, **options)


def rich_text(table: ResultsTable, out: Console) -> str:
    out.print(to_rich(table))
    return out.file.getvalue()


def varied_table(*extra: Row) -> ResultsTable:
    rows = [
        Row("s", "baseline", None, "", {"train.lr": 0.1, "model": "résumé"}, {}),
        Row("s", "t001", "exp/s/t001", "succeeded", {"train.lr": 0.25, "model": "中文モデル"}, {"acc": 0.912345678, "loss": None}, 1.25),
        Row("s", "t002", None, "failed", {"train.lr": True, "model": "e\u0301🙂"}, {"acc": float("nan")}, None, archived=True),
        Row("s", "t003", "exp/s/t003", "queued", {"train.lr": -1e-9, "model": "\x1b[31mred"}, {}, 0.0),
        *extra,
    ]
    return ResultsTable(rows, ["train.lr", "model"], ["acc", "loss", "very long metric name that widens its column"])


@pytest.mark.parametrize("rows", [0, 1, 4])
def test_plain_table_is_the_text_rich_prints(rows):
    table = varied_table()
    table.rows[:] = table.rows[:rows]
    out = console()
    assert "".join(plain_text_chunks(table, out)) == rich_text(table, console())


def test_plain_table_of_a_multi_objective_sweep_has_its_pareto_column_as_rich_draws_it():
    table = varied_table()
    table.pareto["s"] = Pareto((), {"t001": 1}, frozenset({"t003"}))
    assert "".join(plain_text_chunks(table, console())) == rich_text(table, console())


def test_many_rows_come_in_pieces_and_end_with_the_bottom_border():
    rows = [Row("s", f"t{index:04d}", f"exp/s/t{index:04d}", "succeeded", {"x": index}, {"y": index / 7}) for index in range(1, 1201)]
    table = ResultsTable(rows, ["x"], ["y"])
    chunks = list(plain_text_chunks(table, console()))
    assert len(chunks) > 3
    assert "".join(chunks) == rich_text(table, console())


@pytest.mark.parametrize(
    "table, out",
    [
        (varied_table(), console(width=60)),  # too wide: rich wraps cells
        (varied_table(Row("s", "t004", None, "succeeded", {"model": " padded "}, {})), console()),  # rich strips it
        (varied_table(Row("s", "t005", None, "succeeded", {"model": "two\nlines"}, {})), console()),
        (varied_table(Row("s", "t006", None, "succeeded", {"model": "a\tb"}, {})), console()),
        (varied_table(), console(color_system="standard", force_terminal=True)),  # styles: rich draws them
    ],
)
def test_tables_rich_must_lay_out_are_left_to_rich(table, out):
    assert plain_text_chunks(table, out) is None
