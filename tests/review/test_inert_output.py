"""Hostile text from real trials stays inert in every output: terminal, Markdown, CSV, JSON, HTML.

The ``hostile_project`` ran a real sweep whose param values, metric names and
string metrics carry Markdown links and images, raw HTML, bare URLs, a carriage
return, an OSC 8 hyperlink and other terminal controls, a bidi override and a
spreadsheet formula; one trial failed with a hostile log.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest

from gitexp.review.tables import WORD_JOINER, markdown_text, spreadsheet_cell
from gitexp.terminal import json_text, terminal_text
from tests.conftest import HOSTILE_EXPR, HOSTILE_TEXT, OSC8_LINK, markdown_tables

# What must never reach a terminal raw: C0 but tab and newline, DEL, C1, bidi controls.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Markdown that GitHub would render as something else than the text itself.
RAW_MARKDOWN = re.compile(r"(?<!\\)[<>\[\]`*]|(?<![\\])!\[|[A-Za-z]://|www\.|@(?!" + WORD_JOINER + ")")


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def cells(line: str) -> list[str]:
    return re.split(r"(?<!\\)\|", line)[1:-1]


def test_terminal_text_shows_every_control_but_tab_and_newline():
    assert terminal_text(OSC8_LINK) == "\\x1b]8;;http://e\\x07click\\x1b]8;;\\x07"
    assert terminal_text("a\rb\r\nc\td\x7f\x9b\u202e\u2066\x00") == "a\\x0db\nc\td\\x7f\\x9b\\u202e\\u2066\\x00"
    assert terminal_text("plain é ✓ 日本") == "plain é ✓ 日本"


def test_json_text_is_the_same_data_without_raw_controls():
    text = json.dumps({"v": "\x9b6n \u202eevil \x7f \x1b"}, ensure_ascii=False)
    assert json.loads(json_text(text)) == json.loads(text) and not RAW_CONTROL.search(json_text(text))


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("[x](http://e)", "\\[x\\](http:\u2060//e)"),
        ("![i](x.png)", "!\\[i\\](x.png)"),
        ("<img src=x onerror=alert(1)>", "\\<img src=x onerror=alert(1)\\>"),
        ("https://evil.example www.evil.example", "https:\u2060//evil.example www\u2060.evil.example"),
        ("a@evil.example @team", "a\\@\u2060evil.example \\@\u2060team"),
        ("cr\rsplit\nline", "cr split line"),
        ("\x1b[31m", "\\\\x1b\\[31m"),
    ],
)
def test_markdown_text_is_text_on_github(text, shown):
    assert markdown_text(text) == shown


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://e")', '\'=HYPERLINK("http://e")'), ("+1+cmd", "'+1+cmd"), ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("-0.5", "-0.5"), ("+1e-3", "+1e-3"),
        (-0.5, -0.5), ("plain", "plain"),
    ],
)  # fmt: skip
def test_spreadsheet_cells_are_never_formulas(value, cell):
    assert spreadsheet_cell(value) == cell


def test_show_md_of_hostile_trials(hostile_project, run_gitexp):
    result = run_gitexp(hostile_project.root, "show", "h", "--md")

    assert result.code == 0, result.err
    lines = table_lines(result.out)
    assert len(lines) == len(result.out.splitlines()) == 2 + 1 + len(HOSTILE_TEXT)  # a CR split no row
    assert len({len(cells(line)) for line in lines}) == 1, lines  # nor added a cell
    for line in lines:
        assert not RAW_MARKDOWN.search(line.replace("\\\\", "")), line
        assert not RAW_CONTROL.search(line), line
    assert "\\\\x1b\\]8;;http:\u2060//e\\\\x07click" in result.out  # the OSC 8 link shows as text


def test_show_on_a_terminal_and_status_print_no_control(hostile_project, run_gitexp):
    table = run_gitexp(hostile_project.root, "show", "h")
    status = run_gitexp(hostile_project.root, "status")

    assert table.code == 0 and status.code == 0
    assert not RAW_CONTROL.search(table.out) and not RAW_CONTROL.search(status.out)
    assert "\\x1b]8;;http://e\\x07click" in table.out and "\\u202eevil" in table.out
    assert "[m](http://e)" in table.out  # rich printed the metric name as text, not as [link] markup


def test_show_csv_writes_no_formula_and_no_control(hostile_project, run_gitexp):
    result = run_gitexp(hostile_project.root, "show", "h", "--csv")

    assert result.code == 0 and not RAW_CONTROL.search(result.out)
    header, *rows = list(csv.reader(io.StringIO(result.out)))
    assert '\'=HYPERLINK("http://e")' in header
    losses = [row[header.index("train.loss")] for row in rows]
    assert losses[2] == '\'=HYPERLINK("http://e")' and losses[1] == HOSTILE_TEXT[0]
    every_cell = [cell for row in [header, *rows] for cell in row]
    assert not [cell for cell in every_cell if cell[:1] in ("=", "+", "@", "\t", "\r")], every_cell


def test_show_json_keeps_the_raw_data(hostile_project, run_gitexp):
    result = run_gitexp(hostile_project.root, "show", "h", "--json")

    assert result.code == 0 and not RAW_CONTROL.search(result.out)
    trials = json.loads(result.out)["trials"]
    assert [trial["params"]["train.loss"] for trial in trials[1:]] == HOSTILE_TEXT
    assert trials[3]["metrics"]["note"] == HOSTILE_TEXT[2] and "\x1b]8;;http://e\x07m\x1b]8;;\x07" in trials[3]["metrics"]


def test_queue_and_check_print_no_control(project, run_gitexp):
    check = run_gitexp(project.root, "check", "--set", f"train.loss={HOSTILE_EXPR}")
    queue = run_gitexp(project.root, "queue", "--name", "q", "--set", f"train.loss={HOSTILE_EXPR}")

    assert check.code == 0 and queue.code == 0, (check.err, queue.err)
    for out in (check.out, queue.out):
        assert not RAW_CONTROL.search(out) and "\\x1b]8;;http://e\\x07click\\x1b]8;;\\x07" in out, out
    assert len(queue.out.splitlines()) == 2 + len(HOSTILE_TEXT)  # the CR in a value split no line


def test_an_error_naming_hostile_text_prints_no_control(project, run_gitexp):
    result = run_gitexp(project.root, "show", "--sort-by", OSC8_LINK)

    assert result.code == 2 and len(result.err.splitlines()) == 1 and not RAW_CONTROL.search(result.err)
    assert "\\x1b]8;;" in result.err


def test_logs_are_inert_unless_raw(hostile_project, run_gitexp):
    shown = run_gitexp(hostile_project.root, "logs", "h/t002")
    raw = run_gitexp(hostile_project.root, "logs", "h/t002", "--raw")

    assert shown.code == 0 and not RAW_CONTROL.search(shown.out)
    assert 'failed on =HYPERLINK("http://e") \\x1b]8;;http://e\\x07link\\x1b]8;;\\x07 \\x1b[2J' in shown.out
    assert "\x1b]8;;http://e\x07link\x1b]8;;\x07 \x1b[2J" in raw.out


def test_the_markdown_report_of_hostile_trials(hostile_project, run_gitexp, tmp_path):
    result = run_gitexp(hostile_project.root, "report", "h", "-o", str(tmp_path / "report.md"))

    assert result.code == 0, result.err
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert not RAW_CONTROL.search(text)
    outside_code = re.sub(r"(?ms)^(`{3,}).*?^\1$", "", text)
    for line in outside_code.splitlines():
        if line.startswith("!["):
            continue  # the plots' own image links, whose titles are escaped
        assert not RAW_MARKDOWN.search(line.replace("\\\\", "").replace("**", "")), line
    assert all(len({len(cells(line)) for line in table}) == 1 for table in markdown_tables(text))
    assert "\\x1b]8;;http://e\\x07link" in text  # the failed trial's log, in a code block, controls visible


def test_the_html_report_of_hostile_trials(hostile_project, run_gitexp):
    result = run_gitexp(hostile_project.root, "report", "h", "--format", "html")

    assert result.code == 0, result.err
    page = result.out
    assert "<img src=x" not in page and "<b>m</b>" not in page and not RAW_CONTROL.search(page)
    assert html.escape(HOSTILE_TEXT[0]) in page
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.S)  # the ui's scripts; the data is JSON, < escaped
    assert set(re.findall(r'href="([^"]*)"', markup)) <= {"data:,", "#table", "#run", "#report"}  # the page's own links only
    assert re.findall(r"<img [^>]*>", markup) and all(tag.startswith('<img src="data:image/png;base64,') for tag in re.findall(r"<img [^>]*>", markup))


